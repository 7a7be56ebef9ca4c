"""Mutual-information estimators against known answers, an independent KSG, and
themselves under 2 replicas. Each tolerance is checked to reject a deliberately wrong
variant of the estimator, so the tests can fail."""
import json
import math

import numpy as np
import pytest
from scipy.spatial import cKDTree
from scipy.special import digamma

from conftest import run_script

LN2 = math.log(2.0)


def MI(x, y, est="ksg", **kw):
    from infozoo.probe import mutual_information
    return mutual_information(x, y, est, **kw)


def NOISY(t, **kw):
    from infozoo.probe import noisy_information
    return noisy_information(t, **kw)


def ref_ksg(x, y, k=5, p=np.inf):
    """Independent KSG 1 with SciPy's cKDTree (max-norm; strict counts via nextafter).
    ``p=2`` is the deliberately wrong variant: Euclidean balls without the volume terms
    ``log(c_dx c_dy / c_dx+dy)`` that the KSG formula then needs."""
    n, z = len(x), np.hstack([x, y])
    eps = cKDTree(z).query(z, k=k + 1, p=p)[0][:, -1]
    r = np.nextafter(eps, 0)
    nx = cKDTree(x).query_ball_point(x, r, p=p, return_length=True) - 1
    ny = cKDTree(y).query_ball_point(y, r, p=p, return_length=True) - 1
    return (digamma(k) + digamma(n) - np.mean(digamma(nx + 1) + digamma(ny + 1))) / LN2


def task(name):
    from infozoo.probe.estimators import known
    return {t.name: t for t in known.tasks()}[name]


# -- ksg ------------------------------------------------------------------------------------
@pytest.mark.slow  # ~8 s
def test_ksg_equals_independent_cKDTree_implementation():
    from infozoo.probe.estimators.base import standardize
    for name in ("gauss-dense-2", "student-5", "gauss-sparse-1-bij"):
        x, y = task(name).sample(400, seed=3)
        for k in (1, 5):
            ref = ref_ksg(standardize(x), standardize(y), k)
            assert MI(x, y, k=k) == pytest.approx(ref, abs=1e-9), (name, k)
            # block and chunk sizes change nothing (exact counting)
            assert MI(x, y, k=k, block=7, memory_mb=0.01) == pytest.approx(ref, abs=1e-9)
    # unequal sides: 37 features (padded to a multiple of the 16-feature chunk) against 3
    r = np.random.RandomState(1)
    x = r.randn(300, 37)
    y = x[:, :3] + 0.5 * r.randn(300, 3)
    assert MI(x, y) == pytest.approx(ref_ksg(standardize(x), standardize(y)), abs=1e-9)


def test_ksg_ties_are_counted_strictly():
    # integer data: many pairs at exactly eps; the paper counts only strictly closer ones
    r = np.random.RandomState(0)
    x = r.randint(0, 4, size=(300, 2)).astype(np.float64)
    y = (x[:, :1] + r.randint(0, 3, size=(300, 1))).astype(np.float64)
    ours = MI(x, y, standardize=False, ties="keep")
    assert ours == pytest.approx(ref_ksg(x, y), abs=1e-9)
    # with the paper's 1e-10 noise the ties are broken and the figure moves
    assert abs(MI(x, y, standardize=False, jitter=1e-10, ties="keep") - ours) > 1e-3
    # a constant y (all at distance 0) beside a continuous x: I = 0, not psi(N) - psi(1)
    assert MI(r.randn(300, 2), np.ones((300, 2))) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("name,tol", [("gauss-dense-1", 0.06), ("gauss-sparse-1", 0.1),
                                      ("gauss-dense-2", 0.1), ("student-1", 0.06),
                                      ("gauss-sparse-1-bij", 0.12), ("indep-1", 0.04),
                                      ("indep-5", 0.04)])
def test_ksg_known_answers(name, tol):
    t = task(name)
    x, y = t.sample(2000, seed=1)
    est = MI(x, y)
    assert est == pytest.approx(t.mi_bits, abs=tol), (name, est, t.mi_bits)
    # the tolerance is tight enough to reject the Euclidean-ball variant
    from infozoo.probe.estimators.base import standardize
    wrong = ref_ksg(standardize(x), standardize(y), p=2)
    assert abs(wrong - t.mi_bits) > tol, (name, wrong)


def test_ksg_standardizes_each_dimension():
    x, y = task("gauss-dense-2").sample(800, seed=2)
    a = MI(x, y)
    # per-dimension affine maps change nothing once each dimension is standardised ...
    assert MI(x * [7.0, 0.01] + 1, -3 * y) == pytest.approx(a, abs=1e-6)
    # ... and without standardisation a badly scaled dimension does
    assert abs(MI(x * [7.0, 0.01] + 1, -3 * y, standardize=False) - a) > 0.05


def test_ksg_k_is_a_count():
    """Issue 18 #165: k=2.5 was accepted (and gave 2.234 against 1.952 at k=5)."""
    x, y = task("gauss-dense-2").sample(200, seed=0)
    for k in (2.5, "3", True, 0):
        with pytest.raises(ValueError, match="k must be an integer"):
            MI(x, y, k=k)
    assert MI(x, y, k=3.0) == MI(x, y, k=3)


def test_ksg_discrete_data_is_jittered_with_a_warning_or_refused():
    """Issue 18 #169: independent 3-valued x, y gave -2.29 bits. Duplicate rows are now
    detected: the paper's 1e-10 noise is added (stated in a warning and in extra), or with
    ties='refuse' a ValueError; ties='keep' is the old figure, far below 0."""
    r = np.random.RandomState(0)
    xi, yi = r.randint(0, 3, (200, 1)).astype(float), r.randint(0, 3, (200, 1)).astype(float)
    with pytest.warns(RuntimeWarning, match="duplicate rows"):
        e = MI(xi, yi, ci=0.95)
    assert abs(e.value) < 0.1 and "jittered" in e.extra["ties"], e
    assert MI(xi, yi, ties="keep") < -1.0
    with pytest.raises(ValueError, match="duplicate rows"):
        MI(xi, yi, ties="refuse")
    # y = x + Bernoulli(1/2) on 4 values: I = H(Y) - H(Y|X) = 2.25 - 1 = 1.25 bits
    x4 = r.randint(0, 4, (2000, 1)).astype(float)
    with pytest.warns(RuntimeWarning):
        assert MI(x4, x4 + r.randint(0, 2, (2000, 1))) == pytest.approx(1.25, abs=0.1)
    # continuous data has no duplicate rows: no warning, no noise
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MI(*task("gauss-dense-1").sample(300, seed=1))


def test_ksg_interval_covers_across_independent_batches():
    """Science audit F2: the bootstrap of KSG's per-sample terms held the across-batch mean
    in 71-91 % of batches. The half-sample (delete-d jackknife) interval must cover >= 90 %
    at nominal 95 %, on 40 independent batches; the terms bootstrap, on the same batches,
    covers less (the test can fail)."""
    from infozoo.probe.estimators import base, get_estimator
    est = get_estimator("ksg")
    vals, ours, old = [], [], []
    for b in range(40):
        r = np.random.RandomState(100 + b)
        x = r.randn(400, 2)
        y = 0.8 * x + 0.6 * r.randn(400, 2)
        e = MI(x, y, ci=0.95, seed=b)
        vals.append(e.value)
        ours.append((e.low, e.high))
        lo, hi = base.bootstrap_terms(est(x, y)[1], 0.95, 300, b)
        old.append((e.value + lo, e.value + hi))
    m = np.mean(vals)
    cover = lambda ints: np.mean([lo <= m <= hi for lo, hi in ints])  # noqa: E731
    assert e.ci_method == "half-samples"
    assert cover(ours) >= 0.9, cover(ours)
    assert cover(old) < cover(ours), (cover(old), cover(ours))


# -- gaussian ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["gauss-dense-5", "gauss-sparse-5", "gauss-dense-25",
                                  "indep-25"])
def test_gaussian_exact_on_gaussians(name):
    t = task(name)
    x, y = t.sample(2000, seed=4)
    est = MI(x, y, "gaussian")
    assert est == pytest.approx(t.mi_bits, abs=0.08), (name, est)
    if name.endswith("25"):  # without the bias correction the figure is 0.15+ bits off
        assert abs(MI(x, y, "gaussian", bias_correct=False) - t.mi_bits) > 0.15


def test_gaussian_shrinks_when_d_near_n():
    x, y = task("gauss-sparse-25").sample(60, seed=0)  # d = 50, n = 60
    assert np.isfinite(MI(x, y, "gaussian"))
    t = np.random.RandomState(0).randn(200, 3)
    # an exact linear relation: Gaussian MI is infinite; auto shrinks to stay finite
    assert np.isfinite(MI(t, t @ np.ones((3, 2)), "gaussian"))


def test_gaussian_interval_holds_its_estimate_and_shrinkage_keeps_strong_dependence():
    """Issue 18 #127 / science audit: at 40 + 40 dimensions, n = 300, a 47.9-bit Gaussian
    read 11.2 bits (Ledoit-Wolf shrinkage, used whenever n < 4 d) with a basic bootstrap
    interval that excluded it. Now unshrunk (it exists for n >= d + 10) and bias-corrected,
    with a shifted percentile interval holding the estimate; both figures reported."""
    r = np.random.RandomState(0)
    d, rho, n = 40, 0.9, 300
    x = r.randn(n, d)
    y = rho * x + math.sqrt(1 - rho ** 2) * r.randn(n, d)
    truth = -0.5 * d * math.log2(1 - rho ** 2)
    e = MI(x, y, "gaussian", ci=0.95, n_boot=60)
    assert e.value == pytest.approx(truth, rel=0.05), (e, truth)
    assert e.low <= e.value <= e.high and e.ci_method == "rows"
    assert e.extra["shrinkage"] == 0.0 and e.extra["unshrunk"] == e.value
    assert e.extra["ledoit_wolf"] < 0.5 * truth  # what the old rule reported
    lw = MI(x, y, "gaussian", shrinkage="ledoit-wolf", ci=0.95, n_boot=60)
    assert lw.value == pytest.approx(e.extra["ledoit_wolf"]) and lw.low <= lw.value <= lw.high
    # n < d + 10: no unshrunk figure; Ledoit-Wolf, and the report says so
    e = MI(x[:45], y[:45], "gaussian", ci=0.9, n_boot=30)
    assert e.extra["unshrunk"] is None and e.extra["shrinkage"] > 0 and e.low <= e.value


# -- noisy -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dx,dt,sigma", [(2, 2, 0.5), (3, 2, 1.0), (4, 4, 1.0)])
def test_noisy_channel_closed_form(dx, dt, sigma):
    from infozoo.probe.estimators import known
    a, truth = known.linear_noisy(dx, dt, sigma, seed=dx)
    x = np.random.RandomState(5).randn(3000, dx)
    est = NOISY(x @ a.T, sigma=sigma, ci=0.95, mc=2)
    assert est.value == pytest.approx(truth, rel=0.1, abs=0.05), (est, truth)
    assert est.low <= est.value <= est.high
    # a variant that forgets h(sigma Z)'s e (-d/2 nats) misses by d/2 / ln 2 bits
    assert abs(est.value + dt / 2 / LN2 - truth) > max(0.1 * truth, 0.05)
    assert est.value <= math.log2(3000)


def test_noisy_relative_sigma_is_in_units_of_the_layers_rms():
    """relative=True: sigma times the RMS of the centred representation, so scaling T by c
    leaves the figure unchanged, and it equals the absolute figure at sigma * RMS."""
    rng = np.random.RandomState(3)
    x = rng.randn(300, 4)
    t = np.tanh(x @ rng.randn(4, 6))
    rms = float(np.sqrt(np.mean((t - t.mean(0)) ** 2)))
    a = NOISY(t, sigma=0.5, relative=True)
    assert NOISY(7.0 * t, sigma=0.5, relative=True) == pytest.approx(a, rel=1e-9)
    assert NOISY(t, sigma=0.5 * rms) == pytest.approx(a, rel=1e-9)
    # with a fixed sigma a pure contraction lowers the figure: the artefact relative avoids
    assert NOISY(0.1 * t, sigma=0.5 * rms) < a - 1.0


def test_noisy_needs_sigma_and_is_capped():
    with pytest.raises(ValueError, match="sigma"):
        NOISY(np.zeros((10, 2)), sigma=None)
    x = np.random.RandomState(0).randn(256, 5) * 100.0  # well separated at sigma = 0.01
    # the own-centre term only: log2 256 bits exactly (no ||z||^2 noise: control variate)
    assert NOISY(x, sigma=0.01) == pytest.approx(8.0, abs=1e-9)
    # and in 784 dimensions, where ||z||^2 / 2 alone has a standard deviation of 20 nats
    x = np.random.RandomState(1).rand(64, 784)
    assert NOISY(x, sigma=0.01) == pytest.approx(6.0, abs=1e-9)
    assert NOISY(x, sigma=10.0) < 0.5


def test_mutual_information_refuses_noisy_which_ignores_x():
    """noisy reads t alone: through the two-argument API it gave one figure for x = t, an
    independent x and a constant x. It is refused there, and the error names the API that
    takes t alone."""
    r = np.random.RandomState(0)
    t = r.randn(200, 2)
    for x in (t, r.randn(200, 2), np.ones((200, 2))):
        with pytest.raises(ValueError, match=r"noisy_information\(t, sigma"):
            MI(x, t, "noisy", sigma=0.5)
    assert np.isfinite(NOISY(t, sigma=0.5))


# -- neural bounds ---------------------------------------------------------------------------
@pytest.mark.slow  # trains critics
@pytest.mark.parametrize("bound,critic", [("infonce", "separable"), ("nwj", "concat"),
                                          ("smile", "separable")])
def test_neural_bounds(bound, critic):
    t = task("gauss-sparse-1")  # 1.2 bits
    x, y = t.sample(1200, seed=6)
    est = MI(x, y, bound, ci=0.95, steps=1000, batch=128, width=32, embed=8, critic=critic)
    # lower bounds: below the truth up to the held-out interval, and not far below it
    assert est.low - 0.1 <= t.mi_bits and est.value > t.mi_bits - 0.35, est
    # early stopping ran: the best critic is restored, before the step budget ran out
    assert 0 < est.extra["best_step"] <= est.extra["steps"] <= 1000
    indep = MI(*task("indep-1").sample(1200, seed=6), bound, steps=1000, batch=128, width=32,
               embed=8, critic=critic)
    assert abs(indep) < 0.1


def test_smile_is_the_clipped_donsker_varadhan_bound():
    """SMILE's value (Song & Ermon 2020, the clipped DV) against NumPy on a random score
    matrix; the unclipped DV bound differs from it at tau = 1 (the test can fail)."""
    import tensorflow as tf
    from infozoo.probe.estimators.neural import bound_terms
    f = np.random.RandomState(0).randn(40, 40) * 4.0
    off = ~np.eye(40, dtype=bool)
    for tau in (1.0, 5.0):
        z = np.log(np.mean(np.exp(np.clip(f, -tau, tau))[off]))
        ref = np.diag(f) - z
        got = np.asarray(bound_terms("smile", tf.constant(f), tau))
        assert got == pytest.approx(ref, abs=1e-9)
    dv = np.diag(f).mean() - np.log(np.mean(np.exp(f)[off]))
    assert abs(np.asarray(bound_terms("smile", tf.constant(f), 1.0)).mean() - dv) > 0.5


def test_lower_bounds_out_of_range_or_nan_are_flagged_not_numbers():
    """Issue 18 #136: a held-out bound of -17 or -6e23 bits, above log2 n, or NaN came back
    as a number. Now NaN, a flag and a warning."""
    from infozoo.probe.estimators import estimate

    class Fake:
        name, options, uses_x, bounded, interval = "fake", {}, True, True, "terms"

        def __init__(self, v):
            self.v = v

        def __call__(self, x, y, strategy=None):
            t = np.full(len(x), self.v) + 1e-3 * np.random.RandomState(0).randn(len(x))
            return float(t.mean()), t
    x = np.zeros((64, 1))
    for v, flag in ((-17.0, "below 0"), (-6e23, "below 0"), (7.0, "above log2 n"),
                    (np.nan, "nan")):
        with pytest.warns(RuntimeWarning, match="reported as NaN"):
            e = estimate(Fake(v), x, x, ci=0.95)
        assert e.flag == flag and np.isnan(e.value) and e.low is None, (v, e)
        assert np.isnan(v) or e.extra["raw_value"] == pytest.approx(v, rel=1e-3)
    assert estimate(Fake(3.0), x, x).flag is None  # inside [0, log2 64]: a number


@pytest.mark.slow  # trains critics
def test_neural_bound_at_64_samples_is_a_number_in_range_or_flagged():
    """The fault battery's case (64 samples): never a figure outside [0, log2 n_eval]."""
    import warnings
    r = np.random.RandomState(0)
    x = r.randn(64, 8)
    y = x + 0.3 * r.randn(64, 8)
    for bound in ("infonce", "nwj"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            e = MI(x, y, bound, ci=0.95, steps=100, batch=32, width=16, embed=4, lr=0.05)
        lim = math.log2(e.n)
        assert (e.flag is not None and np.isnan(e.value)) or -0.2 <= e.value <= lim + 0.2, e


@pytest.mark.slow  # trains a critic
def test_infonce_is_capped_at_log_eval_size():
    x = np.random.RandomState(0).randn(400, 2)
    est = MI(x, x + 1e-3 * np.random.RandomState(1).randn(400, 2), "infonce", steps=300,
             eval_size=64, holdout=0.5, batch=64)
    assert est <= math.log2(64) + 1e-9


# -- interface -------------------------------------------------------------------------------
def test_interface_and_errors():
    from infozoo.probe import estimator_names, renyi
    assert set(estimator_names()) >= {"ksg", "gaussian", "infonce", "nwj", "noisy", "renyi"}
    r = np.random.RandomState(0)
    x, y = r.randn(50, 3), r.randn(50, 2)
    assert MI(x, y, "renyi") == pytest.approx(float(renyi.mutual_information(x, y)), abs=1e-12)
    e = MI(x, y, "gaussian", ci=0.9, n_boot=30)
    assert e.ci_method == "rows" and e.level == 0.9 and e.low <= e.high
    assert json.loads(json.dumps(e.as_dict()))["estimator"] == "gaussian"
    for bad, match in (((x, y[:40]), "same number"), ((x, y, "nope"), "unknown estimator"),
                       ((x, y, "ksg"), "k must be")):
        with pytest.raises(ValueError, match=match):
            MI(*bad, **({"k": 0} if match == "k must be" else {}))
    with pytest.raises(ValueError, match="NaN"):
        MI(np.full((10, 2), np.nan), y[:10])
    with pytest.raises(ValueError, match="bad option"):
        MI(x, y, "ksg", kk=3)


def test_probe_refuses_options_for_estimators_not_asked_for():
    """Issue 18 #174: options={"nosuchest": ...} was silently ignored."""
    import keras
    from infozoo.probe import Probe
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="nosuchest.*not among the estimators.*ksg"):
        Probe(m, estimators=["ksg"], options={"nosuchest": {"k": 1}})
    with pytest.raises(ValueError, match="'gaussian'"):
        Probe(m, estimators=["ksg"], options={"gaussian": {}})
    Probe(m, estimators=["ksg"], options={"ksg": {"k": 3}})


# -- flow ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_flow_small_fit_is_finite_and_held_out():
    """A tiny flow fit: a finite figure on the held-out rows, its interval holding it, the
    copula and the closed-form-Sigma figures beside it, early stopping recorded."""
    x, y = task("gauss-dense-1-bij").sample(600, seed=2)
    e = MI(x, y, "flow", ci=0.9, n_boot=30, steps=100, eval_every=25)
    assert e.low <= e.value <= e.high and e.n == 180  # 30 % of 600 held out
    assert e.value == pytest.approx(0.5, abs=0.15), e
    assert {"steps", "best_step", "copula_bits", "sigma_bits"} <= set(e.extra)
    with pytest.raises(ValueError, match="blocks must be an integer"):
        MI(x, y, "flow", blocks=1.5)


@pytest.mark.slow
def test_flow_recovers_bijected_gaussians_where_ksg_and_gaussian_fail():
    """MI is invariant under a bijection of each side: the flow estimator gets the 5 + 5
    dimensional bijected sparse Gaussian (2.40 bits) within 10 %, where ksg and gaussian
    miss it by more than 20 % on the same rows."""
    t = task("gauss-sparse-5-bij")
    x, y = t.sample(3000, seed=1)
    e = MI(x, y, "flow", ci=0.95)
    assert e.value == pytest.approx(t.mi_bits, rel=0.1), e
    assert e.low - 0.05 <= t.mi_bits <= e.high + 0.05, e
    for other in ("ksg", "gaussian"):
        assert abs(MI(x, y, other) - t.mi_bits) > 0.2 * t.mi_bits, other
    # an independent pair: near 0
    assert abs(MI(*task("indep-5").sample(3000, seed=1), "flow")) < 0.05


@pytest.mark.slow
def test_flow_keeps_its_copula_start_unless_the_flows_win_on_validation():
    """On a per-dimension bijection of a Gaussian the copula start is the exact model: the
    flows' validation gain is noise, so the figure stays the copula one
    (``flow_selected`` False); with ``select_z`` = -inf the best trained flow is taken
    whatever its gain, and the figure moves."""
    x, y = task("gauss-sparse-5-bij").sample(1500, seed=3)
    kw = dict(steps=300, eval_every=50, patience=3)
    e = MI(x, y, "flow", **kw, ci=0.9, n_boot=20)
    assert e.extra["flow_selected"] is False and e.value == pytest.approx(
        e.extra["copula_bits"], abs=1e-4), e.extra
    f = MI(x, y, "flow", **kw, select_z=-np.inf, ci=0.9, n_boot=20)
    if f.extra["best_step"]:
        assert f.extra["flow_selected"] and abs(f.value - f.extra["copula_bits"]) > 1e-3


def test_student_t_formula_by_monte_carlo():
    """The analytic Student-t MI of known.py against E[log p(x,y) - log p(x) - log p(y)]."""
    from scipy import stats
    from infozoo.probe.estimators import known
    nu, rho = 3.0, 0.6
    cov = np.array([[1, rho], [rho, 1.0]])
    joint = stats.multivariate_t(loc=[0, 0], shape=cov, df=nu)
    z = joint.rvs(size=400000, random_state=0)
    mc = np.mean(joint.logpdf(z) - stats.t.logpdf(z[:, 0], nu) - stats.t.logpdf(z[:, 1], nu))
    gauss = -0.5 * math.log(1 - rho ** 2)
    assert known.student_mi_nats(1, 1, nu, gauss) == pytest.approx(mc, abs=0.01)
    assert abs(gauss - mc) > 0.03  # the correction term matters


REPLICA_SCRIPT = r"""
import os, sys, json
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
from infozoo.distribute import strategy as distribute
distribute.configure_cpu_replicas(2)
import numpy as np
from infozoo.probe import mutual_information as MI
from infozoo.probe.estimators import known
s2 = distribute.make_strategy("mirrored", 2)
x, y = {t.name: t for t in known.tasks()}["gauss-dense-2"].sample(300, seed=0)
out = {}
for est, kw in (("ksg", dict(block=32)), ("noisy", dict(sigma=0.3, block=32)),
                ("gaussian", {}),
                ("infonce", dict(steps=150, batch=64, width=16, embed=8)),
                ("flow", dict(steps=100, eval_every=25, batch=64))):
    if est == "noisy":
        from infozoo.probe import noisy_information as NI
        out[est] = [NI(y, ci=0.95, **kw).as_dict(), NI(y, ci=0.95, strategy=s2, **kw).as_dict()]
        continue
    out[est] = [MI(x, y, est, ci=0.95, **kw).as_dict(),
                MI(x, y, est, ci=0.95, strategy=s2, **kw).as_dict()]
print("RESULT" + json.dumps({"replicas": s2.num_replicas_in_sync, "out": out}))
"""


@pytest.mark.slow  # a subprocess that trains
def test_two_replicas_equal_one_replica():
    res = run_script(REPLICA_SCRIPT)
    assert res["replicas"] == 2
    for est, (one, two) in res["out"].items():
        if est in ("infonce", "flow"):  # data-parallel training: inside the interval
            assert one["low"] - 0.05 <= two["value"] <= one["high"] + 0.05, (one, two)
        else:
            assert two["value"] == pytest.approx(one["value"], abs=1e-6), est
