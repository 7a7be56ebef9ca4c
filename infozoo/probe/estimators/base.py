"""What every estimator shares: the :class:`Estimate` it returns, input checks, the
bootstrap interval and the row sharding over ``tf.distribute`` replicas.

An estimator reports mutual information in **bits**. Its ``interval`` attribute says how
its interval is made (``Estimate.ci_method``):

- ``"half-samples"`` (``ksg``): the estimator re-run on ``K`` random halves of the rows,
  the delete-d jackknife's standard error (``d = n/2``: the spread of the half-sample
  estimates), the interval ``value -/+ t_{K-1} se`` (:func:`halfsample_interval`). KSG's
  per-sample terms share neighbourhoods, so a bootstrap of them under-covers (71 % at
  5 + 5 dimensions); ``n/10``-row sub-batches scaled by ``1/sqrt(10)`` did too (68 %);
- ``"terms"`` (``noisy``, the neural bounds on their held-out split): a percentile
  bootstrap of the mean of the per-sample terms (cheap: no re-estimation);
- ``"rows"`` (``gaussian``, ``flow``, ``renyi``): re-estimated on ``n_boot`` row
  resamples, a percentile interval shifted by the bootstrap's median bias (resampled rows
  repeat samples, which moves these estimators up): it always holds the estimate.

The interval shows the spread that comes from the finite batch, not the estimator's
bias: that is what ``docs/information.md``'s benchmark is for. :func:`check_estimate`
flags a figure that cannot be read as bits (NaN, a diverged critic, a lower bound outside
``[0, log2 n]``): its value becomes NaN, the flag says why, and a warning is issued.
"""
import math
import warnings
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
    #: why the figure is not a number of bits (None: it is): "nan", "diverged",
    #: "below 0", "above log2 n"
    flag: str = None
    #: estimator-specific details (the raw value of a flagged figure, training steps, ...)
    extra: dict = field(default_factory=dict)
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
                "n": int(self.n), "options": dict(self.options), "flag": self.flag,
                "extra": {k: _jsonable(v) for k, v in self.extra.items()},
                "ceiling": _f(self.ceiling), "at_ceiling": self.at_ceiling}


def _f(v):
    return None if v is None else float(v)


def _jsonable(v):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


def check_int(est, name, value, minimum=1):
    """``value`` as an int >= ``minimum``; a fraction (``k=2.5``) or a bool is refused."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        ok = True
    if not ok or int(value) < minimum:
        raise ValueError(f"{est}: {name} must be an integer >= {minimum} (a count), got "
                         f"{value!r}")
    return int(value)


def check_estimate(out, bounded=False, tol=0.0):
    """Flags ``out`` in place when its value is not a number of bits: NaN/inf, or (for a
    lower bound from ``out.n`` evaluation rows, ``bounded``) outside ``[0, log2 n]`` by more
    than ``tol`` (its sampling spread). The value becomes NaN, the raw one goes to
    ``extra["raw_value"]``, and a ``RuntimeWarning`` says why."""
    v = float(out.value)
    flag = out.flag
    if flag is None and not math.isfinite(v):
        flag = "nan"
    elif flag is None and bounded and v < -tol:
        flag = "below 0"
    elif flag is None and bounded and v > math.log2(max(out.n, 2)) + tol:
        flag = "above log2 n"
    if flag is None:
        return out
    out.extra.setdefault("raw_value", v)
    out.flag, out.value, out.low, out.high = flag, float("nan"), None, None
    why = {"nan": "the estimate is not finite",
           "diverged": "the critic diverged during training",
           "below 0": f"a lower bound of {v:.3g} bits is below 0: the critic does not "
                      f"generalise to the held-out rows (overfit or undertrained)",
           "above log2 n": f"{v:.3g} bits exceed log2 n = {math.log2(max(out.n, 2)):.3g} "
                           f"for the {out.n} evaluation rows: no sample-based bound can "
                           f"certify that"}.get(flag, flag)
    warnings.warn(f"{out.estimator}: {why}; reported as NaN (flag {flag!r}, raw value in "
                  f"extra['raw_value'])", RuntimeWarning, stacklevel=3)
    return out


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


def shifted_percentile(value, values, level):
    """The percentile interval of re-estimates ``values`` moved by their median bias,
    ``[q_lo, q_hi] - (median - value)``: it always holds ``value``, and equals the plain
    percentile interval when the re-estimates centre on it. (The *basic* interval
    ``[2v - q_hi, 2v - q_lo]`` excludes ``v`` when the re-estimates all lie above it, as a
    covariance estimator's do at ``d`` near ``n``.)"""
    lo, hi = percentile_interval(values, level)
    shift = float(np.median(np.asarray(values, np.float64))) - float(value)
    return lo - shift, hi - shift


def halfsample_interval(fn, n, level, n_sub=10, seed=0, min_rows=2):
    """Half-width ``t_{K-1} se`` of the delete-d jackknife with ``d = n/2`` (Shao & Wu
    1989): ``fn(rows)`` on ``K = n_sub`` random halves of the rows (without replacement),
    ``se^2 = (r/d) var(half estimates) = var(half estimates)``. Returns ``(half_width,
    half-sample values)``. Unlike a bootstrap of per-sample terms it re-estimates, so the
    terms' shared neighbourhoods are in the spread; unlike ``n/B``-row sub-batches scaled by
    ``1/sqrt(B)`` it needs no ``1/n`` variance law (KSG's spread falls more slowly)."""
    from scipy import stats
    k = int(n_sub)
    if k < 2 or n // 2 < min_rows:
        raise ValueError(f"the half-sample interval needs n_sub >= 2 and at least "
                         f"{2 * min_rows} rows, got n_sub = {n_sub}, {n} rows")
    rng = np.random.RandomState(seed)
    vals = np.array([fn(np.sort(rng.permutation(n)[:n // 2])) for _ in range(k)], np.float64)
    return float(stats.t.ppf(0.5 + level / 2.0, k - 1) * vals.std(ddof=1)), vals


def replicas(strategy):
    return 1 if strategy is None else int(strategy.num_replicas_in_sync)


def replica_batches(strategy, a, per):
    """A global batch ``a`` of ``R * per`` rows as a tensor (one replica) or as a distributed
    value, replica ``r`` holding rows ``r * per .. (r + 1) * per`` (data-parallel training)."""
    import tensorflow as tf
    if replicas(strategy) == 1:
        return tf.constant(a)
    return strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.constant(a[ctx.replica_id_in_sync_group * per:
                                  (ctx.replica_id_in_sync_group + 1) * per]))


def sharded_rows(core, n, block, strategy, *data):
    """Runs ``core(idx, *data) -> [b, ...]`` over the row blocks ``idx`` of ``0..n-1``
    and concatenates the results in row order (NumPy).

    Under a ``tf.distribute`` strategy with ``R > 1`` replicas every replica holds the
    whole ``data`` and takes every ``R``-th block (rows of the distance computations split
    over replicas). A block's result does not depend on which replica computed it, so
    the figures equal the one-replica figures. The blocks are gathered over all replicas
    (``strategy.gather``), so every worker of a multi-worker strategy gets all rows.
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
        res = strategy.gather(strategy.run(core, args=(idx, *dist)), axis=0)
        out.append(np.asarray(res)[:sum(len(b) for b in group)])  # idle replicas' repeats off
    return np.concatenate(out)
