"""What every estimator shares: the :class:`Estimate` it returns, input checks, the
bootstrap interval and the row sharding over ``tf.distribute`` replicas.

An estimator reports mutual information in **bits**. Where its value is the mean of
per-sample terms (KSG, the noisy-channel estimator, the neural bounds on their held-out
split) it hands those terms back, and the interval is a bootstrap over them (cheap: no
re-estimation). Otherwise (``gaussian``, ``renyi``) the interval re-estimates on
``n_boot`` resamples of the rows. Either way the interval shows the spread that comes
from the finite batch, not the estimator's bias: that is what ``docs/information.md``'s
benchmark is for.
"""
import math
from dataclasses import dataclass, field

import numpy as np

LN2 = math.log(2.0)


@dataclass
class Estimate:
    """One figure: ``value`` in bits, with ``low``/``high`` at ``level`` when asked;
    ``ceiling``: the most the estimator can report at this ``n`` (``log2 n`` for the
    sample-propagation estimators; None where it has none)."""
    estimator: str
    value: float
    n: int
    low: float = None
    high: float = None
    level: float = None
    ci_method: str = None
    options: dict = field(default_factory=dict)
    terms: np.ndarray = field(default=None, repr=False)
    ceiling: float = None

    @property
    def at_ceiling(self):
        """True when the value is within its interval's width of the ceiling (or reaches
        it): the figure cannot tell the layer's information from the sample's limit."""
        if self.ceiling is None:
            return False
        width = (self.high - self.low) if self.high is not None else 0.0
        return bool(self.ceiling - self.value <= max(width, 1e-9))

    def __float__(self):
        return float(self.value)

    def as_dict(self):
        """The JSON-able fields (no per-sample terms)."""
        return {"estimator": self.estimator, "value": float(self.value), "low": _f(self.low),
                "high": _f(self.high), "level": _f(self.level), "ci_method": self.ci_method,
                "n": int(self.n), "options": dict(self.options), "ceiling": _f(self.ceiling),
                "at_ceiling": self.at_ceiling}


def _f(v):
    return None if v is None else float(v)


def as_matrix(x, name, dtype=None):
    """``[n, ...] -> [n, d]`` NumPy (float32 stays float32, anything else float64)."""
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[0] < 1:
        raise ValueError(f"{name} must be a batch [n, ...] of samples, got shape {x.shape}")
    if dtype is None:
        dtype = np.float32 if x.dtype == np.float32 else np.float64
    x = x.reshape(x.shape[0], -1).astype(dtype, copy=False)
    if x.shape[1] == 0:
        raise ValueError(f"{name} has no features (shape {x.shape})")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or inf values: clean the batch first")
    return x


def check_pair(x, y, dtype=None, min_n=2):
    x, y = as_matrix(x, "x", dtype), as_matrix(y, "y", dtype)
    if len(x) != len(y):
        raise ValueError(f"x and y must hold the same number of paired samples, got "
                         f"{len(x)} and {len(y)}")
    if len(x) < min_n:
        raise ValueError(f"need at least {min_n} paired samples, got {len(x)}")
    if x.dtype != y.dtype:
        dt = np.float64
        x, y = x.astype(dt), y.astype(dt)
    return x, y


def standardize(x):
    """Per-dimension zero mean and unit variance (constant dimensions: centred only)."""
    x = x - x.mean(axis=0, keepdims=True)
    sd = x.std(axis=0, keepdims=True)
    return (x / np.where(sd > 0, sd, 1.0)).astype(x.dtype, copy=False)


def check_level(level):
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"the confidence level must be in (0, 1), e.g. 0.95; got {level}")
    return level


def bootstrap_terms(terms, level, n_boot=1000, seed=0):
    """Percentile interval of the mean of ``terms`` over ``n_boot`` resamples; returns the
    shifts ``(low - mean, high - mean)`` so an estimator's constant offset carries over."""
    terms = np.asarray(terms, np.float64).ravel()
    rng = np.random.RandomState(seed)
    m = terms.mean()
    means = np.empty(int(n_boot))
    for i in range(0, int(n_boot), 64):  # 64 resamples at a time: memory 64 x n
        b = min(64, int(n_boot) - i)
        means[i:i + b] = terms[rng.randint(0, len(terms), size=(b, len(terms)))].mean(axis=1)
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [a, 1.0 - a])
    return lo - m, hi - m


def percentile_interval(values, level):
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(np.asarray(values, np.float64), [a, 1.0 - a])
    return float(lo), float(hi)


def replicas(strategy):
    return 1 if strategy is None else int(strategy.num_replicas_in_sync)


def sharded_rows(core, n, block, strategy, *data):
    """Runs ``core(idx, *data) -> [b, ...]`` over the row blocks ``idx`` of ``0..n-1``
    and concatenates the results in row order (NumPy).

    Under a ``tf.distribute`` strategy with ``R > 1`` replicas every replica holds the
    whole ``data`` and takes every ``R``-th block (rows of the distance computations split
    over replicas). A block's result does not depend on which replica computed it, so
    the figures equal the one-replica figures.
    """
    import tensorflow as tf
    block = max(1, int(block))
    blocks = [np.arange(s, min(s + block, n), dtype=np.int32) for s in range(0, n, block)]
    R = replicas(strategy)
    if R == 1:
        data = [tf.constant(d) for d in data]
        return np.concatenate([np.asarray(core(tf.constant(b), *data)) for b in blocks])
    dist = [strategy.experimental_distribute_values_from_function(
        lambda ctx, d=d: tf.constant(d)) for d in data]
    out = []
    for g in range(0, len(blocks), R):
        group = blocks[g:g + R]
        padded = group + [group[-1]] * (R - len(group))  # idle replicas redo a block
        idx = strategy.experimental_distribute_values_from_function(
            lambda ctx, p=padded: tf.constant(p[ctx.replica_id_in_sync_group]))
        res = strategy.experimental_local_results(strategy.run(core, args=(idx, *dist)))
        out += [np.asarray(r) for r in res[:len(group)]]
    return np.concatenate(out)
