"""Neural variational lower bounds: ``infonce``, ``nwj`` and ``smile`` (Poole et al. 2019;
Song & Ermon 2020).

#### Mathematical details

A critic ``f(x, y)`` scores pairs; on a batch of ``b`` pairs with score matrix
``F_ij = f(x_i, y_j)``:

- InfoNCE (van den Oord et al. 2018; Poole et al. Eq. 12):
  ``I >= mean_i [F_ii - log (1/b) sum_j exp F_ij]``. Low variance, but it can never
  exceed ``log b``: with ``b`` evaluation samples nothing above ``log2 b`` bits is reachable.
- NWJ (Nguyen, Wainwright, Jordan 2010; Poole et al. Eq. 9, "f-GAN KL"):
  ``I >= mean_i F_ii - e^{-1} mean_{i != j} exp F_ij``. Not capped, unbiased in the
  batch, but its variance grows like ``exp(I)``: past a few bits it is noisy.
- SMILE (Song & Ermon 2020, "Understanding the limitations of variational MI
  estimators"; not among ../shared/papers, so no equation number): the Donsker-Varadhan
  bound with the partition term clipped,
  ``mean_i F_ii - log mean_{i != j} exp clip(F_ij, -tau, tau)`` (``tau = 5``), the critic
  trained by the Jensen-Shannon objective (their code: value from the clipped DV, gradient
  from JS). Clipping bounds the variance (``<= e^{2 tau}``) at the price of a
  bias. Its per-row terms are ``F_ii`` minus the (shared) clipped log-partition, so its
  interval leaves out the partition term's spread.

All three are *lower bounds*: an undertrained critic under-reports, an overfit one
(trained past where it generalises) too, down to negative held-out figures.

#### Training to convergence

The rows are split three ways: a training split, a validation split (``val`` of the
non-held-out rows, at most ``eval_size``) and the held-out split (``holdout``, at most
``eval_size`` rows) on which the bound is reported, with per-row terms for the bootstrap
interval. The critic (``separable`` ``f = g(x) . h(y)``, or ``concat``, one MLP on
``[x, y]``) is trained with Adam under a cosine learning-rate decay (``lr`` to ``lr/20``
over ``steps``), the validation bound measured every ``eval_every`` steps; training stops
after ``patience`` measurements without improvement and the critic with the best
validation bound is restored (early stopping); the constant critic, whose bound is exactly
0, is the baseline: if no trained critic beats it on the validation rows the figure is 0
(``extra["critic"] = "constant ..."``), the bound that is certain. A critic whose loss or
validation bound stops being finite before any critic beat 0 is *diverged*: the figure is
NaN with ``flag = "diverged"`` and a warning, never a number (one that diverges later is
reported from its best critic, ``extra["diverged_at"]``). A held-out bound outside
``[0, log2 n_eval]`` by more than its sampling spread is flagged likewise
(:func:`~.base.check_estimate`).
``Estimate.extra`` holds ``steps`` run, ``best_step`` and the validation bound. Under a
``tf.distribute`` strategy the critic trains data-parallel: each replica gets ``batch /
R`` pairs (its own negatives), gradients are summed over replicas by the optimizer with
each replica's loss divided by ``R``.
"""
import math

import numpy as np

from infozoo.probe.estimators import base

BOUNDS = ("infonce", "nwj", "smile")


def _mlp(width, depth, out, name):
    import keras
    layers = [keras.layers.Dense(width, activation="relu", name=f"{name}_{i}")
              for i in range(depth)]
    return keras.Sequential(layers + [keras.layers.Dense(out, name=f"{name}_out")], name=name)


class Critic:
    """``f(x, y)`` as a score matrix ``[b, b']``."""

    def __init__(self, kind, width, depth, embed):
        if kind not in ("separable", "concat"):
            raise ValueError(f"critic must be 'separable' or 'concat', got {kind!r}")
        self.kind = kind
        if kind == "separable":
            self.g = _mlp(width, depth, embed, "critic_x")
            self.h = _mlp(width, depth, embed, "critic_y")
        else:
            self.f = _mlp(width, depth, 1, "critic_xy")

    def build(self, dx, dy):
        if self.kind == "separable":
            self.g.build((None, dx))
            self.h.build((None, dy))
        else:
            self.f.build((None, dx + dy))

    @property
    def trainable_variables(self):
        if self.kind == "separable":
            return self.g.trainable_variables + self.h.trainable_variables
        return self.f.trainable_variables

    def scores(self, x, y):
        import tensorflow as tf
        if self.kind == "separable":
            return tf.matmul(self.g(x), self.h(y), transpose_b=True)
        b, c = tf.shape(x)[0], tf.shape(y)[0]
        xx = tf.repeat(x, c, axis=0)
        yy = tf.tile(y, [b, 1])
        return tf.reshape(self.f(tf.concat([xx, yy], axis=1)), [b, c])


def bound_terms(bound, f, tau=5.0):
    """Per-row terms (nats) of the bound from a square score matrix ``f`` ``[b, b]``."""
    import tensorflow as tf
    b = tf.shape(f)[0]
    diag = tf.linalg.diag_part(f)
    if bound == "infonce":
        return diag - tf.reduce_logsumexp(f, axis=1) + tf.math.log(tf.cast(b, f.dtype))
    off = 1.0 - tf.eye(b, dtype=f.dtype)
    if bound == "smile":
        fc = tf.clip_by_value(f, -tau, tau)
        neg = tf.where(off > 0, fc, tf.constant(-np.inf, f.dtype))
        z = tf.reduce_logsumexp(neg) - tf.math.log(tf.cast(b * (b - 1), f.dtype))
        return diag - z
    e = tf.exp(tf.minimum(f, 60.0)) * off  # clipped: a runaway critic gives a huge
    return diag - tf.reduce_sum(e, axis=1) / (math.e * tf.cast(b - 1, f.dtype))  # penalty, not inf


def train_loss(bound, f, tau=5.0):
    """The training objective (to minimise): the negative bound; SMILE's gradient comes
    from the Jensen-Shannon bound (Song & Ermon's code), its value from the clipped DV."""
    import tensorflow as tf
    if bound != "smile":
        return -tf.reduce_mean(bound_terms(bound, f))
    b = tf.shape(f)[0]
    off = 1.0 - tf.eye(b, dtype=f.dtype)
    js = (-tf.reduce_mean(tf.nn.softplus(-tf.linalg.diag_part(f)))
          - tf.reduce_sum(tf.nn.softplus(f) * off) / tf.cast(b * (b - 1), f.dtype))
    dv = tf.reduce_mean(bound_terms("smile", f, tau))
    return -(js + tf.stop_gradient(dv - js))


class Neural:
    """Options: ``critic`` ("separable"), ``steps`` (2000, the most; early stopping ends
    sooner), ``batch`` (256), ``lr`` (1e-3, cosine-decayed to lr/20), ``width`` (128),
    ``depth`` (2), ``embed`` (32), ``holdout`` (0.3), ``val`` (0.2 of the rest),
    ``eval_size`` (2048), ``eval_every`` (50), ``patience`` (6), ``tau`` (5, SMILE's clip),
    ``standardize`` (True), ``seed`` (0)."""
    shannon = True
    deterministic = False
    uses_x = True
    bounded = True   # a lower bound from n rows: flagged outside [0, log2 n]
    interval = "terms"

    def __init__(self, bound, critic="separable", steps=2000, batch=256, lr=1e-3, width=128,
                 depth=2, embed=32, holdout=0.3, val=0.2, eval_size=2048, eval_every=50,
                 patience=6, tau=5.0, standardize=True, seed=0):
        if bound not in BOUNDS:
            raise ValueError(f"unknown bound {bound!r}: use one of {BOUNDS}")
        self.name = self.bound = bound
        self.critic = str(critic)
        if self.critic not in ("separable", "concat"):
            raise ValueError(f"{bound}: critic must be 'separable' or 'concat', got {critic!r}")
        c = lambda k, v, m=1: base.check_int(bound, k, v, m)  # noqa: E731
        self.steps, self.batch = c("steps", steps), c("batch", batch, 2)
        self.width, self.depth, self.embed = c("width", width), c("depth", depth, 0), \
            c("embed", embed)
        self.eval_size, self.eval_every = c("eval_size", eval_size, 2), c("eval_every", eval_every)
        self.patience = c("patience", patience)
        self.lr, self.holdout, self.val, self.tau = float(lr), float(holdout), float(val), \
            float(tau)
        if not 0.0 < self.holdout < 1.0:
            raise ValueError(f"{bound}: holdout must be in (0, 1), got {holdout}")
        if not 0.0 < self.val < 1.0:
            raise ValueError(f"{bound}: val must be in (0, 1), got {val}")
        if not self.lr > 0 or not self.tau > 0:
            raise ValueError(f"{bound}: lr and tau must be > 0, got {lr}, {tau}")
        self.standardize, self.seed = bool(standardize), int(seed)
        self.info = {}
        self.options = {"critic": self.critic, "steps": self.steps, "batch": self.batch,
                        "lr": self.lr, "width": self.width, "depth": self.depth,
                        "embed": self.embed, "holdout": self.holdout, "val": self.val,
                        "eval_size": self.eval_size, "patience": self.patience,
                        "seed": self.seed}
        if bound == "smile":
            self.options["tau"] = self.tau

    def _scores(self, critic, x, y):
        """The ``[n, n]`` score matrix of ``x`` against ``y`` in row chunks (float64)."""
        import tensorflow as tf
        n = int(x.shape[0])
        rows = max(1, 2 ** 22 // (n * (int(x.shape[1]) + int(y.shape[1])
                                       if self.critic == "concat" else 1)))
        f = tf.concat([critic.scores(x[i:i + rows], y) for i in range(0, n, rows)], 0)
        return tf.cast(f, tf.float64)

    def terms(self, x, y, strategy=None):
        import keras
        import tensorflow as tf
        x, y = base.check_pair(x, y, dtype=np.float32, min_n=12)
        if self.standardize:
            x, y = base.standardize(x), base.standardize(y)
        n = len(x)
        rng = np.random.RandomState(self.seed)
        perm = rng.permutation(n)
        n_eval = max(2, min(self.eval_size, int(round(n * self.holdout))))
        n_val = max(2, min(self.eval_size, int(round((n - n_eval) * self.val))))
        ev, va, tr = perm[:n_eval], perm[n_eval:n_eval + n_val], perm[n_eval + n_val:]
        if len(tr) < 2:
            raise ValueError(f"{self.name}: too few samples ({n}) for a training split")
        strategy = strategy or tf.distribute.get_strategy()
        R = base.replicas(strategy)
        per = max(2, min(self.batch, len(tr)) // R)
        keras.utils.set_random_seed(self.seed)
        with strategy.scope():
            critic = Critic(self.critic, self.width, self.depth, self.embed)
            critic.build(x.shape[1], y.shape[1])
            sched = keras.optimizers.schedules.CosineDecay(self.lr, self.steps, alpha=0.05)
            opt = keras.optimizers.Adam(sched)
            opt.build(critic.trainable_variables)
        bound, tau = self.bound, self.tau

        def replica_step(xb, yb):
            with tf.GradientTape() as tape:
                loss = train_loss(bound, critic.scores(xb, yb), tau) / R
            grads = tape.gradient(loss, critic.trainable_variables)
            opt.apply_gradients(zip(grads, critic.trainable_variables))
            return loss

        @tf.function
        def step(xb, yb):
            return strategy.reduce(tf.distribute.ReduceOp.SUM,
                                   strategy.run(replica_step, args=(xb, yb)), axis=None)

        shard = lambda a: base.replica_batches(strategy, a, per)  # noqa: E731

        xtr, ytr = x[tr], y[tr]
        xv, yv = tf.constant(x[va]), tf.constant(y[va])
        value = lambda a, b: float(tf.reduce_mean(  # noqa: E731
            bound_terms(bound, self._scores(critic, a, b), tau))) / base.LN2
        # the constant critic's bound is exactly 0 for all three: a trained critic must beat it
        best, best_step, since, diverged, done = 0.0, 0, 0, False, 0
        best_w = [v.numpy() for v in critic.trainable_variables]
        for it in range(1, self.steps + 1):
            sel = rng.choice(len(tr), size=per * R, replace=False) if len(tr) >= per * R \
                else rng.randint(0, len(tr), size=per * R)
            loss = float(step(shard(xtr[sel]), shard(ytr[sel])))
            done = it
            if not np.isfinite(loss):
                diverged = True
                break
            if it % self.eval_every == 0 or it == self.steps:
                v = value(xv, yv)
                if not np.isfinite(v):
                    diverged = True
                    break
                if v > best:
                    best, best_step, since = v, it, 0
                    best_w = [w.numpy() for w in critic.trainable_variables]
                else:
                    since += 1
                    if since >= self.patience:
                        break
        for w, b in zip(critic.trainable_variables, best_w):
            w.assign(b)
        self.info = {"n_eval": n_eval, "steps": done, "best_step": best_step,
                     "val_bits": float(best)}
        if diverged and best_step == 0:
            self.info["flag"] = "diverged"
        elif diverged:
            self.info["diverged_at"] = done  # the best critic before it is reported
        if best_step == 0 and "flag" not in self.info:
            self.info["critic"] = "constant (no trained critic beat 0 on the validation rows)"
            return np.zeros(n_eval)
        f = self._scores(critic, tf.constant(x[ev]), tf.constant(y[ev]))
        t = np.asarray(bound_terms(bound, f, tau)) / base.LN2
        if not np.all(np.isfinite(t)):
            self.info["flag"] = "diverged"
        return t

    def __call__(self, x, y, strategy=None):
        t = self.terms(x, y, strategy)
        return float(t.mean()), t
