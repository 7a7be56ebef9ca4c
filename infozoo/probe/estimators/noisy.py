"""``noisy``: ``I(X; T + sigma Z)`` for ``T = f(X)`` (Goldfeld et al., ICML 2019).

#### Why

For a deterministic network ``T = f(X)`` with continuous ``X``, Shannon ``I(X; T)`` is
infinite (or undefined), so every finite figure of a plain estimator is an artefact of
the estimator. Goldfeld et al. measure the noisy channel instead: ``T_sigma = T + sigma Z``
with ``Z ~ N(0, I_d)`` independent, for which

    I(X; T_sigma) = h(T + sigma Z) - h(sigma Z),  h(sigma Z) = d/2 log(2 pi e sigma^2).

``sigma`` is a choice of the experimenter, in the units of ``T``; it is required and
reported with every figure. With ``relative=True`` the noise scale is ``sigma`` times the
layer's RMS, ``sqrt(mean((T - mean T)^2))`` over all examples and dimensions: the figure
is then the same for ``T`` and ``c T`` (a layer that only rescales keeps it), while with a
fixed ``sigma`` a bijection that contracts ``T`` lowers ``I(X; T + sigma Z)`` although it
loses nothing (docs/information.md).

#### Sample propagation (their Section 4)

The law of ``T + sigma Z`` is estimated by the Gaussian mixture centred on the batch,
``g(u) = 1/n sum_j N(u; t_j, sigma^2 I)``, and its entropy by Monte Carlo over the
mixture: ``u_i = t_i + sigma z_i`` (``mc`` draws per centre), ``h = -mean log g(u_i)``.
The ``(d/2) log(2 pi sigma^2)`` parts cancel and each sample contributes
``log n - d/2 - logsumexp_j(-||u_i - t_j||^2 / (2 sigma^2))`` nats. That term holds
``||z_i||^2 / 2 - d/2`` (from the sample's own centre), which has mean exactly 0 and standard
deviation ``sqrt(d / 2)``: 20 nats per sample for a 784-dimensional layer, which swamped
the estimate (a 64-sample probe gave 6.8 bits against a cap of 6). By linearity of
expectation it is dropped (a control variate), and each sample contributes

    log n - logsumexp_j( -(||u_i - t_j||^2 - ||u_i - t_i||^2) / (2 sigma^2) )   (nats)

which is at most ``log n`` (the ``j = i`` term is ``exp(0)``): with ``n`` samples no more than
``log2 n`` bits can be seen. ``x`` enters only through the pairing; the estimator
assumes ``y`` is a deterministic function of ``x`` (which is what a network layer is).
Squared distances ``O(n^2 d)``, blockwise (float64, centred), sharded over replicas;
the noise of a block is drawn from a stateless generator seeded by ``(seed, block start)``
so the figures do not depend on the number of replicas.
"""
import math

import numpy as np

from infozoo.probe.estimators import base

_CORE = []


def _core():
    if _CORE:
        return _CORE[0]
    import tensorflow as tf

    @tf.function(reduce_retracing=True, jit_compile=False)
    def core(idx, t, sq, sigma, mc, seed):
        n = tf.shape(t)[0]
        q = tf.gather(t, idx)
        b = tf.shape(idx)[0]
        z = tf.random.stateless_normal([mc, b, tf.shape(t)[1]],
                                       seed=tf.stack([seed, tf.cast(idx[0], tf.int64)]),
                                       dtype=tf.float64)
        u = tf.reshape(q[None] + sigma * z, [mc * b, -1])
        uu = tf.reduce_sum(u * u, axis=1)
        d2 = tf.maximum(uu[:, None] + sq[None, :] - 2.0 * tf.matmul(u, t, transpose_b=True), 0.0)
        own = tf.reshape(sigma * sigma * tf.reduce_sum(z * z, axis=2), [mc * b])  # ||u_i - t_i||^2
        self_ = tf.equal(tf.tile(idx, [mc])[:, None], tf.range(n)[None, :])
        d2 = tf.where(self_, own[:, None], d2)  # exact on the own centre
        lse = tf.reduce_logsumexp(-(d2 - own[:, None]) / (2.0 * sigma * sigma), axis=1)
        nats = tf.math.log(tf.cast(n, tf.float64)) - lse
        return tf.reshape(nats / math.log(2.0), [mc, b])

    def run(idx, t, sq, sigma, mc, seed):
        return tf.transpose(core(idx, t, sq, sigma, mc, seed))  # [b, mc]

    _CORE.append(run)
    return run


class Noisy:
    """``noisy``: options ``sigma`` (required, > 0, in the units of ``y``, or with
    ``relative`` in units of ``y``'s RMS), ``mc`` (Monte Carlo draws per mixture centre, 1),
    ``seed`` (0), ``block`` (rows per block)."""
    name = "noisy"
    shannon = True
    deterministic = True
    uses_x = False

    def __init__(self, sigma=None, mc=1, seed=0, block=None, memory_mb=256, relative=False):
        if sigma is None:
            raise ValueError("noisy: sigma (the noise scale of I(X; T + sigma Z), in the units "
                             "of T) is required: pass sigma=..., or --sigma at the command line")
        self.sigma = float(sigma)
        if not self.sigma > 0 or not math.isfinite(self.sigma):
            raise ValueError(f"noisy: sigma must be a positive number, got {sigma}")
        self.mc = int(mc)
        if self.mc < 1:
            raise ValueError(f"noisy: mc must be >= 1, got {mc}")
        self.seed = int(seed)
        self.block = None if block is None else int(block)
        self.memory_mb = float(memory_mb)
        self.relative = bool(relative)
        self.options = {"sigma": self.sigma, "mc": self.mc, "seed": self.seed,
                        "relative": self.relative}

    @staticmethod
    def ceiling(n):   # each term is at most log n
        return math.log2(n)

    def terms(self, x, y, strategy=None):
        import tensorflow as tf
        _, t = base.check_pair(x, y, dtype=np.float64)
        t = t - t.mean(axis=0)
        n = len(t)
        block = self.block or int(max(8, min(1024, (self.memory_mb * 2 ** 20)
                                             // (8 * self.mc * (3 * n + 2 * t.shape[1])))))
        sq = (t * t).sum(axis=1)
        core = _core()
        scale = float(np.sqrt(np.mean(t * t))) if self.relative else 1.0
        if not scale > 0:
            raise ValueError("noisy: relative sigma of a constant representation (RMS 0)")
        sigma = tf.constant(self.sigma * scale, tf.float64)
        mc, seed = tf.constant(self.mc), tf.constant(self.seed, tf.int64)
        return base.sharded_rows(lambda idx, a, s: core(idx, a, s, sigma, mc, seed), n, block,
                                 strategy, t, sq).ravel()

    def __call__(self, x, y, strategy=None):
        t = self.terms(x, y, strategy)
        return float(t.mean()), t
