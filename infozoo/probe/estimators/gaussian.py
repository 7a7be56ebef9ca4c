"""``gaussian``: Shannon MI of the Gaussian with the batch's joint covariance.

#### Mathematical details

    I(X; Y) = 1/2 (log det S_xx + log det S_yy - log det S)        (nats)

with ``S`` the joint correlation matrix of ``(x, y)`` (MI is unchanged by scaling a
dimension). Unshrunk, the sample log-determinants get the exact Gaussian bias correction
(``bias_correct``, default on; Ince et al. 2017, after Oyman et al.): ``E log det S_k =
log det Sigma_k + k log(2 / (n-1)) + sum_{i=1..k} psi((n - i) / 2)`` for ``S_k`` the
``k``-dimensional unbiased sample covariance; the corrected figure is unbiased for a
Gaussian pair at any ``n > d``.

Shrinkage towards the identity, ``(1 - a) S + a I``, keeps ``S`` positive definite when
``d`` comes close to ``n``. ``a`` is the Ledoit-Wolf (2004) intensity
(``shrinkage="ledoit-wolf"``), a number in ``[0, 1]``, or, by default (``"auto"``),
Ledoit-Wolf only where the unshrunk figure does not exist: ``n < d + 10`` or a numerically
singular correlation matrix (smallest eigenvalue below ``1e-8``: a layer that is an exact
linear function of the other side, whose Gaussian MI is infinite). Ledoit-Wolf minimises a
Frobenius loss, not the log-determinant's: it shrinks the cross-correlations that carry the
MI (at 40 + 40 dimensions, n = 300, a 29.5-bit Gaussian read 11.2 bits shrunk; the earlier
rule, shrink whenever ``n < 4 d``, did that). Every figure reports both
(``Estimate.extra``: ``shrinkage`` used, ``unshrunk`` and ``ledoit_wolf`` values; ``unshrunk``
is None where it does not exist).

Exact for Gaussian pairs; a lower bound-like *linear* baseline otherwise (it sees only
second moments: MI carried by non-linear dependence is invisible to it). The core,
covariance and Cholesky log-determinants, is a float64 ``tf.function``. Interval: row
resamples re-estimated, percentile interval shifted by the resamples' median bias
(:func:`~.base.shifted_percentile`), which always holds the estimate.
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
    interval = "rows"
    MARGIN = 10  # auto: unshrunk needs n >= d + MARGIN

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
        value, info = self.compute(x, y)
        self.info = info
        return value, None

    def compute(self, x, y):
        """``(bits, {"shrinkage": a, "unshrunk": bits or None, "ledoit_wolf": bits})``."""
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
            return 0.0, {"shrinkage": 0.0, "unshrunk": 0.0, "ledoit_wolf": 0.0}
        zt = tf.constant(z)
        run = lambda shrink, auto: [float(v) for v in _core()(  # noqa: E731
            zt, dx, tf.constant(shrink, tf.float64), tf.constant(self.bias_correct),
            tf.constant(auto))]
        lw, a_lw = run(-1.0, False)
        if len(z) >= z.shape[1] + self.MARGIN:
            un, a_un = run(0.0, True)  # falls back to Ledoit-Wolf if singular
            unshrunk = un if a_un == 0.0 else None
        else:
            unshrunk, un, a_un = None, lw, a_lw
        if self.shrink == "auto":
            value, a = un, a_un
        elif self.shrink == "ledoit-wolf":
            value, a = lw, a_lw
        else:
            value, a = run(self.shrink, False)
        return value, {"shrinkage": a, "unshrunk": unshrunk, "ledoit_wolf": lw}

    def reestimate(self, x, y):
        return self.compute(x, y)[0]
