"""The ``copula`` estimator (issue 23's recommended one) against known answers, with a
deliberately wrong variant failing each tolerance, its interval's coverage across
independent batches, and its guard against a spurious shared-scale term."""
import math
import warnings

import numpy as np
import pytest

from infozoo.probe.estimators import known


def MI(x, y, est="copula", **kw):
    from infozoo.probe import mutual_information
    return mutual_information(x, y, est, **kw)


def task(name):
    return {t.name: t for t in known.tasks()}[name]


@pytest.mark.parametrize("name,n", [
    ("gauss-sparse-5-bij", 2000), ("gauss-dense-5-bij", 2000),
    pytest.param("gauss-dense-25-bij", 3000, marks=pytest.mark.slow)])  # ~25 s CPU
def test_copula_recovers_bijected_gaussians(name, n):
    """Per-dimension bijections change no MI: within 10 % (the bias-corrected Gaussian MI of
    normal scores; its sampling sd here is <= 0.05 bit), where ``gaussian`` on the raw
    values misses by more than 20 % (the test can fail)."""
    t = task(name)
    x, y = t.sample(n, seed=3)
    e = MI(x, y, ci=0.95)
    assert e.extra["family"] == "gaussian", e.extra
    assert e.value == pytest.approx(t.mi_bits, rel=0.1), e
    assert e.low <= e.value <= e.high and e.ci_method == "half-samples"
    assert abs(MI(x, y, "gaussian") - t.mi_bits) > 0.2 * t.mi_bits


@pytest.mark.parametrize("name", ["student-5", pytest.param("student-25",
                                                            marks=pytest.mark.slow)])
def test_copula_student_t_includes_the_shared_scale_term(name):
    """Student-t: the shared chi2 scale carries ``g(d) + g(d) - g(2d)`` beyond the Gaussian
    MI (1.07 of 1.93 bits at 25 + 25 dimensions). The t copula is chosen and gets the truth
    within 10 %; the Gaussian copula alone (``family="gaussian"``) misses by > 30 %."""
    t = task(name)
    x, y = t.sample(2000, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e = MI(x, y, ci=0.95)
    assert e.extra["family"] == "student" and e.extra["nu"] == pytest.approx(3.0, rel=0.35)
    assert e.value == pytest.approx(t.mi_bits, rel=0.1), e
    assert abs(MI(x, y, family="gaussian") - t.mi_bits) > 0.3 * t.mi_bits


def test_copula_independent_heavy_tailed_sides_read_zero():
    """Two *independent* multivariate t's (a scale per side): I = 0. Each side alone fits a
    t copula far better than a Gaussian one; only the guard (the joint t must beat
    independent per-side t copulas) keeps the shared-scale term out. Forcing the joint t
    copula reads a spurious excess (0.15 bit here, nu = 7), the default < 0.05."""
    r = np.random.RandomState(0)
    n, d = 2000, 5
    x = r.randn(n, d) / np.sqrt(r.chisquare(3, (n, 1)) / 3)
    y = r.randn(n, d) / np.sqrt(r.chisquare(3, (n, 1)) / 3)
    e = MI(x, y, ci=0.95)
    assert e.extra["family"] == "gaussian" and abs(e.value) < 0.05, e
    assert MI(x, y, family="student") > 0.1
    assert abs(MI(*task("indep-25").sample(2000, seed=1))) < 0.05


@pytest.mark.slow  # 40 estimates with 10 half-sample re-runs each
def test_copula_interval_covers_across_independent_batches():
    """Half-sample interval: >= 90 % of 40 independent batches' 95 % intervals hold the
    across-batch mean (the whole estimator, ranks and family choice, is re-run on each
    half, so the interval carries all of its spread)."""
    t = task("gauss-sparse-2-bij")
    vals, ints = [], []
    for b in range(40):
        x, y = t.sample(400, seed=200 + b)
        e = MI(x, y, ci=0.95, seed=b)
        vals.append(e.value)
        ints.append((e.low, e.high))
    m = np.mean(vals)
    cover = np.mean([lo <= m <= hi for lo, hi in ints])
    assert cover >= 0.9, cover
    assert abs(m - t.mi_bits) < 0.1  # and the mean is near the truth


def test_copula_bad_options_and_constant_sides():
    with pytest.raises(ValueError, match="family must be one of"):
        MI(np.zeros((50, 2)), np.zeros((50, 2)), family="t")
    with pytest.raises(ValueError, match="nu_grid"):
        MI(np.zeros((50, 2)), np.zeros((50, 2)), nu_grid=(0.0,))
    r = np.random.RandomState(0)
    x = np.concatenate([r.randn(100, 2), np.ones((100, 1))], axis=1)  # a constant column
    assert math.isfinite(MI(x, x[:, :2] + 0.5 * r.randn(100, 2)))
    assert MI(np.ones((100, 2)), r.randn(100, 2)) == 0.0
