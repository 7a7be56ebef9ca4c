"""Latent priors as TFP distributions, and the analytic Gaussian KL, written once.

- ``normal``: the standard normal ``N(0, I)`` (VAE, beta-VAE, VIMAE-n).
- ``logistic``: independent logistic coordinates with zero mean and unit
  variance (VIMAE-l, VIMAE appendix "a logistic with mean zero and identity
  variance"). A logistic with scale ``s`` has variance ``s^2 pi^2 / 3``, so
  unit variance needs ``s = sqrt(3) / pi ~= 0.5513``.

Both are ``tfd.Independent`` over the last axis, so ``log_prob`` of a
``[batch, d]`` tensor is ``[batch]``. Samples are drawn with TFP's stateless
sampler from a Keras ``SeedGenerator`` so training stays reproducible.
"""
import math

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

PRIORS = ("normal", "logistic")
LOGISTIC_UNIT_SCALE = math.sqrt(3.0) / math.pi  # Var = s^2 pi^2 / 3 = 1


def check_prior(name):
    if name not in PRIORS:
        raise ValueError(f"prior must be one of {', '.join(PRIORS)}, got {name!r}")
    return name


def make_prior(name, dim, dtype=tf.float32):
    """The prior ``p(z)`` of ``dim`` independent coordinates: ``normal`` or ``logistic``."""
    check_prior(name)
    loc = tf.zeros([int(dim)], dtype)
    if name == "normal":
        base = tfd.Normal(loc=loc, scale=tf.ones_like(loc))
    else:
        base = tfd.Logistic(loc=loc, scale=tf.fill([int(dim)], tf.constant(LOGISTIC_UNIT_SCALE,
                                                                         dtype)))
    return tfd.Independent(base, reinterpreted_batch_ndims=1, name=f"{name}_prior")


def sample_prior(name, n, dim, seed_gen=None, dtype=tf.float32):
    """``[n, dim]`` draws of the prior; stateless and reproducible with a Keras ``SeedGenerator``
    or an int seed (``seed_gen=None``: TF's global stateful generator, as in exported
    ``sample`` endpoints)."""
    dist = make_prior(name, dim, dtype)
    if seed_gen is None:
        seed = None
    elif isinstance(seed_gen, int):
        seed = tf.constant([seed_gen, 0], tf.int32)
    elif isinstance(seed_gen, (tf.Tensor, tf.Variable)):  # a SavedModel endpoint's seed input
        seed = tf.stack([tf.cast(seed_gen, tf.int32), tf.constant(0, tf.int32)])
    else:
        seed = tf.cast(seed_gen.next(), tf.int32)
    return dist.sample(n, seed=seed)


def gaussian_kl_to_standard_normal(mu, sigma):
    """Per-example ``KL(N(mu, diag sigma^2) || N(0, I))`` (IPAE eq. 5; Kingma & Welling App. B).

    ``0.5 * sum_d (mu_d^2 + sigma_d^2 - log sigma_d^2 - 1)``. IPAE eq. 5 as printed writes
    ``... - log|diag(sigma^2)| - 1`` with a single ``-1``; summing the per-coordinate KL gives
    ``-d`` (``-1`` per coordinate), which is what is implemented (the garbled ``-1`` is a
    constant and does not change the gradients).
    """
    var = tf.square(sigma)
    return 0.5 * tf.reduce_sum(tf.square(mu) + var - tf.math.log(var) - 1.0, axis=-1)  # eq. 5
