"""Mutual-information estimators, one interface, registered by name.

``mutual_information(x, y, estimator="ksg", **options)`` takes two batches of paired
samples ``x [n, ...]``, ``y [n, ...]`` and returns bits. Registered:

- ``ksg``: Kraskov-Stoegbauer-Grassberger estimator 1 (:mod:`.ksg`), the default;
- ``gaussian``: closed form from the shrunk joint covariance (:mod:`.gaussian`);
- ``copula``: an elliptical (Gaussian or Student-t) copula of the ranks, chosen by
  likelihood (:mod:`.copula`);
- ``flow``: a normalizing flow per side to a joint Gaussian (Butakov et al. 2024, :mod:`.flow`);
- ``infonce``, ``nwj``, ``smile``: neural variational lower bounds (:mod:`.neural`);
- ``noisy``: ``I(X; T + sigma Z)`` by sample propagation (Goldfeld et al. 2019, :mod:`.noisy`;
  reads ``T`` alone: :func:`noisy_information`);
- ``input-noise``: ``I(X; T_l)`` of every layer of a network fed ``X + sigma N``
  (:mod:`.input_noise`; the probe's per-layer figure, needs the model);
- ``renyi``: the matrix-based Renyi-alpha functional (:mod:`.renyi`; *not* Shannon).

:mod:`.known` generates the known-answer families the tests and ``bin/bench_mi`` use.
"""
from infozoo.probe.estimators import base
from infozoo.probe.estimators.base import Estimate  # noqa: F401

_ESTIMATORS = {}
NEURAL = ("infonce", "nwj", "smile")


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
                         f"{'neural' if name in NEURAL else name})") from None


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


def _neural(bound):
    def factory(**options):
        from infozoo.probe.estimators.neural import Neural
        return Neural(bound, **options)
    return factory


for _bound in NEURAL:
    register_estimator(_bound)(_neural(_bound))


@register_estimator("copula")
def _copula(**options):
    from infozoo.probe.estimators.copula import Copula
    return Copula(**options)


@register_estimator("flow")
def _flow(**options):
    from infozoo.probe.estimators.flow import FlowMI
    return FlowMI(**options)


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


def estimate(est, x, y, ci=None, n_boot=None, strategy=None, seed=0, n_sub=None):
    """Runs a configured estimator; with ``ci`` (e.g. 0.95) adds an interval made the way
    its ``interval`` attribute says (:mod:`.base`): ``"half-samples"`` (re-estimated on
    ``n_sub`` random halves, default 10), ``"terms"`` (percentile bootstrap of the per-sample terms,
    ``n_boot`` default 1000) or ``"rows"`` (re-estimated on ``n_boot`` row resamples,
    default 100, percentile interval shifted by the bootstrap's median bias). Every figure
    passes :func:`.base.check_estimate`: NaN, a diverged critic or a lower bound outside
    ``[0, log2 n]`` comes back as NaN with a ``flag`` and a warning."""
    import numpy as np
    value, terms = est(x, y, strategy=strategy)
    info = dict(getattr(est, "info", None) or {})
    n = int(info.pop("n_eval", len(x)))
    out = Estimate(est.name, value, n, options=dict(est.options), terms=terms,
                   flag=info.pop("flag", None), extra=info)
    out.ceiling = est.ceiling(n) if hasattr(est, "ceiling") else None
    bounded = getattr(est, "bounded", False)
    se = 0.0 if terms is None or len(terms) < 2 else float(np.std(terms) / np.sqrt(len(terms)))
    if ci is not None and out.flag is None and np.isfinite(value):
        level = base.check_level(ci)
        out.level = level
        method = getattr(est, "interval", "terms" if terms is not None else "rows")
        if method == "terms":
            lo, hi = base.bootstrap_terms(terms, level, n_boot or 1000, seed)
            out.low, out.high = value + lo, value + hi
        elif method == "half-samples":
            xs, ys = np.asarray(x), np.asarray(y)
            half, _ = base.halfsample_interval(
                lambda i: est(xs[i], ys[i], strategy=strategy)[0], len(xs), level,
                n_sub or 10, seed, min_rows=getattr(est, "min_rows", 2))
            out.low, out.high = value - half, value + half
        else:
            rng = np.random.RandomState(seed)
            xs, ys = getattr(est, "eval_pair", None) or (np.asarray(x), np.asarray(y))
            rerun = getattr(est, "reestimate", None) or (
                lambda a, b: est(a, b, strategy=strategy)[0])
            m = len(xs)
            vals = [rerun(xs[i], ys[i]) for i in
                    (rng.randint(0, m, size=m) for _ in range(int(n_boot or 100)))]
            out.low, out.high = base.shifted_percentile(value, vals, level)
        out.ci_method = method
    # the sampling spread, at most 0.5 bit: a heavy-tailed NWJ term must not excuse -1e4 bits
    return base.check_estimate(out, bounded=bounded, tol=max(0.05, min(3.0 * se, 0.5)))


def mutual_information(x, y, estimator="ksg", ci=None, n_boot=None, strategy=None, seed=0,
                       **options):
    """Mutual information of paired batches ``x``, ``y`` in bits.

    ``estimator``: a registered name (``ksg``, ``gaussian``, ``flow``, ``infonce``, ``nwj``,
    ``smile``, ``renyi``); ``options`` go to it. Returns a float, or with ``ci=0.95`` an
    :class:`Estimate` (``value``, ``low``, ``high``, ``flag``, ...; ``float()`` works). A
    figure that is not a number of bits (NaN, a diverged critic, a lower bound outside
    ``[0, log2 n]``) is NaN with a warning (and ``Estimate.flag``).
    ``strategy``: a ``tf.distribute`` strategy to shard over (default: none).
    ``noisy`` is refused here: it reads ``y`` alone (see :func:`noisy_information`).
    """
    est = get_estimator(estimator, **options)
    if not getattr(est, "uses_x", True):
        raise ValueError(
            f"{estimator} reads only its second argument: it measures I(X; T + sigma Z) for a "
            f"T that is a deterministic function of X, and would give the same figure for any "
            f"x (x = t, an independent x, a constant x). Call noisy_information(t, sigma=...) "
            f"(infozoo.probe), which takes t alone, for a layer T = f(X) of your network")
    out = estimate(est, x, y, ci=ci, n_boot=n_boot, strategy=strategy, seed=seed)
    return out if ci is not None else float(out.value)


def noisy_information(t, sigma, ci=None, n_boot=None, strategy=None, seed=0, **options):
    """``I(X; T + sigma Z)`` in bits for ``t [n, ...]``, a batch of ``T = f(X)`` with ``f``
    deterministic (a network layer of the inputs ``X``): Goldfeld et al.'s sample
    propagation, ``h(T + sigma Z) - h(sigma Z)`` (:mod:`.noisy`). It takes ``t`` alone
    because that is all it reads: for ``T`` that is not a function of ``X`` the figure is
    not ``I(X; T + sigma Z)``. Options as for ``noisy`` (``relative``, ``mc``, ``seed``)."""
    est = get_estimator("noisy", sigma=sigma, **options)
    out = estimate(est, t, t, ci=ci, n_boot=n_boot, strategy=strategy, seed=seed)
    return out if ci is not None else float(out.value)
