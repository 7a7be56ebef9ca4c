"""The shared base of the stochastic-encoder family: IPAE, the (beta-)VAE and VIMAE.

As in disentanglement_lib, the base computes the shared parts once -- the
encoder (a Gaussian head ``(mu, sigma)`` with the reparameterisation trick, or a
deterministic code), ``K`` samples of the code, the decoder and the
reconstruction loss, the analytic KL of Gaussian encoders -- and each model
fills in one hook, ``regularizer``, that returns its weighted penalty and the
terms to log. See ``docs/ipae.md`` and ``docs/vimae.md``.

#### Encoder (IPAE eq. 3; Kingma & Welling 2014)

``z = mu(x) + sigma(x) * eps``, ``eps ~ N(0, I)``, with ``mu`` and ``sigma`` from one
dense head on the encoder trunk (``infozoo.nets.encoders``):
``sigma = softplus(s) + min_sigma`` (bounded below, so the ``1 / sigma_j^2`` of IPAE
eq. 10 stays finite, and without the exponential blow-up of ``exp(log_var / 2)``
that made the paper's small-beta VAEs fail, IPAE §4.2). ``encode(x)`` is the mean
``mu(x)`` (deterministic; what the SavedModel's ``encode`` returns). VIMAE has a
deterministic encoder instead (``gaussian_encoder = False``).

#### Reconstruction losses ``d(x, x_hat)`` (per example)

``mse``: mean over the input's values of ``(x - x_hat)^2`` (IPAE §4.1 "mean square
error"); ``l2``: their sum, ``||x - x_hat||_2^2`` (VIMAE appendix, WAE); ``bce``:
``-sum [x log x_hat + (1 - x) log(1 - x_hat)]`` (IPAE §4.2), computed from the
decoder's logits (needs ``output="sigmoid"``); ``l1``: mean of ``|x - x_hat|`` (as the
INN-AE's ``l1`` in this repo). With ``K`` samples of ``eps`` the loss is averaged over
the samples (IPAE eq. 11's ``1/K sum_k``).
"""
import keras
import numpy as np
import tensorflow as tf

from infozoo.util.batching import batched
from infozoo.settings.hparams import stochastic as hp_specs
from infozoo.losses.priors import gaussian_kl_to_standard_normal, make_prior, sample_prior
from infozoo.models.base import ZooModel
from infozoo.nets.encoders import make_encoder_decoder

RECON_LOSSES = hp_specs.STOCHASTIC["recon"].choices


def reconstruction_loss(kind, x, logits, output):
    """Per-example ``d(x, x_hat)`` of ``kind`` in ``RECON_LOSSES``, ``x_hat = output(logits)``."""
    b = tf.shape(x)[0]
    x = tf.reshape(x, [b, -1])
    logits = tf.reshape(logits, [b, -1])
    if kind == "bce":  # IPAE §4.2: -sum_i x_i log x~_i + (1 - x_i) log(1 - x~_i), from logits
        return tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), 1)
    x_hat = tf.sigmoid(logits) if output == "sigmoid" else logits
    err = x_hat - x
    if kind == "mse":
        return tf.reduce_mean(tf.square(err), 1)
    if kind == "l2":  # VIMAE appendix: ||x - x_g||_2^2
        return tf.reduce_sum(tf.square(err), 1)
    if kind == "l1":
        return tf.reduce_mean(tf.abs(err), 1)
    raise ValueError(f"recon must be one of {', '.join(RECON_LOSSES)}, got {kind!r}")


class StochasticAutoencoder(ZooModel):
    """Base of IPAE, VAE and VIMAE; subclasses implement ``regularizer``.

    Hyperparameters: :data:`infozoo.settings.hparams.stochastic.STOCHASTIC` (type, default, help
    and bounds of each; the values are in ``self.hp``).
    """

    #: Gaussian head (mu, sigma) with the reparameterisation trick; False: deterministic code
    gaussian_encoder = True
    #: the prior ``p(z)`` used by ``sample`` and the ``mmd_prior`` metric
    prior_name = "normal"
    can_sample = True
    hparams = hp_specs.STOCHASTIC

    def __init__(self, input_shape=(28, 28, 1), **kwargs):
        super().__init__(input_shape=input_shape, **kwargs)
        hp = self.hp
        if hp["recon"] == "bce" and hp["output"] != "sigmoid":
            raise ValueError("recon 'bce' (Bernoulli cross-entropy) needs output 'sigmoid'")
        self.k = hp.get("k", 1)  # VIMAE's encoder is deterministic: no k
        self.encoder, self.decoder = make_encoder_decoder(
            hp["arch"], self.image_shape, hp["code_size"], hp["hidden"], hp["activation"],
            hp["enc_channels"], hp["dec_channels"], hp["kernel_size"], hp["batch_norm"])
        features = int(self.encoder.compute_output_shape((None, *self.image_shape))[-1])
        width = 2 * self.hp["code_size"] if self.gaussian_encoder else self.hp["code_size"]
        self.head = keras.layers.Dense(width, name="code_head")
        self.head.build((None, features))
        self.seed_gen = keras.random.SeedGenerator(self.hp["seed"])

    # -- encoder / decoder -----------------------------------------------------------
    @property
    def code_size(self):
        return self.hp["code_size"]

    def perturb_input(self, x, training):
        """Hook: the encoder's input (VIMAE adds noise while training). Default: ``x``."""
        return x

    def encoder_params(self, x, training=False):
        """``(mu, sigma)`` ``[B, d]`` of ``q(z|x)`` (``sigma`` is None for a deterministic code)."""
        x = tf.convert_to_tensor(x, self.compute_dtype)
        h = self.head(self.encoder(self.perturb_input(x, training), training=training))
        h = tf.cast(h, self.compute_dtype)  # float32 under a mixed policy
        if not self.gaussian_encoder:
            return h, None
        mu, s = tf.split(h, 2, axis=-1)
        return mu, tf.nn.softplus(s) + self.hp["min_sigma"]

    def _encode(self, x, training=False):
        """The code: ``mu(x)`` for Gaussian encoders (no sampling), ``z(x)`` otherwise."""
        return self.encoder_params(x, training)[0]

    def decoder_logits(self, z, training=False):
        out = self.decoder(tf.convert_to_tensor(z, self.compute_dtype), training=training)
        return tf.cast(out, self.compute_dtype)  # float32 under a mixed policy

    def _decode(self, z, training=False):
        out = self.decoder_logits(z, training)
        return tf.sigmoid(out) if self.hp["output"] == "sigmoid" else out

    def sample_codes(self, x, training=False):
        """``{"mu", "sigma", "eps" [B, K, d], "z" [B, K, d]}``: ``z = mu + sigma * eps``
        (IPAE eq. 3); a deterministic encoder gives ``z = mu`` with ``K = 1``."""
        mu, sigma = self.encoder_params(x, training)
        if sigma is None:
            return {"mu": mu, "sigma": None, "eps": None, "z": mu[:, None, :]}
        shape = tf.stack([tf.shape(mu)[0], self.k, self.code_size])
        eps = self.batch_noise(lambda s: keras.random.normal(s, dtype=mu.dtype,
                                                             seed=self.seed_gen), shape)
        return {"mu": mu, "sigma": sigma, "eps": eps,
                "z": mu[:, None, :] + sigma[:, None, :] * eps}          # eq. 3

    # -- the objective ---------------------------------------------------------------
    def regularizer(self, x, codes, training):
        """Hook: ``(weighted penalty [B], {term name: [B]})`` added to the reconstruction.

        ``codes``: ``sample_codes``' dict, plus ``"kl"`` (the analytic rate, eq. 5) for
        Gaussian encoders."""
        raise NotImplementedError(f"{type(self).__name__} must implement regularizer")

    #: weight of the reconstruction term in ``loss`` (IPAE's eq. 11 halves it)
    recon_weight = 1.0

    def _loss_terms(self, x, training=False):
        """``loss = recon_weight * recon + regularizer``, per example. ``recon`` is
        ``1/K sum_k d(x, g(z_k))``."""
        x = tf.convert_to_tensor(x, self.compute_dtype)
        codes = self.sample_codes(x, training)
        z = codes["z"]
        kk = tf.shape(z)[1]
        logits = self.decoder_logits(tf.reshape(z, [-1, self.code_size]), training)
        rec = reconstruction_loss(self.hp["recon"], tf.repeat(x, kk, axis=0), logits,
                                  self.hp["output"])
        recon = tf.reduce_mean(tf.reshape(rec, [-1, kk]), 1)           # 1/K sum_k d(x_i, g(z_ik))
        terms = {"recon": recon}
        if codes["sigma"] is not None:                                  # the rate, eq. 5
            codes["kl"] = terms["kl"] = gaussian_kl_to_standard_normal(codes["mu"],
                                                                        codes["sigma"])
        penalty, extra = self.regularizer(x, codes, training)
        terms.update(extra)
        terms["loss"] = self.recon_weight * recon + penalty
        return {name: terms[name] for name in self.term_names}

    # -- sampling ------------------------------------------------------------------
    def _sample(self, n, temperature, seed):
        """``decode(temperature * z)``, ``z ~ p(z)`` (the prior of ``prior_name``)."""
        z = sample_prior(self.prior_name, n, self.code_size, seed, self.compute_dtype)
        return self._decode(tf.cast(temperature, self.compute_dtype) * z)

    # -- evaluation ----------------------------------------------------------------
    def aggregate_codes(self, x, batch_size=500, seed=0):
        """Draws of the aggregate posterior ``q(z) = 1/N sum_i q(z|x_i)`` (one per input), numpy."""
        rng = np.random.RandomState(seed)

        def draw(b):
            mu, sigma = self.encoder_params(b)
            mu = np.asarray(mu, np.float64)
            return mu if sigma is None else mu + np.asarray(sigma, np.float64) * rng.normal(
                size=mu.shape)
        return batched(draw, x, batch_size)

    def evaluator(self, **kwargs):
        """:class:`infozoo.evaluation.evaluators.StochasticEvaluator`: MMD to the prior, toy25's E, the
        linear-SVM robustness table, samples and scatters."""
        from infozoo.evaluation.evaluators import StochasticEvaluator
        return StochasticEvaluator(self, **kwargs)

