"""``flow``: mutual information through a normalizing flow per side (Butakov et al. 2024).

#### Mathematical details

MI is invariant under a bijection of each side: ``I(X; Y) = I(f(X); g(Y))``. Butakov et
al. ("Mutual information estimation via normalizing flows", NeurIPS 2024) fit ``f`` and
``g`` so that the pair of latents ``(f(X), g(Y))`` is jointly Gaussian, where MI has a
closed form in the joint covariance ``Sigma`` (the paper is not among ../shared/papers, so
its equation numbers are not cited here):

    I = 1/2 (log det Sigma_xx + log det Sigma_yy - log det Sigma)        (nats)

and, for Gaussian marginals, this Gaussian figure is a lower bound of ``I(f(X); g(Y))``
that is tight when the latents are jointly Gaussian (their lower-bound theorem). The flows and
``Sigma = L L^T`` (``L`` lower triangular, positive diagonal) are fitted together by
maximum likelihood of the joint density,

    log p(x, y) = log N([f(x), g(y)]; 0, Sigma) + log|det df/dx| + log|det dg/dy|,

and the figure is the bias-corrected Gaussian MI (:mod:`.gaussian`) of the latents of the
held-out rows: the flows never saw them.

#### What is built

- Marginals (``marginals="ranks"``, default): each dimension first goes to normal scores,
  ``Phi^-1`` of its empirical CDF on the training rows (interpolated for the other rows):
  a monotone map per dimension, which leaves MI unchanged (the Gaussian-copula step of Ince
  et al. 2017). The flows, which start as the identity, then only learn the dependence the
  copula step leaves non-Gaussian; at step 0 the estimator *is* the Gaussian-copula one.
  ``"none"``: standardised values. ``steps=0`` fits no flow: the Gaussian-copula estimator
  on the same split (``extra["copula_bits"]`` of a trained run is that figure).
- Flows: an infozoo :class:`~infozoo.layers.Flow` per side of ``blocks`` x
  (:class:`~infozoo.layers.GLOWCoupling` with dense subnets of ``hidden`` units,
  :class:`~infozoo.layers.FixedPermutation`). A side with one dimension gets an extra
  independent ``N(0, 1)`` column (independent noise changes no MI), since a coupling needs
  two. Sized from the data: ``blocks`` 2 for ``d <= 2``, else 4; ``hidden``
  ``clip(4 d, 32, 192)``; at most ``steps`` Adam steps (default ``clip(40 n_train / batch,
  400, 3000)``) under a cosine learning-rate decay.
- Splits: ``holdout`` of the rows (at most ``eval_size``) for the figure, ``val`` of the
  rest for early stopping (validation NLL every ``eval_every`` steps, ``patience``
  measurements without improvement, the best flows restored), the rest for training.
- Model selection: the trained flows replace the copula start (step 0: the fresh flows
  are the identity up to their fixed permutations, ``Sigma`` the covariance of those
  latents) only if they lower the validation NLL by more than ``select_z`` (3) standard
  errors of the paired per-row gain (``extra["flow_selected"]``, ``extra["val_gain_z"]``);
  otherwise the figure is the copula one. On a per-dimension bijection of a Gaussian the
  copula start is the exact model and the flows' gain is noise. (Before this rule, and
  with ``Sigma`` started from the unpermuted covariance, every trained flow was kept and
  moved the 25- and 50-dimensional figures 0.2 bit below the copula start.)
- Interval (``ci=``): the held-out latents re-estimated on row resamples
  (:func:`~.base.shifted_percentile`); it holds the finite held-out split's spread, not
  the flow fit's.
- ``tf.distribute``: data-parallel training, each replica ``batch / R`` rows of the same
  global batch, gradients summed (each replica's loss divided by ``R``), so ``R`` replicas
  take the same steps as one up to float rounding (tested).

``Estimate.extra``: ``steps``, ``best_step``, ``val_nll`` (nats per row), ``sigma_bits`` (the
closed form from the fitted ``Sigma``), ``copula_bits`` (the same held-out latents before any
flow step: the Gaussian-copula figure).
"""
import math

import numpy as np

from infozoo.probe.estimators import base


def normal_scores(train, other):
    """Per-dimension ``Phi^-1`` of the empirical CDF of ``train`` applied to ``other``."""
    from scipy import special
    m = len(train)
    out = np.empty(other.shape, np.float64)
    p = (np.arange(m) + 0.5) / m
    for j in range(train.shape[1]):
        q = np.sort(train[:, j])
        if q[0] == q[-1]:
            out[:, j] = 0.0
            continue
        out[:, j] = special.ndtri(np.clip(np.interp(other[:, j], q, p), 0.5 / m, 1 - 0.5 / m))
    return out


def _flow(d, blocks, hidden, clamp, seed, name):
    from infozoo import layers
    steps = []
    for b in range(blocks):
        steps += [layers.GLOWCoupling(subnet="dense", hidden=hidden, hidden_layers=1,
                                      activation="relu", clamp=clamp, name=f"{name}_c{b}"),
                  layers.FixedPermutation(seed=seed * 1000 + b, name=f"{name}_p{b}")]
    f = layers.Flow(steps, name=name)
    f.build((None, d))
    return f


def gaussian_bits(zx, zy):
    from infozoo.probe.estimators.gaussian import Gaussian
    return Gaussian().compute(zx, zy)[0]


class FlowMI:
    """``flow``: options ``blocks``, ``hidden``, ``steps`` (default: sized from ``d`` and
    ``n``, see the module doc), ``batch`` (256), ``lr`` (2e-3), ``clamp`` (2), ``holdout``
    (0.3), ``val`` (0.2), ``eval_size`` (4096), ``eval_every`` (50), ``patience`` (6),
    ``marginals`` ("ranks" or "none"), ``select_z`` (3: see model selection), ``seed`` (0)."""
    name = "flow"
    shannon = True
    deterministic = False
    uses_x = True
    interval = "rows"

    def __init__(self, blocks=None, hidden=None, steps=None, batch=256, lr=2e-3, clamp=2.0,
                 holdout=0.3, val=0.2, eval_size=4096, eval_every=50, patience=6,
                 marginals="ranks", select_z=3.0, seed=0):
        c = lambda k, v, m=1: None if v is None else base.check_int("flow", k, v, m)  # noqa
        self.blocks, self.hidden, self.steps = c("blocks", blocks), c("hidden", hidden), \
            c("steps", steps, 0)
        self.batch, self.eval_size = c("batch", batch, 2), c("eval_size", eval_size, 8)
        self.eval_every, self.patience = c("eval_every", eval_every), c("patience", patience)
        self.lr, self.clamp = float(lr), float(clamp)
        self.holdout, self.val = float(holdout), float(val)
        if not (0 < self.holdout < 1 and 0 < self.val < 1):
            raise ValueError(f"flow: holdout and val must be in (0, 1), got {holdout}, {val}")
        if not (self.lr > 0 and self.clamp > 0):
            raise ValueError(f"flow: lr and clamp must be > 0, got {lr}, {clamp}")
        if marginals not in ("ranks", "none"):
            raise ValueError(f"flow: marginals must be 'ranks' or 'none', got {marginals!r}")
        self.marginals, self.seed = marginals, int(seed)
        self.select_z = float(select_z)
        self.info, self.eval_pair = {}, None
        self.options = {"blocks": blocks, "hidden": hidden, "steps": steps, "batch": self.batch,
                        "lr": self.lr, "holdout": self.holdout, "val": self.val,
                        "marginals": self.marginals, "select_z": self.select_z,
                        "seed": self.seed}

    def sizes(self, d, n_train):
        """``(blocks, hidden, steps)`` for a side of ``d`` dimensions and ``n_train`` rows."""
        blocks = self.blocks or (2 if d <= 2 else 4)
        hidden = self.hidden or int(np.clip(4 * d, 32, 192))
        steps = self.steps if self.steps is not None else int(
            np.clip(40 * n_train / self.batch, 400, 3000))
        return blocks, hidden, steps

    def __call__(self, x, y, strategy=None):
        import keras
        import tensorflow as tf
        x, y = base.check_pair(x, y, dtype=np.float64, min_n=20)
        n = len(x)
        rng = np.random.RandomState(self.seed)
        perm = rng.permutation(n)
        n_eval = max(8, min(self.eval_size, int(round(n * self.holdout))))
        n_val = max(4, int(round((n - n_eval) * self.val)))
        ev, va, tr = perm[:n_eval], perm[n_eval:n_eval + n_val], perm[n_eval + n_val:]
        if len(tr) < 8:
            raise ValueError(f"flow: too few samples ({n}) for a training split")
        prep = (lambda a: normal_scores(a[tr], a)) if self.marginals == "ranks" else \
            (lambda a: (a - a[tr].mean(0)) / np.where(a[tr].std(0) > 0, a[tr].std(0), 1.0))
        x, y = prep(x), prep(y)
        pad = lambda a: np.concatenate([a, rng.randn(n, 1)], 1) if a.shape[1] == 1 else a  # noqa
        x, y = pad(x).astype(np.float32), pad(y).astype(np.float32)
        dx, dy = x.shape[1], y.shape[1]
        D = dx + dy
        strategy = strategy or tf.distribute.get_strategy()
        R = base.replicas(strategy)
        per = max(2, min(self.batch, len(tr)) // R)
        (bx, hx, steps), (by, hy, _) = self.sizes(dx, len(tr)), self.sizes(dy, len(tr))
        steps = -(-steps // self.eval_every) * self.eval_every
        keras.utils.set_random_seed(self.seed)
        with strategy.scope():
            fx = _flow(dx, bx, hx, self.clamp, self.seed, "flow_x")
            fy = _flow(dy, by, hy, self.clamp, self.seed + 1, "flow_y")
            # Sigma starts at the covariance of the training rows' step-0 latents (the fresh
            # flows are the identity up to their fixed permutations): step 0 is the copula fit
            z0 = np.concatenate([np.asarray(fx.forward(tf.constant(x[tr]))[0]),
                                 np.asarray(fy.forward(tf.constant(y[tr]))[0])], 1)
            c0 = np.linalg.cholesky(np.cov(z0.T.astype(np.float64)) + 1e-6 * np.eye(D))
            w = tf.Variable(np.tril(c0, -1).astype(np.float32), name="chol_offdiag")
            s = tf.Variable(np.log(np.diag(c0)).astype(np.float32), name="chol_logdiag")
            var = fx.trainable_variables + fy.trainable_variables + [w, s]
            sched = keras.optimizers.schedules.CosineDecay(self.lr, max(steps, 1), alpha=0.05)
            opt = keras.optimizers.Adam(sched)
            opt.build(var)
        half_log_2pi = 0.5 * math.log(2 * math.pi)

        spec = lambda *shape: tf.TensorSpec(shape, tf.float32)  # noqa: E731  (one trace each)

        def nll(xb, yb):
            """Per-row ``-log p(x, y)`` (nats) and the latents."""
            zx, lx = fx.forward(xb)
            zy, ly = fy.forward(yb)
            z = tf.concat([zx, zy], 1)
            L = tf.linalg.band_part(w, -1, 0) - tf.linalg.diag(tf.linalg.diag_part(w)) \
                + tf.linalg.diag(tf.exp(s))
            u = tf.linalg.triangular_solve(L, tf.transpose(z), lower=True)
            logp = (-0.5 * tf.reduce_sum(u * u, 0) - tf.reduce_sum(s) - D * half_log_2pi)
            return -(logp + lx + ly), zx, zy

        def replica_step(xb, yb):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(nll(xb, yb)[0]) / R
            grads = tape.gradient(loss, var)
            opt.apply_gradients(zip(grads, var))
            return loss

        @tf.function
        def step(xb, yb):
            return strategy.reduce(tf.distribute.ReduceOp.SUM,
                                   strategy.run(replica_step, args=(xb, yb)), axis=None)

        @tf.function(input_signature=[spec(None, None, dx), spec(None, None, dy)])
        def chunk(xs, ys):  # one replica: eval_every steps in one graph call
            ok = tf.constant(True)
            for i in tf.range(tf.shape(xs)[0]):
                ok = tf.logical_and(ok, tf.math.is_finite(replica_step(xs[i], ys[i])))
            return ok


        @tf.function(input_signature=[spec(None, dx), spec(None, dy)])
        def evaluate(xb, yb):
            return nll(xb, yb)

        shard = lambda a: base.replica_batches(strategy, a, per)  # noqa: E731

        xv, yv = tf.constant(x[va]), tf.constant(y[va])
        xe, ye = tf.constant(x[ev]), tf.constant(y[ev])
        copula = gaussian_bits(x[ev].astype(np.float64), y[ev].astype(np.float64))
        best_step, since, done, diverged = 0, 0, 0, False
        rows0 = np.asarray(evaluate(xv, yv)[0], np.float64)  # step 0: the copula fit
        best = nll0 = float(rows0.mean())
        best_rows = rows0
        snap = lambda: [v.numpy() for v in var]  # noqa: E731
        best_w = w0 = snap()
        xtr, ytr = x[tr], y[tr]
        it = 0
        while it < steps:
            k = self.eval_every  # steps is rounded up to whole chunks
            sel = np.stack([rng.choice(len(tr), size=per * R, replace=False)
                            if len(tr) >= per * R else rng.randint(0, len(tr), size=per * R)
                            for _ in range(k)])
            if R == 1:
                ok = bool(chunk(tf.constant(xtr[sel]), tf.constant(ytr[sel])))
            else:
                ok = all(np.isfinite(float(step(shard(xtr[i]), shard(ytr[i])))) for i in sel)
            it += k
            done = it
            rows = np.asarray(evaluate(xv, yv)[0], np.float64) if ok else None
            v = float(rows.mean()) if ok else float("nan")
            if not np.isfinite(v):
                diverged = True
                break
            if v < best - 1e-4:
                best, best_step, since, best_w, best_rows = v, it, 0, snap(), rows
            else:
                since += 1
                if since >= self.patience:
                    break
        # model selection: the flows replace the copula start only if they lower the
        # validation NLL by more than `select_z` standard errors of the paired per-row gain
        gain = rows0 - best_rows
        se = float(gain.std(ddof=1) / math.sqrt(len(gain))) if best_step else 0.0
        z_gain = float(gain.mean() / se) if se > 0 else 0.0
        selected = bool(best_step) and z_gain > self.select_z
        if not selected:
            best_w, best = w0, nll0
        for v, b in zip(var, best_w):
            v.assign(b)
        _, zx, zy = evaluate(xe, ye)
        zx, zy = np.asarray(zx, np.float64), np.asarray(zy, np.float64)
        Lm = np.tril(best_w[-2], -1) + np.diag(np.exp(best_w[-1]))
        sig = Lm.astype(np.float64) @ Lm.T.astype(np.float64)
        ld = lambda m: np.linalg.slogdet(m)[1]  # noqa: E731
        self.info = {"steps": done, "best_step": best_step, "flow_selected": selected,
                     "val_gain_z": z_gain,
                     "val_nll": None if not np.isfinite(best) else best,
                     "sigma_bits": 0.5 * (ld(sig[:dx, :dx]) + ld(sig[dx:, dx:]) - ld(sig))
                     / base.LN2, "copula_bits": copula, "n_eval": n_eval}
        if diverged:
            self.info["diverged_at"] = done
        if not (np.all(np.isfinite(zx)) and np.all(np.isfinite(zy))):
            self.info["flag"] = "diverged"
            return float("nan"), None
        self.eval_pair = (zx, zy)
        return gaussian_bits(zx, zy), None

    def reestimate(self, zx, zy):
        return gaussian_bits(zx, zy)
