"""Maximum mean discrepancy, written once for every model that needs it.

Unbiased estimator (Gretton et al. 2012, eq. 3) with the multi-scale inverse
multiquadratic kernel of WAE (Tolstikhin et al. 2018): ``k(x, y) = sum_s C_s /
(C_s + ||x - y||^2)`` with ``C_s = 2 * d * sigma^2 * s`` for the scales
``s in (0.1, 0.2, 0.5, 1, 2, 5, 10)``, as WAE's code does (``C_base = 2 * zdim * sigma2_p``,
times each scale; ``sigma^2`` the prior's variance, 1 for both of infozoo's priors), so the
kernel widths span 0.2 d to 20 d; an RBF kernel ``exp(-||x - y||^2 / C_s)`` is the option.
"""
import tensorflow as tf

from infozoo.settings.hparams.stochastic import MMD_SCALES as DEFAULT_SCALES  # WAE's scales


def _sq_dists(a, b):
    aa = tf.reduce_sum(a * a, 1)[:, None]
    bb = tf.reduce_sum(b * b, 1)[None, :]
    return tf.maximum(aa + bb - 2.0 * tf.matmul(a, b, transpose_b=True), 0.0)


def kernel_matrix(a, b, kernel="imq", scales=DEFAULT_SCALES, prior_var=1.0):
    d2 = _sq_dists(a, b)
    dim = tf.cast(tf.shape(a)[1], a.dtype)
    k = tf.zeros_like(d2)
    for s in scales:
        c = 2.0 * dim * prior_var * s                                    # WAE: C_base * scale
        if kernel == "imq":
            k += c / (c + d2)
        elif kernel == "rbf":
            k += tf.exp(-d2 / c)
        else:
            raise ValueError(f"unknown MMD kernel {kernel!r}: use 'imq' or 'rbf'")
    return k


def mmd(x, y, kernel="imq", scales=DEFAULT_SCALES):
    """Unbiased MMD^2 between samples ``x [n, d]`` and ``y [m, d]`` (n, m >= 2)."""
    x = tf.reshape(x, [tf.shape(x)[0], -1])
    y = tf.reshape(tf.cast(y, x.dtype), [tf.shape(y)[0], -1])
    n = tf.cast(tf.shape(x)[0], x.dtype)
    m = tf.cast(tf.shape(y)[0], x.dtype)
    kxx = kernel_matrix(x, x, kernel, scales)
    kyy = kernel_matrix(y, y, kernel, scales)
    kxy = kernel_matrix(x, y, kernel, scales)
    off = lambda k: tf.reduce_sum(k) - tf.linalg.trace(k)  # noqa: E731
    return (off(kxx) / (n * (n - 1.0)) + off(kyy) / (m * (m - 1.0))
            - 2.0 * tf.reduce_mean(kxy))
