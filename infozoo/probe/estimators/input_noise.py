"""``input-noise``: ``I(X; T_l)`` for every layer of a network fed ``Y = X + sigma N``.

#### Why noise at the input

``noisy`` adds fresh noise at each probed layer, so its figure depends on the layer's scale
and dimension (a contraction "loses", an isometric embedding into more dimensions "gains":
docs/information.md). Here the noise is added once, to the input, in input units, and the
layers are deterministic functions of ``Y``: ``X -> Y -> T_1 -> T_2 -> ...`` is a Markov
chain, so every bijection (or injective map) after the noise leaves ``I(X; T_l)``
unchanged, a bijective prefix reads exactly ``I(X; Y)``, and ``I(X; T_l)`` never rises
along the network (data processing inequality).

#### The estimate (Goldfeld et al. 2019's sample propagation, pushed through the network)

The batch ``x_1..x_n`` is the law of ``X`` (uniform on the batch, as in ``noisy``), so
``I(X; T) = log n - E[-log p(i | T)]`` with ``T = f(x_i + sigma z)``: at most ``log2 n``
bits (the ceiling every figure reports).

- **Input and every entry reached through bijective or injective steps** (marked
  ``bijective`` / ``injective`` in ``representations``): ``I(X; Y)``, the mixture
  ``1/n sum_j N(x_j, sigma^2 I)`` evaluated at ``y_i = x_i + sigma z_i`` (``noisy``'s
  term), computed once and *reused*: exactly the same number, not a re-estimate.
- **A non-injective entry** ``T = f(Y)`` of at most ``max_dim`` values:
  ``I(X; T) = h(T) - h(T | X)`` with ``T | X = x_j`` approximated by the Gaussian
  pushforward of the input noise, ``N(f(x_j), sigma^2 J_j J_j^T)``, ``J_j = dT/dy`` at
  ``x_j`` (autodiff; exact for a linear network, first order in ``sigma`` for a smooth
  one), and ``h(T)`` by the entropy of the mixture of these components evaluated at the
  true noisy outputs ``t_i = f(x_i + sigma z_i)``: per query

      log n - logsumexp_j( log N(t_i; f(x_j), S_j) - log N(t_i; f(x_i), S_i) )   (nats)

  with the pseudo-inverse and pseudo-determinant of ``S_j`` on its range where ``J_j``
  is rank deficient (a zero-padded layer; dead ReLU units). Affine invariance of the
  Gaussian makes the figure the same for a layer and its image under any linear
  bijection (scaling, rotation, zero-padding), exactly; under a non-linear bijection it
  agrees to first order.
- **A non-injective entry wider than ``max_dim``**: not estimated (None; its Jacobian
  costs ``d_l x d_in`` per example and its components are degenerate on different
  subspaces); the data processing inequality bounds it by the entries before it.

The queries ``z_i`` (``queries`` rows, drawn once with ``RandomState(seed)``: the rows, if
fewer than ``n``, by ``choice``, then ``standard_normal``) are the same for every layer,
so differences between layers carry little Monte Carlo noise; the interval is the
percentile bootstrap of the queries' terms (the same resamples for every layer).
Error of the first-order step: ``tests/test_input_noise.py`` checks it against the exact
posterior of a curved net (Gauss-Hermite quadrature).

#### Cost

The Jacobians of the estimated entries at all ``n`` centres: reverse mode (one
vector-Jacobian product per output value, ``sum d_l`` of them) when that is fewer than
``d_in``, else one forward-mode pass with ``d_in`` tangents shared by all entries; then an
eigen-decomposition of ``J J^T`` (``d_l^3``) per centre and entry, and ``m n d_l^2`` for the
quadratic forms. For the Fashion-MNIST INN at bottleneck 64 that is 64 backward passes per
centre, so ``n`` (``--samples``) is the knob (docs/information.md gives timings). Centre
blocks are split over the replicas of a ``tf.distribute`` strategy (each block's figures do
not depend on the replica).
"""
import math

import numpy as np

from infozoo.probe.estimators import base

LN2 = math.log(2.0)
DEFAULT_SIGMA = 2.0   # input units; images in [0, 1]: Fashion-MNIST's I(X; X + sigma N) stays
#                       below the log2 n ceiling from n = 256 up (docs/information.md)


class InputNoise:
    """``input-noise``: options ``sigma`` (> 0, the noise standard deviation in the units
    of the input; default :data:`DEFAULT_SIGMA` = 2.0, for images in [0, 1]), ``queries`` (256: noisy queries; every
    row is a mixture centre), ``max_dim`` (256: non-injective entries wider than this are
    not estimated), ``block`` (centres per Jacobian block; default from a memory budget),
    ``seed`` (0), ``rtol`` (rank tolerance of ``J J^T`` relative to its largest singular
    value; default ``d_l * eps`` of the model's float type)."""
    name = "input-noise"
    shannon = True
    needs_model = True

    def __init__(self, sigma=DEFAULT_SIGMA, queries=256, max_dim=256, block=None, seed=0, rtol=None):
        try:
            self.sigma = float(sigma)
        except (TypeError, ValueError):
            raise ValueError(f"input-noise: sigma (the standard deviation of the noise added "
                             f"to the input, in input units) must be a number, got {sigma!r}"
                             ) from None
        if not self.sigma > 0 or not math.isfinite(self.sigma):
            raise ValueError(f"input-noise: sigma must be a positive number, got {sigma}")
        self.queries, self.max_dim = int(queries), int(max_dim)
        self.block = None if block is None else int(block)
        if self.queries < 2 or self.max_dim < 1 or (self.block is not None and self.block < 1):
            raise ValueError(f"input-noise: queries must be >= 2, max_dim and block >= 1; got "
                             f"{queries}, {max_dim}, {block}")
        self.seed = int(seed)
        self.rtol = None if rtol is None else float(rtol)
        self.options = {"sigma": self.sigma, "queries": self.queries, "max_dim": self.max_dim,
                        "seed": self.seed}

    @staticmethod
    def ceiling(n):
        return math.log2(n)

    def __call__(self, x, y, strategy=None):
        raise ValueError("input-noise needs the network, not a pair of batches: use "
                         "infozoo.probe.probe(model, x, estimators=['input-noise'], sigma=...)")

    def plan(self, meta):
        """Per entry: ``"same"`` (the input, or a bijective / injective step: reuse the
        previous entry's terms), ``"work"`` (non-injective, estimated) or ``"skip"``
        (non-injective and wider than ``max_dim``: None, and so is every entry reached from
        it through bijections)."""
        out = []
        for i, m in enumerate(meta):
            if i == 0 or m["bijective"] or m.get("injective"):
                out.append("same")
            else:
                out.append("work" if m["dim"] <= self.max_dim else "skip")
        return out

    def layer_terms(self, representations, x, meta, strategy=None):
        """Per entry, the ``[queries]`` terms (bits) of ``I(X; T_l)``, or None where the
        entry is not estimated (see :meth:`plan`).

        ``representations``: ``y -> entries`` (a model's ``representations``), ``x``: the
        batch ``[n, ...]`` in the model's float type, ``meta``: the probe's static entry info
        (``dim``, ``bijective``, optional ``injective``)."""
        x = np.asarray(x)
        n = len(x)
        m = min(self.queries, n)
        plan = self.plan(meta)
        work = [i for i, p in enumerate(plan) if p == "work"]
        rng = np.random.RandomState(self.seed)
        rows = np.sort(rng.choice(n, size=m, replace=False)) if m < n else np.arange(n)
        z = rng.standard_normal((m,) + x.shape[1:]).astype(x.dtype)
        y = x[rows] + np.asarray(self.sigma, x.dtype) * z
        flat = x.reshape(n, -1).astype(np.float64)
        yf = y.reshape(m, -1).astype(np.float64)
        d2 = np.maximum((yf * yf).sum(1)[:, None] + (flat * flat).sum(1)[None]
                        - 2.0 * yf @ flat.T, 0.0)
        d2[np.arange(m), rows] = self.sigma ** 2 * (z.reshape(m, -1).astype(np.float64) ** 2
                                                    ).sum(1)    # the own centre exactly
        terms = {0: _terms(-d2 / (2 * self.sigma ** 2), rows)}
        if work:
            t_q = _outputs(representations, y, work)                 # [m, d_l] per entry
            d_in = flat.shape[1]
            dims = [meta[i]["dim"] for i in work]
            reverse = sum(dims) < d_in
            block = self.block or (max(1, 256 // sum(dims)) if reverse else
                                   max(1, 2 ** 22 // (d_in * sum(r["dim"] for r in meta))))
            eps = float(np.finfo(x.dtype).eps)
            core = _make_core(representations, work, reverse, self.sigma, self.rtol, eps)
            logp = base.sharded_rows(core, n, block, strategy, x, *t_q)  # [n, m, len(work)]
            for k, i in enumerate(work):
                terms[i] = _terms(logp[:, :, k].T, rows)
        out, prev = [], None
        for i, p in enumerate(plan):
            prev = terms.get(i) if p != "same" else (terms[0] if i == 0 else prev)
            out.append(None if prev is None else prev / LN2)
        return out

    def layer_estimates(self, representations, x, meta, ci=None, n_boot=None, strategy=None):
        """One :class:`~infozoo.probe.estimators.base.Estimate` of ``I(X; T_l)`` per entry
        (bits, ``ceiling`` log2 n; with ``ci``, the percentile bootstrap of the mean of the
        queries' terms, ``n_boot`` 1000, the same resamples for every entry), or None."""
        n = len(x)
        level = None if ci is None else base.check_level(ci)
        out = []
        for t in self.layer_terms(representations, x, meta, strategy):
            if t is None:
                out.append(None)
                continue
            e = base.Estimate(self.name, float(t.mean()), n, options=dict(self.options),
                              terms=t, ceiling=self.ceiling(n), level=level)
            if level is not None:
                lo, hi = base.bootstrap_terms(t, level, n_boot or 1000, self.seed)
                e.low, e.high, e.ci_method = e.value + lo, e.value + hi, "terms"
            out.append(e)
        return out


def _terms(logp, rows):
    """``log n - logsumexp_j(logp[i, j] - logp[i, rows_i])`` (nats) for ``logp [m, n]``."""
    from scipy.special import logsumexp
    m, n = logp.shape
    own = logp[np.arange(m), rows]
    return math.log(n) - logsumexp(logp - own[:, None], axis=1)


def _outputs(representations, y, work, block=256):
    import tensorflow as tf
    outs = [[] for _ in work]
    for s in range(0, len(y), block):
        reps = representations(tf.constant(y[s:s + block]))
        for k, i in enumerate(work):
            v = np.asarray(reps[i]["value"], np.float64)
            outs[k].append(v.reshape(len(v), -1))
    return [np.concatenate(o) for o in outs]


def _make_core(representations, work, reverse, sigma, rtol, eps):
    """``core(idx, x, *t_q) -> [b, m, len(work)]``: ``log N(t_q; f(x_j), sigma^2 J_j J_j^T)``
    (nats, pseudo-determinant and pseudo-inverse on the range) for the centres ``j`` in
    ``idx`` and every query, for each work entry."""
    import tensorflow as tf
    f64 = tf.float64
    log2pi = math.log(2.0 * math.pi)

    def jacobians(xb):
        """Values ``[b, d_l]`` and Jacobians ``[b, d_l, d_in]`` (float64) of the work entries."""
        b = tf.shape(xb)[0]
        d_in = int(np.prod(xb.shape[1:]))
        if reverse:
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(xb)
                reps = representations(xb)
                vals = [tf.reshape(reps[i]["value"], [b, -1]) for i in work]
            jac = [tf.reshape(tape.batch_jacobian(v, xb, experimental_use_pfor=True),
                              [b, -1, d_in]) for v in vals]
            del tape
        else:
            xr = tf.repeat(xb, d_in, axis=0)                        # [b * d_in, ...]
            tan = tf.reshape(tf.tile(tf.eye(d_in, dtype=xb.dtype), [b, 1]), tf.shape(xr))
            with tf.autodiff.ForwardAccumulator(xr, tan) as acc:
                reps = representations(xr)
                outs = [reps[i]["value"] for i in work]
            jac = [tf.transpose(tf.reshape(acc.jvp(o), [b, d_in, -1]), [0, 2, 1]) for o in outs]
            vals = [tf.reshape(o, [b * d_in, -1])[::d_in] for o in outs]
        return ([tf.cast(v, f64) for v in vals], [tf.cast(j, f64) for j in jac])

    @tf.function(reduce_retracing=True, jit_compile=False, autograph=False)
    def core(idx, x, *t_q):
        xb = tf.gather(x, idx)
        mus, jacs = jacobians(xb)
        out = []
        for mu, J, t in zip(mus, jacs, t_q):
            d_l = tf.shape(J)[1]
            tol = rtol if rtol is not None else tf.cast(d_l, f64) * eps
            w, U = tf.linalg.eigh(tf.matmul(J, J, transpose_b=True))   # J J^T = U s^2 U^T
            wmax = tf.reduce_max(w, axis=1, keepdims=True)
            keep = tf.logical_and(w > tol * tol * wmax, wmax > 0)
            kf = tf.cast(keep, f64)
            s2 = tf.where(keep, w, tf.ones_like(w)) * (sigma * sigma)  # sigma^2 s_k^2
            proj = (tf.einsum("bdk,md->bmk", U, t)
                    - tf.einsum("bdk,bd->bk", U, mu)[:, None, :])      # [b, m, d_l]
            quad = tf.reduce_sum(kf[:, None, :] * proj * proj / s2[:, None, :], axis=2)
            half_logdet = 0.5 * tf.reduce_sum(kf * (tf.math.log(s2) + log2pi), axis=1)
            out.append(-0.5 * quad - half_logdet[:, None])
        return tf.stack(out, axis=2)

    return core
