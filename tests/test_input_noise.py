"""``input-noise``: I(X; T_l) with the noise added once at the input (issue 20).

Known answers a wrong estimator fails: the linear-Gaussian closed form; the same figure for
a layer and its x10 scaling, rotation and zero-padded embedding; equality across the
bijective layers of a tiny INN and a lower figure at its code; the data processing
inequality along a tiny classic AE; the first-order error against the exact posterior of a
curved smooth net (Gauss-Hermite quadrature)."""
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
    """A tanh layer narrowing 5 -> 3, then x10, a rotation, zero-padding to 7 and a
    leaky-ReLU dense bijection: every figure after the narrowing equals its figure."""
    import keras
    import tensorflow as tf
    r = np.random.RandomState(1)
    x = r.randn(400, 5).astype(np.float32)
    q, _ = np.linalg.qr(r.randn(3, 3))
    inp = keras.Input((5,))
    h = keras.layers.Dense(3, activation="tanh", name="narrow")(inp)
    h = keras.layers.Rescaling(10.0, name="x10")(h)
    rot = keras.layers.Dense(3, use_bias=False, name="rotation")
    h = rot(h)
    h = keras.layers.Lambda(lambda t: tf.pad(t, [[0, 0], [0, 4]]), name="zero_pad")(h)
    h = keras.layers.Dense(7, activation=keras.layers.LeakyReLU(0.3), name="bijection")(h)
    model = keras.Model(inp, h)
    rot.kernel.assign(q.astype(np.float32))
    res, es = _probe(model, x, 0.5, queries=200)
    names = [r["name"] for r in res["layers"]]
    assert names == ["input", "narrow", "x10", "rotation", "zero_pad", "bijection"]
    v = [e["value"] for e in es]
    assert v[1] < v[0] - 0.3    # the narrowing loses
    for k in range(2, 5):       # linear bijections: exactly (affine invariance), to rounding
        assert v[k] == pytest.approx(v[1], abs=1e-6), names[k]
    # a non-linear bijection: to first order, within the interval
    assert abs(v[5] - v[1]) < (es[5]["high"] - es[5]["low"]) / 2, (v[5], v[1])
    # the relative-sigma noisy figure is not invariant (the reason for this estimator)
    from infozoo.probe import probe
    rel = probe(model, x, estimators=["noisy"], sigma=1.0, options={"noisy": {"relative": True}})
    nv = [r["estimates"]["noisy"]["I_XT"]["value"] for r in rel["layers"]]
    assert abs(nv[4] - nv[1]) > 0.05


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


def test_data_processing_inequality_along_a_tiny_classic_ae():
    import keras
    from conftest import perturb
    from tiny import SHAPE, make
    keras.utils.set_random_seed(0)
    m = make("classic")
    perturb(m.trainable_variables, 0.05)
    x = np.random.RandomState(0).rand(256, *SHAPE).astype(np.float32)
    res, es = _probe(m, x, 1.5, queries=128)
    v = np.array([e["value"] for e in es])
    half = np.array([(e["high"] - e["low"]) / 2 for e in es])
    assert v[-1] < v[0] - 0.2
    for k in range(1, len(v)):
        assert v[k] <= v[k - 1] + half[k], (res["layers"][k]["name"], v[k - 1], v[k])


def _curved(c):
    import keras
    inp = keras.Input((2,))
    out = keras.layers.Lambda(lambda y: y[:, :1] + c * y[:, 1:] ** 2)(inp)
    return keras.Model(inp, out)


@pytest.mark.parametrize("c,tol", [(0.0, 1e-6), (0.3, 0.03)])
def test_first_order_error_against_the_exact_posterior(c, tol):
    """T = y1 + c y2^2 of Y = X + sigma N (2 -> 1): the exact p(t | x_j) by Gauss-Hermite
    quadrature over n2, the exact per-query term log n - log sum_j p(t_i|x_j)/p(t_i|x_i) on
    the estimator's own queries (queries = n: z = RandomState(seed).standard_normal).
    c = 0: exact; c = 0.3, sigma = 0.3: first order, within 0.03 bits; c = 3 misses."""
    from infozoo.probe.estimators.input_noise import InputNoise
    from infozoo.probe.keras_models import keras_representations
    r = np.random.RandomState(2)
    n, s = 200, 0.3
    x = r.randn(n, 2).astype(np.float64)
    model = _curved(c)
    meta = [{"dim": 2, "bijective": False}, {"dim": 1, "bijective": False}]
    est = InputNoise(sigma=s, queries=n)
    x32 = x.astype(np.float32)
    terms = est.layer_terms(keras_representations(model, x32), x32, meta)
    z = np.random.RandomState(0).standard_normal((n, 2))
    y = x + s * z
    t = y[:, 0] + c * y[:, 1] ** 2
    g, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / w.sum()
    mu = x[None, :, 0, None] + c * (x[None, :, 1, None] + s * g[None, None, :]) ** 2  # [1,n,k]
    logp = -0.5 * ((t[:, None, None] - mu) / s) ** 2                                  # [n,n,k]
    lp = np.log(np.sum(w * np.exp(logp - logp.max(-1, keepdims=True)), -1)) + logp.max(-1)
    own = lp[np.arange(n), np.arange(n)]
    exact = (np.log(n) - np.log(np.sum(np.exp(lp - own[:, None]), 1))) / math.log(2)
    err = abs(terms[1].mean() - exact.mean())
    assert err < tol, err
    if c > 0:   # the same check fails a strongly curved net: it does measure the error
        model3 = _curved(3.0)
        t3 = est.layer_terms(keras_representations(model3, x32), x32, meta)[1]
        mu3 = x[None, :, 0, None] + 3.0 * (x[None, :, 1, None] + s * g[None, None, :]) ** 2
        t = y[:, 0] + 3.0 * y[:, 1] ** 2
        logp = -0.5 * ((t[:, None, None] - mu3) / s) ** 2
        lp = np.log(np.sum(w * np.exp(logp - logp.max(-1, keepdims=True)), -1)) + logp.max(-1)
        own = lp[np.arange(n), np.arange(n)]
        ex3 = (np.log(n) - np.log(np.sum(np.exp(lp - own[:, None]), 1))) / math.log(2)
        assert abs(t3.mean() - ex3.mean()) > tol


def test_options_and_errors():
    from infozoo.probe import Probe, mutual_information
    with pytest.raises(ValueError, match="sigma"):
        Probe(object(), estimators=["input-noise"])
    with pytest.raises(ValueError, match="needs the network"):
        mutual_information(np.zeros((4, 2)), np.zeros((4, 2)), "input-noise", sigma=1.0)
    with pytest.raises(ValueError, match="mode"):
        Probe(object(), estimators=["input-noise"], sigma=1.0,
              options={"input-noise": {"mode": "sideways"}})
