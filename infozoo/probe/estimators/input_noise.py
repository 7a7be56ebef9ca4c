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
  one), and ``h(T)`` by the entropy of the mixture of these components, by Monte Carlo
  over the mixture itself (sample propagation: the query ``t_i = f(x_i) + J_i sigma z_i``
  from component ``i``, ``z_i`` the same input noise as the input's figure): per query

      log n - logsumexp_j( log N(t_i; f(x_j), S_j) - log N(t_i; f(x_i), S_i) )   (nats)

  (``S_j = sigma^2 J_j J_j^T``), at most ``log n`` and non-negative in expectation (it is
  the mutual information of the mixture). Where every ``J_j`` has the same range (full
  rank, or the same zero-padded directions) the pseudo-inverse and pseudo-determinant on
  it are used; affine invariance of the Gaussian makes the figure the same for a layer and
  its image under any linear bijection (scaling, rotation, zero-padding), exactly, and
  under a non-linear bijection to first order.
- **Not estimated** (None, with the reason in ``skipped``): a non-injective entry wider
  than ``max_dim`` (its Jacobian costs ``d_l x d_in`` per example), and one whose
  components lie on *different* subspaces (ranks or ranges differ between centres: ReLU
  units dead at some centres, a decoder's curved image of a small code). Densities on
  different subspaces have no common measure, so their mixture has no entropy; to first
  order such a layer would also leak its activation pattern as perfect information. The
  data processing inequality bounds these entries by the ones before them.

The rows of the queries (``queries`` of them, drawn once with ``RandomState(seed)`` by
``choice`` when fewer than ``n``), their input noise and their per-layer draws are fixed by
``seed``, the same for every call; the interval is the percentile bootstrap of the queries'
terms (the same resamples for every layer).
Error of the first-order step: ``tests/test_input_noise.py`` checks it against the exact
``I(X; T)`` of a curved net (Gauss-Hermite quadrature and Monte Carlo).

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
from infozoo.util.representation import Representation

LN2 = math.log(2.0)
DEFAULT_SIGMA = 2.0   # input units; images in [0, 1]: Fashion-MNIST's I(X; X + sigma N) stays
#                       below the log2 n ceiling from n = 256 up (docs/information.md)


class InputNoise:
    """``input-noise``: options ``sigma`` (> 0, the noise standard deviation in the units
    of the input; default :data:`DEFAULT_SIGMA` = 2.0, for images in [0, 1]), ``queries``
    (256: noisy queries; every row is a mixture centre), ``max_dim`` (256: non-injective entries wider than this are
    not estimated), ``block`` (centres per Jacobian block; default from a memory budget),
    ``seed`` (0), ``rtol`` (rank tolerance of ``J J^T`` relative to its largest singular
    value; default ``d_l * eps`` of the model's float type))."""
    name = "input-noise"
    shannon = True
    needs_model = True

    def __init__(self, sigma=DEFAULT_SIGMA, queries=256, max_dim=256, block=None, seed=0,
                 rtol=None):
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
        self.skipped = {}   # entry index -> why it was not estimated (the last call's)

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
        z_all = rng.standard_normal((n,) + x.shape[1:]).astype(x.dtype)   # one per row
        z = z_all[rows]
        y = x[rows] + np.asarray(self.sigma, x.dtype) * z
        flat = x.reshape(n, -1).astype(np.float64)
        yf = y.reshape(m, -1).astype(np.float64)
        d2 = np.maximum((yf * yf).sum(1)[:, None] + (flat * flat).sum(1)[None]
                        - 2.0 * yf @ flat.T, 0.0)
        d2[np.arange(m), rows] = self.sigma ** 2 * (z.reshape(m, -1).astype(np.float64) ** 2
                                                    ).sum(1)    # the own centre exactly
        terms = {0: _terms(-d2 / (2 * self.sigma ** 2), rows)}
        if work:
            d_in = flat.shape[1]
            dims = [meta[i]["dim"] for i in work]
            eps = float(np.finfo(x.dtype).eps)
            total = sum(r["dim"] for r in meta)
            reverse = sum(dims) < d_in
            block = self.block or (max(1, 256 // sum(dims)) if reverse else
                                   max(1, 2 ** 22 // (d_in * total)))
            core = _make_core(representations, work, reverse, self.sigma, self.rtol, eps)
            packed = base.sharded_rows(core, n, block, strategy, x, z_all)  # [n, sum(4d + d^2)]
            logpdf = _logpdf_core()
            off = 0
            for i, d in zip(work, dims):
                mu, w, keep = (packed[:, off:off + d], packed[:, off + d:off + 2 * d],
                               packed[:, off + 2 * d:off + 3 * d] > 0.5)
                U = packed[:, off + 3 * d:off + 3 * d + d * d].reshape(n, d, d)
                jz = packed[:, off + 3 * d + d * d:off + 4 * d + d * d]      # J_j z_j
                off += 4 * d + d * d
                why = _degenerate(U, keep, eps)
                if why:   # densities on different subspaces: no common measure, no mixture
                    self.skipped[i] = why
                    continue
                # the query from its own component, pushed by the same input noise z_i as
                # the input's figure (sample propagation of the model): t_i = f(x_i) + J_i s z_i
                t = mu[rows] + self.sigma * jz[rows]
                lp = base.sharded_rows(logpdf, n, max(1, 2 ** 22 // (m * d + d * d)), strategy,
                                       mu, w, U, keep, t)            # [n, m]
                terms[i] = _terms(lp.T, rows)
        for i, p in enumerate(plan):
            if p == "skip":
                self.skipped[i] = f"non-injective and wider than max_dim = {self.max_dim}"
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


def _degenerate(U, keep, eps):
    """Why the components ``N(mu_j, U_j diag(w_j) U_j^T)`` (kept directions ``keep``) have no
    common range, or "" when they share one (full rank, or the same zero-padded directions):
    the ranks differ, or the mean of their range projectors has a larger rank."""
    r = keep.sum(1)
    if r.min() != r.max():
        return (f"components of different ranks ({int(r.min())}..{int(r.max())} of "
                f"{U.shape[1]}: dead units or folds), densities on different subspaces")
    if r[0] == U.shape[1]:
        return ""
    Uk = U * keep[:, None, :]
    M = np.einsum("ndk,nek->de", Uk, Uk) / len(U)          # mean projector
    ev = np.linalg.eigvalsh(M)
    union = int((ev > U.shape[1] * eps * 100 * ev.max()).sum())
    if union > r[0]:
        return (f"rank-{int(r[0])} components on different subspaces (their ranges span "
                f"{union} dimensions)")
    return ""


def _logpdf_core():
    """``core(idx, mu, w, U, keep, t) -> [b, m]``: the log-densities of the queries ``t``
    under the components ``idx`` (nats)."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True, jit_compile=False, autograph=False)
    def core(idx, mu, w, U, keep, t):
        g = lambda a: tf.gather(a, idx)  # noqa: E731
        return _gaussian_logpdf(g(mu), g(w), g(U), g(keep), t)
    return core


def _pack(mu, w, U, keep, jz):
    """``[b, 4d + d^2]``: a component's mean, covariance eigenvalues, kept mask,
    eigenvectors and ``J z`` in one row (so the centre blocks concatenate)."""
    import tensorflow as tf
    b = tf.shape(mu)[0]
    return tf.concat([mu, w, tf.cast(keep, mu.dtype), tf.reshape(U, [b, -1]), jz], axis=1)


def _make_core(representations, work, reverse, sigma, rtol, eps):
    """``core(idx, x, z) -> [b, sum(4 d + d^2)]``: the components ``N(f(x_j), sigma^2 J_j
    J_j^T)`` of the centres ``idx`` for each work entry, packed (:func:`_pack`), with the
    eigen-directions below the rank tolerance marked dropped."""
    import tensorflow as tf
    f64 = tf.float64

    def jacobians(xb):
        """Values ``[b, d_l]`` and Jacobians ``[b, d_l, d_in]`` (float64) of the work entries."""
        b = tf.shape(xb)[0]
        d_in = int(np.prod(xb.shape[1:]))
        if reverse:
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(xb)
                reps = [Representation.of(r) for r in representations(xb)]
                vals = [tf.reshape(reps[i].value, [b, -1]) for i in work]
            jac = [tf.reshape(tape.batch_jacobian(v, xb, experimental_use_pfor=True),
                              [b, -1, d_in]) for v in vals]
            del tape
        else:
            xr = tf.repeat(xb, d_in, axis=0)                        # [b * d_in, ...]
            tan = tf.reshape(tf.tile(tf.eye(d_in, dtype=xb.dtype), [b, 1]), tf.shape(xr))
            with tf.autodiff.ForwardAccumulator(xr, tan) as acc:
                reps = [Representation.of(r) for r in representations(xr)]
                outs = [reps[i].value for i in work]
            jac = [tf.transpose(tf.reshape(acc.jvp(o), [b, d_in, -1]), [0, 2, 1]) for o in outs]
            vals = [tf.reshape(o, [b * d_in, -1])[::d_in] for o in outs]
        return ([tf.cast(v, f64) for v in vals], [tf.cast(j, f64) for j in jac])

    @tf.function(reduce_retracing=True, jit_compile=False, autograph=False)
    def core(idx, x, z):
        xb = tf.gather(x, idx)
        zb = tf.cast(tf.reshape(tf.gather(z, idx), [tf.shape(idx)[0], -1]), f64)
        mus, jacs = jacobians(xb)
        out = []
        for mu, J in zip(mus, jacs):
            d_l = tf.shape(J)[1]
            tol = rtol if rtol is not None else tf.cast(d_l, f64) * eps
            w, U = tf.linalg.eigh(tf.matmul(J, J, transpose_b=True))   # J J^T = U s^2 U^T
            wmax = tf.reduce_max(w, axis=1, keepdims=True)
            keep = tf.logical_and(w > tol * tol * wmax, wmax > 0)
            out.append(_pack(mu, (sigma * sigma) * w, U, keep, tf.einsum("bdk,bk->bd", J, zb)))
        return tf.concat(out, axis=1)

    return core


def _gaussian_logpdf(mu, w, U, keep, t):
    """``log N(t; mu, U diag(w) U^T)`` on the kept eigen-directions (pseudo-inverse and
    pseudo-determinant on the range), ``[b, m]`` for centres ``mu [b, d]`` and queries
    ``t [m, d]`` (nats)."""
    import tensorflow as tf
    kf = tf.cast(keep, tf.float64)
    w = tf.where(keep, w, tf.ones_like(w))
    proj = tf.einsum("bdk,md->bmk", U, t) - tf.einsum("bdk,bd->bk", U, mu)[:, None, :]
    quad = tf.reduce_sum(kf[:, None, :] * proj * proj / w[:, None, :], axis=2)
    logdet = tf.reduce_sum(kf * (tf.math.log(w) + math.log(2.0 * math.pi)), axis=1)
    return -0.5 * quad - 0.5 * logdet[:, None]


def first_order_check(model, x, sigma, rows=16, draws=256, seed=0, max_dim=256):
    """How far the first-order pushforward is from the network's response to the input
    noise, per non-injective entry of at most ``max_dim`` values: on the first ``rows``
    examples, the Monte Carlo covariance ``C`` of ``f(x + sigma z)`` (``draws`` draws) against
    ``S = sigma^2 J J^T``. Returns ``[{"name", "dim", "trace_ratio" (mean tr C / tr S: 1 when
    first order holds), "shift" (mean ||E f(x + sigma z) - f(x)||^2 / tr C)}]``."""
    import tensorflow as tf
    from infozoo.probe.keras_models import representations_of
    reps_fn = representations_of(model, x)
    x = np.asarray(x)[:rows]
    meta = [{"name": r.name, "dim": int(np.prod(r.value.shape[1:])),
             "bijective": bool(r.bijective), "injective": bool(r.injective)}
            for r in reps_fn(tf.constant(x[:2]))]
    est = InputNoise(sigma=sigma, max_dim=max_dim)
    work = [i for i, p in enumerate(est.plan(meta)) if p == "work"]
    if not work:
        return []
    dims = [meta[i]["dim"] for i in work]
    reverse = sum(dims) < int(np.prod(x.shape[1:]))
    core = _make_core(reps_fn, work, reverse, float(sigma), None,
                      float(np.finfo(x.dtype).eps))
    z0 = np.zeros_like(x)
    packed = np.concatenate([np.asarray(core(tf.constant([k], tf.int32), tf.constant(x),
                                             tf.constant(z0))) for k in range(len(x))])
    z = np.random.RandomState(seed).standard_normal((draws,) + x.shape[1:]).astype(x.dtype)
    out, off = [], 0
    for i, d in zip(work, dims):
        w, keep = packed[:, off + d:off + 2 * d], packed[:, off + 2 * d:off + 3 * d] > 0.5
        mu = packed[:, off:off + d]
        off += 4 * d + d * d
        ratios, shifts = [], []
        for k in range(len(x)):
            v = np.asarray(reps_fn(tf.constant(x[k:k + 1] + np.asarray(sigma, x.dtype) * z))[i]
                           .value, np.float64).reshape(draws, -1)
            c = np.cov(v, rowvar=False)
            tr = float(np.trace(np.atleast_2d(c)))
            ratios.append(tr / float((w[k] * keep[k]).sum()))
            shifts.append(float(((v.mean(0) - mu[k]) ** 2).sum()) / tr)
        out.append({"name": meta[i]["name"], "dim": d, "trace_ratio": float(np.mean(ratios)),
                    "shift": float(np.mean(shifts))})
    return out


#: the first order is called off where the network's spread differs from it by more than a
#: factor of sqrt(2) either way, or its mean moves by more than its spread
FIRST_ORDER_RATIO = 2 ** 0.5
FIRST_ORDER_SHIFT = 1.0


def first_order_warnings(checks, sigma):
    """One message naming every entry of :func:`first_order_check` whose spread ratio lies
    outside ``[1/FIRST_ORDER_RATIO, FIRST_ORDER_RATIO]`` or whose shift exceeds
    ``FIRST_ORDER_SHIFT``, with the direction of the bias ([] where the first order holds)."""
    bad = []
    for c in checks:
        r, sh = c["trace_ratio"], c["shift"]
        if r > FIRST_ORDER_RATIO:
            bad.append(f"{c['name']} (the network spreads the noise {r:.1f}x the first "
                       f"order's: figure too high)")
        elif r < 1 / FIRST_ORDER_RATIO:
            bad.append(f"{c['name']} (spread {r:.2f}x the first order's: figure too low)")
        if sh > FIRST_ORDER_SHIFT:
            bad.append(f"{c['name']} (the noise moves its mean by {sh ** 0.5:.1f}x its spread)")
    if not bad:
        return []
    return [f"input-noise: the first-order pushforward does not hold at sigma = {sigma:g} for "
            f"{', '.join(bad)}: those figures are not I(X; T); probe again with a smaller "
            f"--sigma (bin/first_order_check RUN SIGMA... shows where it holds)"]
