"""IPAE: Information Potential Auto-Encoder (Zhang, Ozay, Sun, Okatani).

See ``docs/ipae.md``. Objective (eq. 2 with eq. 10, i.e. eq. 11), per example ``i``::

    loss_i = 1/K sum_k d(x_i, g(mu_i + sigma_i * eps_ik))
             + beta * 1/(2 K N_j) sum_k sum_{j in J(i)}
                      ||(mu_j - mu_i - sigma_i * eps_ik) / sigma_j||^2

Eq. 11 as printed puts ``d`` inside the triple sum with the factor ``1/(2 K N^2)``,
which weighs the reconstruction by 1/2. This implementation is eq. 11 literally::

    loss_i = 1/2 * 1/K sum_k d(x_i, g(z_ik)) + beta * b_i

so ``beta`` is the paper's (an objective ``recon + beta' b`` would need ``beta' = 2 beta``).

The reported ``info_bound`` is the bound on ``I(x; z)`` in nats: eq. 10 minus ``d/2``. Eq. 9
drops the ``e`` of the Gaussian entropy (``H(z|x) = 1/2 log|2 pi e diag sigma^2|``), so eq. 10
exceeds the bound it derives by ``d/2`` nats: an encoder that carries no information
(``mu`` constant, ``sigma = 1``) has eq. 10 = ``d/2`` in expectation and ``info_bound`` = 0.
The loss uses eq. 10 as printed (the constant changes no gradient).
"""
import tensorflow as tf

from infozoo.distribute import strategy as distribute
from infozoo.settings.hparams import stochastic as hp_specs
from infozoo.losses.information import pairwise_information_bound
from infozoo.models.base import register_model
from infozoo.models.stochastic import StochasticAutoencoder
from infozoo.util import draws


@register_model("ipae")
class IPAE(StochasticAutoencoder):
    """Stochastic autoencoder regularised by the non-parametric bound of I(x; z) (eq. 10).

    ``beta``: weight of the bound (eq. 2). ``nj``: partners ``j`` of each example
    (``N_j``; 1 as in §4.1, several, or 0 = the whole batch). ``k``: samples of eps per
    example (``K``; the paper uses 1). ``bank_size``: how many recent training
    ``(mu_j, sigma_j)`` are kept for ``sample``, which draws from the non-parametric
    ``p(z) ~= 1/N sum_j q(z | x_j)`` of eq. 6 (IPAE defines no prior; before training the
    bank holds ``N(0, I)`` components).

    Terms: ``loss`` (eq. 11), ``recon``, ``info_bound`` (per example: eq. 10 minus ``d/2``,
    the corrected bound of ``I(x; z)`` in nats), ``kl`` (the VAE rate of eq. 5, logged for
    comparison only).
    """

    term_names = ("loss", "recon", "info_bound", "kl")
    hparams = hp_specs.IPAE
    recon_weight = 0.5                                                         # eq. 11
    random_terms = ("loss", "recon", "info_bound")

    def __init__(self, input_shape=(28, 28, 1), **kwargs):
        super().__init__(input_shape=input_shape, **kwargs)
        d = self.code_size
        self.bank_mu = self.add_weight(shape=(self.hp["bank_size"], d), initializer="zeros",
                                       trainable=False, aggregation="only_first_replica",
                                       name="bank_mu")
        self.bank_sigma = self.add_weight(shape=(self.hp["bank_size"], d), initializer="ones",
                                          trainable=False, aggregation="only_first_replica",
                                          name="bank_sigma")
        self.bank_count = self.add_weight(shape=(), initializer="zeros", dtype="int32",
                                          trainable=False, aggregation="only_first_replica",
                                          name="bank_count")

    def regularizer(self, x, codes, training):
        """``beta * b_i`` with ``b_i`` the per-example eq. 10 bound over the global batch
        (codes gathered across replicas); fills the sample bank."""
        n = tf.shape(codes["mu"])[0]
        # over the global batch: partners j may live on other replicas
        mu, sigma, eps = (distribute.gather_batch(codes[k]) for k in ("mu", "sigma", "eps"))
        bound = distribute.own_rows(pairwise_information_bound(mu, sigma, eps, self.hp["nj"]), n)
        if training:                                                           # eq. 10 ^
            self._remember(tf.stop_gradient(mu), tf.stop_gradient(sigma))
        corrected = bound - 0.5 * tf.cast(self.code_size, bound.dtype)        # eq. 9 with e
        return self.hp["beta"] * bound, {"info_bound": corrected}                    # eq. 11

    def _remember(self, mu, sigma):
        """Ring buffer of the latest ``bank_size`` training ``(mu, sigma)``."""
        m = self.hp["bank_size"]
        mu, sigma = mu[-m:], sigma[-m:]
        n = tf.shape(mu)[0]
        count = tf.convert_to_tensor(self.bank_count)
        idx = ((count % m) + tf.range(n)) % m
        self.bank_mu.assign(tf.tensor_scatter_nd_update(tf.convert_to_tensor(self.bank_mu),
                                                        idx[:, None], mu))
        self.bank_sigma.assign(tf.tensor_scatter_nd_update(
            tf.convert_to_tensor(self.bank_sigma), idx[:, None], sigma))
        self.bank_count.assign(tf.minimum(count + n, 2 ** 30))

    def _sample(self, n, temperature, seed):
        """``decode(mu_j + temperature * sigma_j * eps)``, ``j`` uniform over the bank (eq. 6)."""
        filled = tf.minimum(tf.convert_to_tensor(self.bank_count), self.hp["bank_size"])
        m = tf.where(filled > 0, filled, self.hp["bank_size"])
        j = draws.randint([n], m, draws.sub_seed(seed, 0))
        eps = draws.normal([n, self.code_size], self.compute_dtype, draws.sub_seed(seed, 1))
        t = tf.cast(temperature, self.compute_dtype)
        z = tf.gather(self.bank_mu, j) + t * tf.gather(self.bank_sigma, j) * eps
        return self._decode(z)

