"""Neural variational lower bounds: ``infonce`` and ``nwj`` (Poole et al. 2019).

#### Mathematical details

A critic ``f(x, y)`` scores pairs; on a batch of ``b`` pairs with score matrix
``F_ij = f(x_i, y_j)``:

- InfoNCE (van den Oord et al. 2018; Poole et al. Eq. 12):
  ``I >= mean_i [F_ii - log (1/b) sum_j exp F_ij]``. Low variance, but it can never
  exceed ``log b``: with ``b`` evaluation samples nothing above ``log2 b`` bits is reachable.
- NWJ (Nguyen, Wainwright, Jordan 2010; Poole et al. Eq. 9, "f-GAN KL"):
  ``I >= mean_i F_ii - e^{-1} mean_{i != j} exp F_ij``. Not capped, unbiased in the
  batch, but its variance grows like ``exp(I)``: past a few bits it is noisy.

Both are *lower bounds*: an undertrained critic under-reports. Donsker-Varadhan / MINE is
left out: its minibatch gradient is biased (it needs a moving-average correction) and its
estimate has the same exp(I) variance as NWJ, so it adds nothing the two do not show.

The critic is ``separable`` (``f = g(x) . h(y)``, two MLPs, ``b^2`` scores from ``2b``
network passes) or ``concat`` (one MLP on ``[x, y]``, ``b^2`` passes). It is trained with
Adam in a ``tf.function`` on a training split (``1 - holdout`` of the rows) and the bound
is reported on the held-out split (at most ``eval_size`` rows), with per-row terms for the
bootstrap interval. Under a ``tf.distribute`` strategy the critic trains data-parallel:
each replica gets ``batch / R`` pairs (its own negatives), gradients are summed over
replicas by the optimizer with each replica's loss divided by ``R``.
"""
import math

import numpy as np

from infozoo.probe.estimators import base

BOUNDS = ("infonce", "nwj")


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


def bound_terms(bound, f):
    """Per-row terms (nats) of the bound from a square score matrix ``f`` ``[b, b]``."""
    import tensorflow as tf
    b = tf.shape(f)[0]
    diag = tf.linalg.diag_part(f)
    if bound == "infonce":
        return diag - tf.reduce_logsumexp(f, axis=1) + tf.math.log(tf.cast(b, f.dtype))
    off = 1.0 - tf.eye(b, dtype=f.dtype)
    e = tf.exp(tf.minimum(f, 60.0)) * off  # clipped: a runaway critic gives a huge
    return diag - tf.reduce_sum(e, axis=1) / (math.e * tf.cast(b - 1, f.dtype))  # penalty, not inf


class Neural:
    """Options: ``critic`` ("separable"), ``steps`` (1000), ``batch`` (256), ``lr`` (1e-3),
    ``width`` (128), ``depth`` (2), ``embed`` (32), ``holdout`` (0.5), ``eval_size`` (2048),
    ``standardize`` (True), ``seed`` (0)."""
    shannon = True
    deterministic = False
    uses_x = True

    def __init__(self, bound, critic="separable", steps=1000, batch=256, lr=1e-3, width=128,
                 depth=2, embed=32, holdout=0.5, eval_size=2048, standardize=True, seed=0):
        if bound not in BOUNDS:
            raise ValueError(f"unknown bound {bound!r}: use one of {BOUNDS}")
        self.name = self.bound = bound
        self.critic = str(critic)
        if self.critic not in ("separable", "concat"):
            raise ValueError(f"{bound}: critic must be 'separable' or 'concat', got {critic!r}")
        self.steps, self.batch, self.lr = int(steps), int(batch), float(lr)
        self.width, self.depth, self.embed = int(width), int(depth), int(embed)
        self.holdout, self.eval_size = float(holdout), int(eval_size)
        self.standardize, self.seed = bool(standardize), int(seed)
        for k in ("steps", "batch", "width", "embed", "eval_size"):
            if getattr(self, k) < 1 or (k == "batch" and self.batch < 2):
                raise ValueError(f"{bound}: {k} must be a positive integer (batch >= 2)")
        if not 0.0 < self.holdout < 1.0 or not self.lr > 0:
            raise ValueError(f"{bound}: holdout must be in (0, 1) and lr > 0")
        self.options = {"critic": self.critic, "steps": self.steps, "batch": self.batch,
                        "lr": self.lr, "width": self.width, "depth": self.depth,
                        "embed": self.embed, "holdout": self.holdout,
                        "eval_size": self.eval_size, "seed": self.seed}

    def terms(self, x, y, strategy=None):
        import keras
        import tensorflow as tf
        x, y = base.check_pair(x, y, dtype=np.float32, min_n=8)
        if self.standardize:
            x, y = base.standardize(x), base.standardize(y)
        n = len(x)
        rng = np.random.RandomState(self.seed)
        perm = rng.permutation(n)
        n_eval = max(2, min(self.eval_size, int(round(n * self.holdout))))
        tr, ev = perm[n_eval:], perm[:n_eval]
        if len(tr) < 2:
            raise ValueError(f"{self.name}: too few samples ({n}) for a training split")
        strategy = strategy or tf.distribute.get_strategy()
        R = base.replicas(strategy)
        per = max(2, min(self.batch, len(tr)) // R)
        keras.utils.set_random_seed(self.seed)
        with strategy.scope():
            critic = Critic(self.critic, self.width, self.depth, self.embed)
            critic.build(x.shape[1], y.shape[1])
            opt = keras.optimizers.Adam(self.lr)
            opt.build(critic.trainable_variables)
        bound = self.bound

        def replica_step(xb, yb):
            with tf.GradientTape() as tape:
                loss = -tf.reduce_mean(bound_terms(bound, critic.scores(xb, yb))) / R
            grads = tape.gradient(loss, critic.trainable_variables)
            opt.apply_gradients(zip(grads, critic.trainable_variables))
            return loss

        @tf.function
        def step(xb, yb):
            return strategy.run(replica_step, args=(xb, yb))

        xtr, ytr = x[tr], y[tr]
        for _ in range(self.steps):
            sel = rng.choice(len(tr), size=per * R, replace=False) if len(tr) >= per * R \
                else rng.randint(0, len(tr), size=per * R)
            xb, yb = xtr[sel], ytr[sel]
            if R > 1:
                xb = strategy.experimental_distribute_values_from_function(
                    lambda ctx, a=xb: tf.constant(a[ctx.replica_id_in_sync_group * per:
                                                    (ctx.replica_id_in_sync_group + 1) * per]))
                yb = strategy.experimental_distribute_values_from_function(
                    lambda ctx, a=yb: tf.constant(a[ctx.replica_id_in_sync_group * per:
                                                    (ctx.replica_id_in_sync_group + 1) * per]))
            step(xb, yb)
        xe, ye = tf.constant(x[ev]), tf.constant(y[ev])
        rows = max(1, 2 ** 22 // (n_eval * (x.shape[1] + y.shape[1] if self.critic == "concat"
                                            else 1)))
        f = tf.concat([critic.scores(xe[i:i + rows], ye) for i in range(0, n_eval, rows)], 0)
        return np.asarray(bound_terms(bound, tf.cast(f, tf.float64))) / base.LN2

    def __call__(self, x, y, strategy=None):
        t = self.terms(x, y, strategy)
        return float(t.mean()), t
