"""``input-noise``: I(X; T_l) with the noise added once at the input (issue 20).

Known answers a wrong estimator fails: the linear-Gaussian closed form; the same figure for
a layer and its x10 scaling, rotation and zero-padded embedding; equality across the
bijective layers of a tiny INN and a lower figure at its code; the data processing
inequality along a tiny classic AE; the first-order error against the exact posterior of a
curved smooth net (Gauss-Hermite quadrature and Monte Carlo)."""
import math

import numpy as np
import pytest


def _probe(model, x, sigma, **opts):
    from infozoo.probe import probe
    options = {"input-noise": opts} if opts else None
    res = probe(model, x, estimators=["input-noise"], sigma=sigma, ci=0.95, options=options)
    return res, [r["estimates"]["input-noise"]["I_XT"] for r in res["layers"]]


@pytest.mark.slow
def test_linear_gaussian_network_closed_form():
    """X ~ N(0, diag(lam)), T = X A (linear, 4 -> 2): I(X; X + sN) = 1/2 sum log2(1 +
    lam / s^2) and I(X; T) = 1/2 log2 det(A^T (S + s^2 I) A) - 1/2 log2 det(s^2 A^T A)."""
    import keras
    r = np.random.RandomState(0)
    lam = np.array([4.0, 1.0, 0.25, 2.0])
    n, s = 2000, 1.0
    x = (r.randn(n, 4) * np.sqrt(lam)).astype(np.float32)
    A = r.randn(4, 2)
    inp = keras.Input((4,))
    code = keras.layers.Dense(2, use_bias=False, name="code")
    model = keras.Model(inp, code(inp))
    code.kernel.assign(A.astype(np.float32))
    _, (e_in, e_code) = _probe(model, x, s, queries=1000)
    truth_in = 0.5 * np.sum(np.log2(1.0 + lam / s ** 2))
    S = np.diag(lam)
    truth_code = 0.5 * (np.log2(np.linalg.det(A.T @ (S + s ** 2 * np.eye(4)) @ A))
                        - np.log2(np.linalg.det(s ** 2 * A.T @ A)))
    assert truth_code < truth_in - 0.5
    # the plug-in mixture of n = 2000 points is a few percent low at 1-3 bits (noisy's
    # benchmark); the interval of 1000 queries is +-0.1 bit
    for e, truth in ((e_in, truth_in), (e_code, truth_code)):
        assert abs(e["value"] - truth) < 0.1 * truth + 0.05, (e["value"], truth)
        assert e["ceiling"] == pytest.approx(math.log2(n)) and not e["at_ceiling"]


def test_bijections_of_a_layer_leave_the_figure_unchanged():
    """A tanh layer narrowing 5 -> 3, then a softplus dense bijection, x10, a rotation and
    zero-padding to 7: the linear ones leave the figure exactly as it was, the smooth
    non-linear one to first order (within the interval)."""
    import keras
    import tensorflow as tf
    keras.utils.set_random_seed(0)
    r = np.random.RandomState(1)
    x = r.randn(400, 5).astype(np.float32)
    q, _ = np.linalg.qr(r.randn(3, 3))
    inp = keras.Input((5,))
    h = keras.layers.Dense(3, activation="tanh", name="narrow")(inp)
    h = keras.layers.Dense(3, activation="softplus", name="bijection")(h)
    h = keras.layers.Rescaling(10.0, name="x10")(h)
    rot = keras.layers.Dense(3, use_bias=False, name="rotation")
    h = rot(h)
    h = keras.layers.Lambda(lambda t: tf.pad(t, [[0, 0], [0, 4]]), name="zero_pad")(h)
    model = keras.Model(inp, h)
    rot.kernel.assign(q.astype(np.float32))
    res, es = _probe(model, x, 0.5, queries=200)
    names = [r["name"] for r in res["layers"]]
    assert names == ["input", "narrow", "bijection", "x10", "rotation", "zero_pad"]
    v = [e["value"] for e in es]
    assert v[1] < v[0] - 0.3    # the narrowing loses
    for k in (3, 4, 5):   # linear bijections: exactly (affine invariance), up to the float32
        assert v[k] == pytest.approx(v[k - 1], abs=1e-4), names[k]   # network's rounding
    # a non-linear bijection: to first order, within the interval
    assert abs(v[2] - v[1]) < (es[2]["high"] - es[2]["low"]) / 2, (v[2], v[1])
    # the relative-sigma noisy figure is not invariant (the reason for this estimator)
    from infozoo.probe import probe
    rel = probe(model, x, estimators=["noisy"], sigma=1.0, options={"noisy": {"relative": True}})
    nv = [r["estimates"]["noisy"]["I_XT"]["value"] for r in rel["layers"]]
    assert abs(nv[5] - nv[4]) > 0.05


@pytest.mark.slow
def test_tiny_inn_equal_through_bijections_lower_at_the_code():
    import keras
    from conftest import perturb
    from tiny import SHAPE, make
    keras.utils.set_random_seed(0)
    m = make("inn")
    perturb(m.trainable_variables, 0.05)
    x = np.random.RandomState(0).rand(256, *SHAPE).astype(np.float32)
    res, es = _probe(m, x, 1.5, queries=128)
    names = [r["name"] for r in res["layers"]]
    code = names.index("code")
    v = [e["value"] for e in es]
    assert not es[0]["at_ceiling"] and v[0] < math.log2(256) - 0.3
    for k in range(1, code):   # every bijective forward step: I(X; X + sigma N), reused
        assert res["layers"][k]["bijective"] and v[k] == v[0], names[k]
    assert es[code]["high"] < es[0]["low"]            # strictly lower at the code
    for k in range(code + 1, len(v)):                 # the decoder: injective in the code
        assert v[k] == pytest.approx(v[code], abs=1e-9), names[k]
    assert res["layers"][-1]["dh_bits"] is None and res["layers"][1]["dh_bits"] is not None


@pytest.mark.slow
def test_data_processing_inequality_along_a_tiny_classic_ae():
    import keras
    from conftest import perturb
    from tiny import SHAPE, make
    keras.utils.set_random_seed(0)
    m = make("classic", hidden=[32, 16])   # wide enough for a rank-4 code at every row
    perturb(m.trainable_variables, 0.05)
    x = np.random.RandomState(0).rand(256, *SHAPE).astype(np.float32)
    res, es = _probe(m, x, 1.5, queries=128)
    names = [r["name"] for r in res["layers"]]
    code = names.index("code")
    assert es[code] is not None and es[code]["value"] < es[0]["value"] - 0.2
    skipped = [k for k, e in enumerate(es) if e is None]   # ReLU layers: dead units
    assert all(res["layers"][k]["dim"] > 4 for k in skipped)
    done = [k for k, e in enumerate(es) if e is not None]
    for a, b in zip(done, done[1:]):   # every estimated figure at most the one before it
        assert es[b]["value"] <= es[a]["value"] + (es[b]["high"] - es[b]["low"]) / 2, \
            (names[a], names[b], es[a]["value"], es[b]["value"])


def _curved(c):
    import keras
    inp = keras.Input((2,))
    out = keras.layers.Lambda(lambda y: y[:, :1] + c * y[:, 1:] ** 2)(inp)
    return keras.Model(inp, out)


def _exact_and_first_order(x, s, c, draws=40):
    """I(X; T) in bits for T = y1 + c y2^2, Y = X + s N, X uniform on the rows of x: exactly
    (p(t | x_j) by Gauss-Hermite quadrature over n2) and for the first-order model
    N(f(x_j), s^2 |J_j|^2), both by Monte Carlo with the same normals (so their difference
    is precise); returns (exact, model, standard error of the difference)."""
    n = len(x)
    g, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / w.sum()
    rng = np.random.RandomState(5)
    mu_m = x[:, 0] + c * x[:, 1] ** 2
    var_m = s * s * (1 + 4 * c * c * x[:, 1] ** 2)
    ex, mo = [], []
    for _ in range(draws):
        z = rng.standard_normal((n, 2))
        t = x[:, 0] + s * z[:, 0] + c * (x[:, 1] + s * z[:, 1]) ** 2
        mu = x[None, :, 0, None] + c * (x[None, :, 1, None] + s * g[None, None, :]) ** 2
        logp = -0.5 * ((t[:, None, None] - mu) / s) ** 2
        top = logp.max(-1)
        lp = np.log(np.sum(w * np.exp(logp - top[..., None]), -1)) + top      # [query, centre]
        tm = mu_m + s * (z[:, 0] + 2 * c * x[:, 1] * z[:, 1])                  # model draws
        lq = -0.5 * (tm[:, None] - mu_m[None]) ** 2 / var_m[None] - 0.5 * np.log(var_m)[None]
        for out, l in ((ex, lp), (mo, lq)):
            own = l[np.arange(n), np.arange(n)]
            out.append(np.log(n) - np.log(np.sum(np.exp(l - own[:, None]), 1)))
    ex, mo = np.concatenate(ex) / math.log(2), np.concatenate(mo) / math.log(2)
    return ex.mean(), mo.mean(), (mo - ex).std() / math.sqrt(len(ex))


@pytest.mark.slow
def test_first_order_error_by_monte_carlo():
    """T = y1 + c y2^2 (2 -> 1), sigma = 0.3, n = 200: the first-order model's I(X; T) is
    within 0.015 bit of the exact one at curvature c = 0.3 and misses by > 0.04 at c = 3 (the
    check sees the error); the estimator (8 seeds of 200 queries) agrees with the model."""
    from infozoo.probe.estimators.input_noise import InputNoise
    from infozoo.probe.keras_models import keras_representations
    x = np.random.RandomState(2).randn(200, 2)
    s = 0.3
    ex, mo, se = _exact_and_first_order(x, s, 0.3)
    assert abs(mo - ex) < 0.015 and se < 0.005, (mo, ex, se)
    ex3, mo3, se3 = _exact_and_first_order(x, s, 3.0)
    assert abs(mo3 - ex3) > 0.04 + 2 * se3, (mo3, ex3)
    x32 = x.astype(np.float32)
    reps = keras_representations(_curved(0.3), x32)
    meta = [{"dim": 2, "bijective": False}, {"dim": 1, "bijective": False}]
    est = np.concatenate([InputNoise(sigma=s, queries=200, seed=k).layer_terms(reps, x32, meta)[1]
                          for k in range(8)])
    assert abs(est.mean() - mo) < 4 * est.std() / math.sqrt(len(est)), (est.mean(), mo)


def test_options_and_errors():
    from infozoo.probe import Probe, mutual_information
    with pytest.raises(ValueError, match="needs the network"):
        mutual_information(np.zeros((4, 2)), np.zeros((4, 2)), "input-noise", sigma=1.0)
    with pytest.raises(ValueError, match="queries"):
        Probe(object(), estimators=["input-noise"], sigma=1.0,
              options={"input-noise": {"queries": 1}})
    with pytest.raises(ValueError, match="sigma"):
        Probe(object(), estimators=["input-noise"], sigma=-1.0)


def test_ceiling_and_order_warnings():
    """A figure within its interval's width of log2 n is flagged; a figure above an earlier
    one beyond both intervals breaks the data processing inequality and is flagged."""
    from infozoo.probe.estimators.base import Estimate
    from infozoo.probe.probe import ceiling_warnings, order_warnings

    def layer(name, v, lo, hi):
        e = Estimate("input-noise", v, 512, low=lo, high=hi, ceiling=9.0).as_dict()
        return {"name": name, "estimates": {"input-noise": {"I_XT": e, "I_TXhat": None}}}
    ok = [layer("input", 6.2, 5.9, 6.5), layer("code", 2.0, 1.8, 2.2)]
    assert ceiling_warnings(ok) == [] and order_warnings(ok) == []
    full = [layer("input", 8.999, 8.998, 9.0), layer("code", 7.0, 6.9, 7.1)]
    (w,) = ceiling_warnings(full)
    assert "1 figure(s)" in w and "input:I_XT" in w
    bad = [layer("input", 6.2, 5.9, 6.5), layer("code", 8.5, 8.3, 8.6)]
    (w,) = order_warnings(bad)
    assert "code (8.50 above input's 6.20)" in w
    within = [layer("input", 6.2, 5.9, 6.5), layer("code", 6.4, 6.0, 6.8)]
    assert order_warnings(within) == []


def test_first_order_warnings_flag_a_curved_layer_and_spare_a_linear_one():
    """first_order_check on plain Keras models: a linear layer's response to the input noise
    is its first order exactly (spread ratio 1 within the Monte Carlo error of 256 draws, no
    shift) and nothing is flagged; T = 3 sinh(3 y) at sigma = 1 spreads the noise far beyond
    its first order (E[cosh^2(3 sigma z)] / 1 = (1 + e^18) / 2: a ratio in the thousands), and
    is flagged with the bias's direction."""
    import keras
    from infozoo.probe.estimators.input_noise import first_order_check, first_order_warnings
    x = np.random.RandomState(0).randn(8, 3).astype(np.float32)
    lin = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="code")])
    (c,) = first_order_check(lin, x, sigma=1.0, rows=8, draws=256)
    assert abs(c["trace_ratio"] - 1) < 0.3 and c["shift"] < 0.1   # chi^2 spread of 256 draws
    assert first_order_warnings([c], 1.0) == []
    inp = keras.Input((3,))
    curved = keras.Model(inp, keras.layers.Lambda(lambda y: 3 * keras.ops.sinh(3 * y[:, :1]),
                                                  name="code")(inp))
    (c,) = first_order_check(curved, x, sigma=1.0, rows=8, draws=256)
    assert c["trace_ratio"] > 10
    (w,) = first_order_warnings([c], 1.0)
    assert "code" in w and "too high" in w and "sigma = 1" in w
    low = {"name": "h", "dim": 4, "trace_ratio": 0.5, "shift": 2.0}
    (w,) = first_order_warnings([low], 2.0)
    assert "too low" in w and "moves its mean" in w
