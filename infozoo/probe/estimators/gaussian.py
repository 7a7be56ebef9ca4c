"""``gaussian``: Shannon MI of the Gaussian with the batch's joint covariance.

#### Mathematical details

    I(X; Y) = 1/2 (log det S_xx + log det S_yy - log det S)        (nats)

with ``S`` the joint correlation matrix of ``(x, y)`` (MI is unchanged by scaling a
dimension), shrunk towards the identity, ``(1 - a) S + a I``, so it stays positive
definite when the total dimension ``d`` comes close to ``n``. ``a`` is the Ledoit-Wolf
(2004) intensity (``shrinkage="ledoit-wolf"``), a number in ``[0, 1]``, or, by default
(``"auto"``), Ledoit-Wolf only when ``n < 4 d`` or the sample correlation matrix is
numerically singular (smallest eigenvalue below ``1e-8``: a layer that is an exact
linear function of the other side, whose Gaussian MI is infinite) and 0 otherwise:
Ledoit-Wolf minimises a
Frobenius loss, not the log-determinant's, and at ``d = 50, n = 1000`` it shrank a
correlation of 0.9 enough to halve the MI. Unshrunk, the sample log-determinants get the
exact Gaussian bias correction (``bias_correct``, default on; Ince et al. 2017, after
Oyman et al.): ``E log det S_k = log det Sigma_k + k log(2 / (n-1)) + sum_{i=1..k}
psi((n - i) / 2)`` for ``S_k`` the ``k``-dimensional unbiased sample covariance.
Exact for Gaussian pairs; a lower bound-like *linear* baseline otherwise (it sees only
second moments: MI carried by non-linear dependence is invisible to it). The core,
covariance and Cholesky log-determinants, is a float64 ``tf.function``.
"""
import math

import numpy as np

from infozoo.probe.estimators import base

_CORE = []


def _core():
    if _CORE:
        return _CORE[0]
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def core(z, dx, shrink, correct, auto):
        """``z`` standardised ``[n, d]`` (float64); ``shrink < 0``: Ledoit-Wolf."""
        n = tf.cast(tf.shape(z)[0], tf.float64)
        p = tf.cast(tf.shape(z)[1], tf.float64)
        s = tf.matmul(z, z, transpose_a=True) / n
        eye = tf.eye(tf.shape(z)[1], dtype=tf.float64)
        mu = tf.linalg.trace(s) / p
        d2 = tf.reduce_sum(tf.square(s - mu * eye))
        b2 = (tf.reduce_sum(tf.square(tf.reduce_sum(z * z, axis=1))) / n
              - tf.reduce_sum(tf.square(s))) / n
        lw = tf.where(d2 > 0, tf.minimum(tf.maximum(b2, 0.0), d2) / tf.maximum(d2, 1e-300), 0.0)
        singular = tf.reduce_min(tf.linalg.eigvalsh(s)) < 1e-8
        a = tf.where(shrink < 0, lw, tf.where(tf.logical_and(auto, singular), lw, shrink))
        s = (1.0 - a) * s + a * mu * eye
        logdet = lambda m: 2.0 * tf.reduce_sum(tf.math.log(  # noqa: E731
            tf.linalg.diag_part(tf.linalg.cholesky(m))))
        def bias(k):  # E log det of the n-normalised sample covariance minus the true one
            i = tf.range(1, k + 1, dtype=tf.float64)
            return (tf.reduce_sum(tf.math.digamma((n - i) / 2.0))
                    + tf.cast(k, tf.float64) * tf.math.log(2.0 / n))
        p_ = tf.shape(z)[1]
        corr = tf.where(tf.logical_and(correct, tf.equal(a, 0.0)),
                        bias(dx) + bias(p_ - dx) - bias(p_), 0.0)
        mi = 0.5 * (logdet(s[:dx, :dx]) + logdet(s[dx:, dx:]) - logdet(s) - corr)
        return mi / math.log(2.0), a

    _CORE.append(core)
    return core


class Gaussian:
    """``gaussian``: options ``shrinkage`` (``"auto"``, ``"ledoit-wolf"`` or a number in
    [0, 1]) and ``bias_correct`` (True)."""
    name = "gaussian"
    shannon = True
    deterministic = True
    uses_x = True

    def __init__(self, shrinkage="auto", bias_correct=True):
        self.bias_correct = bool(bias_correct)
        if shrinkage in ("ledoit-wolf", "auto"):
            self.shrink = shrinkage
        else:
            try:
                self.shrink = float(shrinkage)
            except (TypeError, ValueError):
                raise ValueError(f"gaussian: shrinkage must be 'auto', 'ledoit-wolf' or a number in "
                                 f"[0, 1], got {shrinkage!r}") from None
            if not 0.0 <= self.shrink <= 1.0:
                raise ValueError(f"gaussian: shrinkage must be in [0, 1], got {shrinkage}")
        self.options = {"shrinkage": shrinkage, "bias_correct": self.bias_correct}

    def __call__(self, x, y, strategy=None):
        import tensorflow as tf
        x, y = base.check_pair(x, y, dtype=np.float64, min_n=3)
        z = np.concatenate([x, y], axis=1)
        z = z - z.mean(axis=0)
        sd = z.std(axis=0)
        z = z / np.where(sd > 0, sd, 1.0)
        z[:, sd == 0] = 0.0
        const = sd == 0  # a constant dimension carries nothing: drop it
        dx = int((~const[:x.shape[1]]).sum())
        z = z[:, ~const]
        if dx == 0 or dx == z.shape[1]:
            return 0.0, None
        shrink = self.shrink
        auto = shrink == "auto"
        if auto:
            shrink = "ledoit-wolf" if len(z) < 4 * z.shape[1] else 0.0
        shrink = -1.0 if shrink == "ledoit-wolf" else shrink
        mi, a = _core()(tf.constant(z), dx, tf.constant(shrink, tf.float64),
                        tf.constant(self.bias_correct), tf.constant(auto))
        return float(mi), None
