"""Mutual-information estimators, one interface, registered by name.

``mutual_information(x, y, estimator="ksg", **options)`` takes two batches of paired
samples ``x [n, ...]``, ``y [n, ...]`` and returns bits. Registered:

- ``ksg``: Kraskov-Stoegbauer-Grassberger estimator 1 (:mod:`.ksg`), the default;
- ``gaussian``: closed form from the shrunk joint covariance (:mod:`.gaussian`);
- ``infonce``, ``nwj``: neural variational lower bounds (:mod:`.neural`);
- ``noisy``: ``I(X; T + sigma Z)`` by sample propagation (Goldfeld et al. 2019, :mod:`.noisy`);
- ``input-noise``: ``I(X; T_l)`` of every layer of a network fed ``X + sigma N``
  (:mod:`.input_noise`; the probe's per-layer figure, needs the model);
- ``renyi``: the matrix-based Renyi-alpha functional (:mod:`.renyi`; *not* Shannon).

:mod:`.known` generates the known-answer families the tests and ``bin/bench_mi`` use.
"""
from infozoo.probe.estimators import base
from infozoo.probe.estimators.base import Estimate  # noqa: F401

_ESTIMATORS = {}


def register_estimator(name):
    """Decorator: registers a factory ``(**options) -> estimator`` under ``name``."""
    def deco(factory):
        if name in _ESTIMATORS and _ESTIMATORS[name] is not factory:
            raise ValueError(f"estimator name {name!r} is registered twice")
        _ESTIMATORS[name] = factory
        return factory
    return deco


def estimator_names():
    return sorted(_ESTIMATORS)


def get_estimator(name, **options):
    """An estimator object configured with ``options`` (ValueError on a bad name/option)."""
    if name not in _ESTIMATORS:
        raise ValueError(f"unknown estimator {name!r}; available: {', '.join(estimator_names())}")
    try:
        return _ESTIMATORS[name](**options)
    except TypeError as e:
        raise ValueError(f"{name}: bad option ({e}); see help(infozoo.probe.estimators."
                         f"{'neural' if name in ('infonce', 'nwj') else name})") from None


def parse_names(text):
    """``"ksg,noisy"`` -> ``["ksg", "noisy"]``, every name checked."""
    names = [s.strip() for s in str(text).split(",") if s.strip()]
    if not names:
        raise ValueError("no estimator given: e.g. --estimator ksg,noisy")
    for s in names:
        if s not in _ESTIMATORS:
            raise ValueError(f"unknown estimator {s!r}; available: {', '.join(estimator_names())}")
    return list(dict.fromkeys(names))


@register_estimator("ksg")
def _ksg(**options):
    from infozoo.probe.estimators.ksg import KSG
    return KSG(**options)


@register_estimator("gaussian")
def _gaussian(**options):
    from infozoo.probe.estimators.gaussian import Gaussian
    return Gaussian(**options)


@register_estimator("infonce")
def _infonce(**options):
    from infozoo.probe.estimators.neural import Neural
    return Neural("infonce", **options)


@register_estimator("nwj")
def _nwj(**options):
    from infozoo.probe.estimators.neural import Neural
    return Neural("nwj", **options)


@register_estimator("noisy")
def _noisy(**options):
    from infozoo.probe.estimators.noisy import Noisy
    return Noisy(**options)


@register_estimator("input-noise")
def _input_noise(**options):
    from infozoo.probe.estimators.input_noise import InputNoise
    return InputNoise(**options)


@register_estimator("renyi")
def _renyi(**options):
    from infozoo.probe.estimators.renyi import RenyiMatrix
    return RenyiMatrix(**options)


def estimate(est, x, y, ci=None, n_boot=None, strategy=None, seed=0):
    """Runs a configured estimator; with ``ci`` (e.g. 0.95) adds a bootstrap interval.

    Estimators with per-sample terms: percentile bootstrap of their mean (``n_boot``
    default 1000). Others: the estimator re-run on ``n_boot`` (default 100) resamples
    of the rows, as a *basic* bootstrap interval ``[2 v - q_hi, 2 v - q_lo]``
    (``ci_method = "rows"``): resampled rows repeat samples, which shifts estimators up,
    and the basic interval carries that shift back instead of reporting it.
    """
    value, terms = est(x, y, strategy=strategy)
    n = len(x)
    out = Estimate(est.name, value, n, options=dict(est.options), terms=terms)
    out.ceiling = est.ceiling(n) if hasattr(est, "ceiling") else None
    if ci is None:
        return out
    level = base.check_level(ci)
    out.level = level
    if terms is not None:
        lo, hi = base.bootstrap_terms(terms, level, n_boot or 1000, seed)
        out.low, out.high, out.ci_method = value + lo, value + hi, "terms"
    else:
        import numpy as np
        rng = np.random.RandomState(seed)
        xs, ys = np.asarray(x), np.asarray(y)
        vals = []
        for _ in range(int(n_boot or 100)):
            i = rng.randint(0, n, size=n)
            vals.append(est(xs[i], ys[i], strategy=strategy)[0])
        lo, hi = base.percentile_interval(vals, level)
        out.low, out.high = 2 * value - hi, 2 * value - lo
        out.ci_method = "rows"
    return out


def mutual_information(x, y, estimator="ksg", ci=None, n_boot=None, strategy=None, seed=0,
                       **options):
    """Mutual information of paired batches ``x``, ``y`` in bits.

    ``estimator``: a registered name (``ksg``, ``gaussian``, ``infonce``, ``nwj``, ``noisy``
    (needs ``sigma=``), ``renyi``); ``options`` go to it. Returns a float, or with
    ``ci=0.95`` an :class:`Estimate` (``value``, ``low``, ``high``, ...; ``float()`` works).
    ``strategy``: a ``tf.distribute`` strategy to shard over (default: none).
    """
    est = get_estimator(estimator, **options)
    out = estimate(est, x, y, ci=ci, n_boot=n_boot, strategy=strategy, seed=seed)
    return out if ci is not None else float(out.value)
