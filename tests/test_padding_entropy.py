"""``h(dropped | kept)`` at a zero-padding (infozoo.probe.padding): the upper bound against
a closed form, a near-deterministic case far below the marginal entropy, and a tiny INN end
to end (probe JSON, CLI table)."""
import json
import math

import numpy as np
import pytest

LOG2_2PIE = math.log2(2 * math.pi * math.e)


def _gaussian_case(n=2000, p=3, D=6, seed=0):
    """k ~ N(0, I_p), d = W k + e, e ~ N(0, S) with a random full covariance S:
    h(d | k) = 1/2 log2 det(2 pi e S), h(d) = 1/2 log2 det(2 pi e (W W^T + S))."""
    rng = np.random.RandomState(seed)
    W, B = rng.randn(D, p), rng.randn(D, D)
    S = B @ B.T / D + 0.1 * np.eye(D)
    k = rng.randn(n, p)
    d = k @ W.T + rng.multivariate_normal(np.zeros(D), S, size=n)
    h = lambda c: 0.5 * (D * LOG2_2PIE + np.linalg.slogdet(c)[1] / math.log(2))  # noqa: E731
    return k, d, h(S), h(W @ W.T + S)


def test_gaussian_case_bound_at_the_closed_form():
    """Jointly Gaussian (k, d): h(d | k) = 1/2 log2 det(2 pi e Cov(d | k)). The held-out
    mean NLL of the fitted linear-Gaussian model is h + KL(fit), KL >= 0, so it lies above the
    truth up to its sampling error. Tolerance: per-row NLL = const + chi2_D / 2 (nats), so
    its standard error over m = 600 held-out rows is sqrt(D / 2 / m) / ln 2 = 0.10 bits
    (D = 6); the fit's expected KL is about (#parameters) / (2 n_train) = (D(D + 1)/2 +
    D(p + 1)) / 2240 = 0.020 nats = 0.029 bits. So the value lies above the truth minus the
    interval's width (about 3.9 se: a 4-sigma check; a 95 % interval alone misses the truth
    one time in 40, and at this seed the held-out rows read 2.1 se low) and within
    3 se + 2 KL = 0.37 bits above it (12 seeds: (value - truth) / se from -2.1 to 1.3)."""
    from infozoo.probe.padding import dropped_entropy
    k, d, truth, marginal = _gaussian_case()
    h = dropped_entropy(d, k, model="gaussian", ci=0.95)
    assert h["n_eval"] == 600 and h["dim"] == 6 and h["cond_dim"] == 3
    se = math.sqrt(6 / 2 / 600) / math.log(2)
    assert h["low"] < h["value"] < h["high"]
    assert h["value"] >= truth - (h["high"] - h["low"])    # an upper bound, to its interval
    assert h["high"] - h["low"] == pytest.approx(3.92 * se, rel=0.25)
    assert h["value"] - truth <= 3 * se + 2 * 0.029
    assert h["per_dim"] == pytest.approx(h["value"] / 6)
    # ignoring k would give the marginal h(d), larger by I(k; d): the bound reads k
    assert h["value"] < marginal - 5.0


@pytest.mark.slow   # trains a small conditional flow (~10 s)
def test_near_deterministic_case_far_below_the_marginal():
    """d = (k1, k2 + k1^2) + s eps, k ~ N(0, I_2), s = 0.05: h(d | k) = log2(2 pi e s^2) =
    -4.55 bits; g(k) = (k1, k2 + k1^2) has det J = 1, so h(d) >= h(g(k)) = h(k) = log2(2 pi e)
    = 4.09 bits (independent noise adds entropy). The linear-Gaussian model cannot follow
    k1^2 (residual variance Var(k1^2) = 2: about 0.28 bits); the conditional flow can."""
    from infozoo.probe.padding import dropped_entropy
    rng = np.random.RandomState(0)
    s, n = 0.05, 2000
    k = rng.randn(n, 2)
    d = np.stack([k[:, 0], k[:, 1] + k[:, 0] ** 2], 1) + s * rng.randn(n, 2)
    truth = math.log2(2 * math.pi * math.e * s * s)
    h = dropped_entropy(d, k, model="flow", ci=0.95)
    g = h["gaussian"]["value"]
    assert g == pytest.approx(0.5 * math.log2(2 * math.pi * math.e * s * s)
                              + 0.5 * math.log2(2 * math.pi * math.e * (2 + s * s)), abs=0.3)
    assert h["model"] == "flow" and h["flow"]["best_step"] > 0
    assert h["value"] == h["flow"]["value"] <= g - 3.0      # the flow learned k1^2
    assert h["value"] <= LOG2_2PIE - 7.0                    # far below h(d) >= 4.09 bits
    assert h["high"] >= truth                               # still an upper bound


def test_options_and_errors():
    from infozoo.probe import Probe
    from infozoo.probe.padding import dropped_entropy
    k, d, _, _ = _gaussian_case(n=40)
    with pytest.raises(ValueError, match="model must be one of"):
        dropped_entropy(d, k, model="kde")
    with pytest.raises(ValueError, match="too few"):
        dropped_entropy(d[:12], k[:12])
    with pytest.raises(ValueError, match="same rows"):
        dropped_entropy(d, k[:30])
    with pytest.raises(ValueError, match="holdout"):
        dropped_entropy(d, k, holdout=1.5)
    with pytest.raises(ValueError, match="dropped_entropy must be"):
        Probe(object(), estimators=["ksg"], dropped_entropy="kde")
    with pytest.raises(ValueError, match="unknown option"):
        Probe(object(), estimators=["ksg"], dropped_entropy={"model": "flow", "hiden": 8})
    h = dropped_entropy(d, k, model="gaussian", ci=None)
    assert h["low"] is None and np.isfinite(h["value"]) and "flow" not in h


@pytest.mark.slow   # a tiny INN probed 3 times, then trained and probed through the CLI
def test_tiny_inn_end_to_end(tmp_path):
    """The probe's dropped entry of a tiny INN carries a finite bound; without
    dequantisation its ``h_before_bits`` is the layers' running ``h_bits`` before the code
    (the same rows, the same log-dets), and ``h_kept_bits`` is h_before minus the bound."""
    import keras
    from conftest import invoke_cli
    from tiny import SHAPE, make
    from infozoo.probe import probe
    from infozoo.probe.probe import format_table
    keras.utils.set_random_seed(0)
    m = make("inn")
    x = np.random.RandomState(0).rand(64, *SHAPE).astype("float32")
    res = json.loads(json.dumps(probe(m, x, estimators=["gaussian"], ci=0.95,
                                      dropped_entropy="gaussian")))
    (dr,) = res["dropped"]
    h = dr["h_given_kept"]
    assert dr["layer"] == "code" and h["dim"] == dr["dim"] == 60 and h["cond_dim"] == 4
    assert all(np.isfinite([h["value"], h["low"], h["high"]]))
    before = res["layers"][dr["index"] - 1]["h_bits"]
    assert dr["h_before_bits"] == pytest.approx(before, abs=1e-3)
    assert dr["h_kept_bits"]["value"] == pytest.approx(before - h["value"])
    assert "h(dropped | kept) <=" in format_table(res)
    deq = probe(m, x, estimators=["gaussian"], dropped_entropy={"model": "gaussian",
                                                                 "dequantize": 1 / 256})
    assert deq["dropped"][0]["h_given_kept"]["dequantize"] == 1 / 256
    assert np.isfinite(deq["dropped"][0]["h_given_kept"]["value"])
    assert probe(m, x, estimators=["gaussian"])["dropped"][0]["h_given_kept"] is None
    # the command line: a digits INN, the default (flow) bound in the JSON and the table
    run = tmp_path / "run"
    invoke_cli("train", "inn", "--dataset", "digits", "--epochs", "1", "--train-size", "128",
            "--batch-size", "32", "--conv-blocks", "1", "--conv-hidden", "8", "--fc-hidden",
            "16", "--quiet", "--run-dir", run, check=0)
    out = json.loads(invoke_cli("probe", run, "--json", "--samples", "96", "--estimator",
                             "gaussian", check=0).stdout.strip().splitlines()[-1])
    h = out["dropped"][0]["h_given_kept"]
    assert h["dequantize"] == 1 / 256 and h["model"] in ("gaussian", "flow")
    assert np.isfinite(h["value"]) and h["flow"]["steps"] > 0
    table = invoke_cli("probe", run, "--samples", "96", "--estimator", "gaussian",
                    "--dropped-entropy", "gaussian", check=0).stdout
    assert "h(dropped | kept) <=" in table and "entropy view" in table
    assert "--dropped-entropy" in invoke_cli("probe", "--help", check=0).stdout


def test_infozoo_reads_representations_by_attribute(monkeypatch):
    """The probe's readers of ``representations(x)`` (the padding bound, the first-order
    check) use the record's fields, not its dict view, which stays only for users' code; a
    plug-in model's entries given as dicts still work."""
    import keras
    from tiny import SHAPE, make
    from infozoo.probe.estimators.input_noise import first_order_check
    from infozoo.probe.padding import model_dropped_entropy
    from infozoo.util.representation import Representation

    def refuse(self, *a):
        raise AssertionError("infozoo read a Representation as a dict")
    for name in ("__getitem__", "__contains__", "__iter__", "__len__", "get", "keys",
                 "items", "values"):
        monkeypatch.setattr(Representation, name, refuse)
    keras.utils.set_random_seed(0)
    m = make("inn")
    x = np.random.RandomState(0).rand(64, *SHAPE).astype("float32")
    (out,) = model_dropped_entropy(m, x, dropped_entropy="gaussian")
    assert out["layer"] == "code" and np.isfinite(out["h_given_kept"]["value"])

    class Plugin:  # a plug-in model whose representations are dicts with the fields
        def representations(self, xb):
            return [{"name": r.name, "value": r.value, "bijective": r.bijective,
                     "logdet": r.logdet, **({} if r.dropped is None else {"dropped": r.dropped})}
                    for r in m.representations(xb)]
    (plug,) = model_dropped_entropy(Plugin(), x, dropped_entropy="gaussian")
    assert plug["h_given_kept"]["value"] == pytest.approx(out["h_given_kept"]["value"])
    checks = first_order_check(m, x, sigma=0.05, rows=2, draws=16, max_dim=64)
    assert checks and all(np.isfinite(c["trace_ratio"]) for c in checks)
