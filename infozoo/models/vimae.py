"""VIMAE: the Variational InfoMax AutoEncoder (anonymous, "The Variational InfoMax Autoencoder").

See ``docs/vimae.md``. Eq. 7 with ``D = MMD`` (§5) and the L2 reconstruction of the
appendix, per example::

    loss_i = ||x_i - g(f(x_i + nu_i))||_2^2 + lambda * MMD^2(q(z), p(z))

``p(z)`` is ``N(0, I)`` (VIMAE-n) or the unit-variance logistic (VIMAE-l). The
encoder ``f`` is deterministic and made random by adding pixel-wise Gaussian noise
``nu`` "truncated at 0.01" to its input *while training* (appendix); the decoder
``g`` is deterministic. The MMD is the unbiased multi-scale estimator of
``infozoo.losses.mmd`` between the global batch of codes (gathered across replicas) and
an equal number of prior draws; every example carries the batch value.
"""
import keras
import numpy as np
import tensorflow as tf

from infozoo.settings.hparams import stochastic as hp_specs
from infozoo.losses.priors import check_prior, sample_prior
from infozoo.models.base import register_model
from infozoo.models.stochastic import StochasticAutoencoder

def truncated_normal_noise(shape, std, bound, seed_gen, dtype=tf.float32):
    """``N(0, std^2)`` truncated to ``[-bound, bound]``, by the inverse CDF of a uniform draw
    (exact, no rejection loop). ``std = 0`` gives zeros."""
    if std <= 0 or bound <= 0:
        return tf.zeros(shape, dtype)
    c = float(0.5 * (1.0 + _erf(bound / (std * np.sqrt(2.0)))))   # Phi(bound / std)
    u = keras.random.uniform(shape, minval=1.0 - c, maxval=c, dtype=dtype, seed=seed_gen)
    return std * tf.math.ndtri(u)


def _erf(v):
    import math
    return math.erf(v)


@register_model("vimae")
class VIMAE(StochasticAutoencoder):
    """VIMAE-n / VIMAE-l (eq. 7, D = MMD).

    ``prior``: ``normal`` | ``logistic``; ``lam``: lambda of eq. 7; ``noise_std``,
    ``noise_clip``: the encoder's training input noise ``N(0, noise_std^2)`` truncated to
    ``[-noise_clip, noise_clip]`` (the appendix's "truncated at 0.01": both 0.01 here);
    ``mmd_kernel`` (``imq`` | ``rbf``), ``mmd_scales`` (``C = 2 d sigma^2 s`` per scale
    ``s``, as WAE). All of them: :data:`infozoo.settings.hparams.stochastic.VIMAE`. Terms: ``loss``,
    ``recon``, ``mmd``.
    """

    hparams = hp_specs.VIMAE
    gaussian_encoder = False
    term_names = ("loss", "recon", "mmd")
    random_terms = ("loss", "mmd")

    def __init__(self, input_shape=(28, 28, 1), **kwargs):
        if "k" in kwargs and kwargs.pop("k") != 1:
            raise ValueError("VIMAE's encoder is deterministic (one code per input): k must "
                             "be 1")
        super().__init__(input_shape=input_shape, **kwargs)
        self.prior_name = check_prior(self.hp["prior"])

    def perturb_input(self, x, training):
        """``x + nu`` while training (appendix: pixel-wise Gaussian noise truncated at 0.01)."""
        if not training:
            return x
        return x + self.batch_noise(
            lambda s: truncated_normal_noise(s, self.hp["noise_std"], self.hp["noise_clip"],
                                             self.seed_gen, x.dtype), tf.shape(x))

    def regularizer(self, x, codes, training):
        """``lambda * MMD^2(q(z), p(z))`` (eq. 7 with D = MMD, eq. 13), on the global batch
        of codes (gathered across replicas)."""
        z = codes["mu"]
        d = self.global_mmd(
            z, lambda n: sample_prior(self.prior_name, n, self.code_size, self.seed_gen, z.dtype),
            self.hp["mmd_kernel"], self.hp["mmd_scales"]) * tf.ones_like(z[:, 0])
        return self.hp["lam"] * d, {"mmd": d}
