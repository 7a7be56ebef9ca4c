"""The information probe: estimator known answers, exact log-dets, eager = graph,
2 replicas = 1 replica, and ``infozoo probe`` / ``--probe-every`` as a user runs them."""
import dataclasses
import json
import math
import os

import numpy as np
import pytest

from conftest import perturb, run_cli, run_script

ALPHAS = (1.01, 2.0, 1.0, 0.5)


def _r():
    from infozoo.probe import renyi
    return renyi


def S(x, **kw):
    return float(_r().entropy(np.asarray(x, np.float64), **kw))


def MI(x, t, **kw):
    return float(_r().mutual_information(np.asarray(x, np.float64), np.asarray(t, np.float64),
                                         **kw))


def np_reference(x, t, sx, st, alpha=1.01):
    """Independent NumPy float64 version (full eigh, as the public code does it)."""
    def gram(v, s):
        d = ((v[:, None, :] - v[None, :, :]) ** 2).sum(-1)
        return np.exp(-d / (2 * s * s))

    def ent(k):
        lam = np.clip(np.linalg.eigh(k / np.trace(k))[0], 0, None)
        lam = lam / lam.sum()
        return np.log2(np.sum(lam ** alpha)) / (1 - alpha)
    kx, kt = gram(x, sx), gram(t, st)
    return ent(kx), ent(kt), ent(kx * kt)


# -- the estimator ---------------------------------------------------------------------
@pytest.mark.parametrize("n", [2, 5, 64])
def test_entropy_between_zero_and_log2_n(rng, n):
    for alpha in ALPHAS:
        for x in (rng.randn(n, 3), rng.rand(n, 50) * 100.0, rng.randn(n, 1) * 1e-4):
            s = S(x, alpha=alpha)
            assert -1e-9 <= s <= math.log2(n) + 1e-9, (alpha, s)
    # very narrow kernel: K -> I, S -> log2 n; very wide: K -> 1, S -> 0
    x = rng.randn(n, 3)
    assert S(x, gamma=1e-6) == pytest.approx(math.log2(n), abs=1e-6)
    assert S(x, gamma=1e6) == pytest.approx(0.0, abs=1e-6)


def test_matches_independent_numpy_implementation(rng):
    renyi = _r()
    x, t = rng.randn(40, 6), rng.randn(40, 2)
    sx = float(renyi.gram(x)[1])
    st = float(renyi.gram(t)[1])
    hx, ht, hxt = np_reference(x, t, sx, st)
    assert S(x) == pytest.approx(hx, abs=1e-9)
    assert MI(x, t) == pytest.approx(hx + ht - hxt, abs=1e-9)
    # the width rule: gamma = median pairwise distance, times n^(-1/(4+d))
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))[np.triu_indices(40, 1)]
    assert sx == pytest.approx(np.median(d) * 40 ** (-1 / (4 + 6)), rel=1e-12)
    assert float(renyi.gram(x, gamma=2.0)[1]) == pytest.approx(2.0 * 40 ** (-1 / 10), rel=1e-12)


def test_self_information_and_constant(rng):
    x = rng.randn(64, 4)
    s = S(x)
    # With the Hadamard joint, S(X, X) = S of the Gram with sigma / sqrt(2) >= S(X), so
    # I(X; X) = 2 S(X) - S(X, X) <= S(X); it reaches S(X) only for K -> I or K -> 1.
    assert MI(x, x) <= s + 1e-9
    assert MI(x, x, gamma=1e-6) == pytest.approx(math.log2(64), abs=1e-6)
    assert MI(x, x) > MI(x, x + 0.5 * rng.randn(64, 4)) > MI(x, rng.randn(64, 4))
    # a constant T has K = 1: S(T) = 0 and I(X; T) = 0 exactly
    c = np.ones((64, 3))
    assert S(c) == pytest.approx(0.0, abs=1e-12)
    assert MI(x, c) == pytest.approx(0.0, abs=1e-9)


def test_invariant_to_sample_order(rng):
    x, t = rng.randn(50, 5), rng.randn(50, 3)
    p = rng.permutation(50)
    assert S(x[p]) == pytest.approx(S(x), abs=1e-9)
    assert MI(x[p], t[p]) == pytest.approx(MI(x, t), abs=1e-9)


def test_householder_leaves_entropy_unchanged(rng):
    from infozoo.layers import Householder
    x = rng.randn(64, 8).astype(np.float32)
    t = np.tanh(x @ rng.randn(8, 6).astype(np.float32))
    h = Householder(3, seed=1)
    t2 = np.asarray(h.forward(t)[0])
    assert np.abs(t2 - t).max() > 0.1  # it did move the points
    assert S(t2) == pytest.approx(S(t), abs=1e-5)
    assert MI(x, t2) == pytest.approx(MI(x, t), abs=1e-5)


def test_information_grows_with_correlation(rng):
    z = rng.randn(256, 2)
    mis = []
    for rho in (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.99):
        a = z[:, :1]
        b = rho * a + math.sqrt(1 - rho ** 2) * z[:, 1:]
        mis.append(MI(a, b))
    assert all(np.diff(mis) > 0), mis


def test_finite_on_degenerate_batches(rng):
    dup = np.repeat(rng.randn(8, 5), 8, axis=0)          # 64 rows, 8 distinct
    assert 0 <= S(dup) <= 3 + 1e-9                       # at most log2(8 distinct)
    mostly = np.concatenate([np.zeros((60, 3)), rng.randn(4, 3)])  # median distance 0
    for x in (dup, mostly, np.zeros((64, 3)), rng.randn(2, 3), np.zeros((2, 3))):
        for alpha in ALPHAS:
            assert np.isfinite(S(x, alpha=alpha))
            assert np.isfinite(MI(x, rng.randn(len(x), 2), alpha=alpha))
    # float32 duplicated rows (GUIDE: smallest eigenvalue -7e-9 made S NaN without clipping)
    assert np.isfinite(S(dup.astype(np.float32)))


# -- the probe on layers with known log-dets ----------------------------------------------
class _Linear:
    """Test-only invertible linear layer ``y = x @ A`` with log|det A| per example."""
    bijective = True

    def __init__(self, a):
        self.a = np.asarray(a, np.float32)

    def forward(self, x):
        import tensorflow as tf
        y = tf.matmul(x, self.a)
        return y, tf.fill([tf.shape(x)[0]], float(np.linalg.slogdet(self.a)[1]))


class _Toy:
    """input -> linear A -> Householder -> relu -> constant -> reconstruction."""

    def __init__(self, a):
        from infozoo.layers import Householder
        self.lin = _Linear(a)
        self.hh = Householder(2, seed=3)
        self.hh.build((None, a.shape[0]))

    def representations(self, x):
        import tensorflow as tf
        y, ld = self.lin.forward(x)
        z, ld2 = self.hh.forward(y)
        r = tf.nn.relu(z)
        c = tf.zeros_like(r) + 1.0
        return [{"name": "input", "value": x, "bijective": True, "logdet": None},
                {"name": "linear", "value": y, "bijective": True, "logdet": ld},
                {"name": "householder", "value": z, "bijective": True, "logdet": ld2},
                {"name": "relu", "value": r, "bijective": False, "logdet": None,
                 "dropped": tf.nn.relu(-z)},
                {"name": "constant", "value": c, "bijective": False, "logdet": None},
                {"name": "reconstruction", "value": r, "bijective": False, "logdet": None}]


@pytest.mark.slow  # ~5 s
def test_exact_entropy_change_linear_and_householder(rng):
    from infozoo.probe import probe
    a = np.array([[2.0, 0.3, 0, 0], [0, 0.5, 0.1, 0], [0.2, 0, 3.0, 0], [0, 0, 0.4, -1.5]])
    x = rng.randn(32, 4).astype(np.float32)
    res = probe(_Toy(a), x, estimators=["renyi"])
    L = {r["name"]: r for r in res["layers"]}
    logdet_a = np.linalg.slogdet(a)[1]
    assert L["linear"]["logdet"] == pytest.approx(logdet_a, abs=1e-5)
    assert L["linear"]["dh_bits"] == pytest.approx(logdet_a / math.log(2), abs=1e-5)
    assert L["householder"]["logdet"] == pytest.approx(0.0, abs=1e-6)
    assert L["householder"]["dh_bits"] == pytest.approx(0.0, abs=1e-6)
    assert L["householder"]["h_bits"] == pytest.approx(logdet_a / math.log(2), abs=1e-5)
    assert L["householder"]["S"] == pytest.approx(L["linear"]["S"], abs=1e-5)
    assert L["relu"]["dh_bits"] is None and L["relu"]["h_bits"] is None
    assert L["constant"]["S"] == pytest.approx(0.0, abs=1e-9)
    assert L["constant"]["I_XT"] == pytest.approx(0.0, abs=1e-9)
    for r in res["layers"]:
        for k in ("S", "I_XT", "I_TXhat", "sigma"):
            assert np.isfinite(r[k]), (r["name"], k)
    assert [d["layer"] for d in res["dropped"]] == ["relu"]
    assert 0 < res["dropped"][0]["share"] < 1


def _tiny(name):
    from tiny import SHAPE, make
    import keras
    keras.utils.set_random_seed(0)
    m = make(name)
    perturb(m.trainable_variables, 0.05)
    return m, np.random.RandomState(0).rand(48, *SHAPE).astype(np.float32)


@pytest.mark.slow  # builds every model, ~13 s
def test_representations_contract():
    from infozoo.settings.registry import model_names
    for name in model_names():  # every one has a tiny config (test_models.py checks)
        m, x = _tiny(name)
        reps = m.representations(x[:4])
        assert reps[0]["name"] == "input" and reps[-1]["name"] == "reconstruction", name
        np.testing.assert_allclose(np.asarray(reps[-1]["value"]),
                                   np.asarray(m.reconstruct(x[:4])), atol=1e-5)
        for r in reps:
            assert isinstance(r["bijective"], bool) and r["value"].shape[0] == 4
            assert r["logdet"] is None or tuple(r["logdet"].shape) == (4,)


@pytest.mark.slow  # ~20 s
def test_inn_probe_exact_logdets_and_dropped():
    from infozoo.probe import probe
    m, x = _tiny("inn")
    res = probe(m, x, estimators=["renyi"])
    names = [r["name"] for r in res["layers"]]
    code = names.index("code")
    fwd = res["layers"][1:code]
    assert fwd and all(r["bijective"] and r["dh_bits"] is not None for r in fwd)
    total = float(np.mean(np.asarray(m.flow.forward(x)[1])))
    assert sum(r["logdet"] for r in fwd) == pytest.approx(total, abs=1e-4)
    assert abs(total) > 1e-3  # the perturbed couplings do change the volume
    assert not res["layers"][code]["bijective"]
    (d,) = res["dropped"]
    assert d["layer"] == "code" and d["dim"] == 64 - m.bottleneck and 0 < d["share"] < 1
    assert res["I_X_Xhat"] == res["layers"][-1]["I_XT"]
    from infozoo.probe import format_table
    table = format_table(res)
    assert "I(X;T)" in table and "reconstruction" in table and "dropped at code" in table


@pytest.mark.slow  # traces a probe, ~10 s
@pytest.mark.parametrize("name", ["inn", "classic"])
def test_eager_equals_tf_function(name):
    # In float64 end to end (model and probe): oneDNN reorders float32 sums differently in
    # graph and eager mode (6e-6 bits apart on one CPU, issue 8), so exactness is checked
    # where it is the point: float64 leaves only ~1e-15 relative rounding, far below 1e-9.
    import keras
    from infozoo.probe import Probe
    old = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float64")
    try:
        m, x = _tiny(name)
        assert m.compute_dtype == "float64"
        g, e = Probe(m, estimators=["renyi"])(x), Probe(m, estimators=["renyi"], eager=True)(x)
    finally:
        keras.config.set_dtype_policy(old)
    for a, b in zip(g["layers"], e["layers"]):
        assert a["name"] == b["name"]
        for k in ("S", "I_XT", "I_TXhat", "sigma", "logdet"):
            if a[k] is not None:
                assert a[k] == pytest.approx(b[k], abs=1e-9), (a["name"], k)


REPLICA_SCRIPT = r"""
import os, sys, json
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
sys.path.insert(0, "tests")
from infozoo.distribute import strategy as distribute
distribute.configure_cpu_replicas(2)
import numpy as np, keras
from conftest import perturb
from tiny import make, SHAPE
from infozoo.probe import Probe
x = np.random.RandomState(0).rand(48, *SHAPE).astype("float32")
out = {}
for name in ("inn", "classic"):
    keras.utils.set_random_seed(0)
    m = make(name)
    perturb(m.trainable_variables, 0.05)
    s2 = distribute.make_strategy("mirrored", 2)
    kw = dict(estimators=["renyi", "ksg", "noisy", "gaussian", "input-noise"], sigma=0.3, ci=0.9)
    out[name] = [Probe(m, **kw)(x), Probe(m, strategy=s2, **kw)(x)]
print("RESULT" + json.dumps(out))
"""


@pytest.mark.slow  # a subprocess
def test_two_replicas_equal_one_replica():
    res = run_script(REPLICA_SCRIPT)
    for name, (one, two) in res.items():
        assert one["replicas"] == 1 and two["replicas"] == 2
        assert len(one["layers"]) == len(two["layers"]) > 3
        for a, b in zip(one["layers"] + one["dropped"], two["layers"] + two["dropped"]):
            for k in ("S", "I_XT", "I_TXhat", "I_X", "sigma", "logdet", "energy"):
                if a.get(k) is not None:
                    assert b[k] == pytest.approx(a[k], abs=1e-5), (name, a.get("name"), k)
            # the deterministic Shannon estimators: rows sharded over the replicas, each row
            # computed as on one replica (the forward pass on shards differs at float32
            # round-off, ~1e-7 relative, which moves no neighbour count here)
            assert set(a["estimates"]) == {"ksg", "noisy", "gaussian", "input-noise"}
            for est, figs in a["estimates"].items():
                for q, e in figs.items():
                    if e is None:   # input-noise: no I(T; X^), no dropped-part figure
                        assert est == "input-noise" and b["estimates"][est][q] is None
                        continue
                    f = b["estimates"][est][q]
                    assert f["value"] == pytest.approx(e["value"], abs=1e-6), (name, est, q)
                    assert e["low"] <= e["high"] and e["level"] == 0.9


@pytest.mark.slow  # ~10 s
def test_plain_keras_models(rng):
    """Sequential and Functional Keras models are probed layer by layer; a subclassed one
    without representations() is refused with a message."""
    import keras
    from infozoo.probe import Probe, probe
    x = rng.randn(64, 6).astype(np.float32)
    seq = keras.Sequential([keras.layers.Dense(5, activation="tanh", name="h1"),
                            keras.layers.Dense(2, name="code"), keras.layers.Dense(6, name="out")])
    inp = keras.Input((6,))
    h = keras.layers.Dense(4, activation="relu", name="f1")(inp)
    fun = keras.Model(inp, keras.layers.Dense(3, name="f2")(h))
    for m, names in ((seq, ["input", "h1", "code", "out"]), (fun, ["input", "f1", "f2"])):
        res = probe(m, x, estimators=["ksg", "renyi"], ci=0.9)
        assert [r["name"] for r in res["layers"]] == names
        ksg = [r["estimates"]["ksg"]["I_XT"]["value"] for r in res["layers"]]
        assert all(np.isfinite(ksg)) and ksg[0] > ksg[-1]  # I(X;X) above I(X;output)
        reps = Probe(m, estimators=["ksg"]).raw(x)["reps"]
        np.testing.assert_allclose(reps[-1], np.asarray(m(x)), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(reps[0], x, rtol=0, atol=0)

    class Sub(keras.Model):
        def call(self, x):
            return x
    with pytest.raises(ValueError, match="representations"):
        probe(Sub(), x, estimators=["ksg"])


def test_probe_options_are_checked():
    from infozoo.probe import Probe
    m = object()
    with pytest.raises(ValueError, match="sigma"):
        Probe(m, estimators=["noisy"])
    with pytest.raises(ValueError, match="unknown estimator"):
        Probe(m, estimators=["kgs"])
    with pytest.raises(ValueError, match="confidence level"):
        Probe(m, estimators=["ksg"], ci=95)


def test_representation_record_and_its_dict_view():
    from infozoo.util.representation import Representation
    v, d = np.zeros((2, 3)), np.ones((2, 1))
    r = Representation("split", v, False, dropped=d)
    assert r["name"] == "split" and r["value"] is v and r.get("dropped") is d
    assert "dropped" in r and "injective" not in r and r.get("injective", False) is False
    assert list(r) == ["name", "value", "bijective", "logdet", "dropped"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.name = "other"
    c = r.replace(name="code", injective=True)
    assert (c.name, c.injective, r.name) == ("code", True, "split") and "injective" in c
    old = {"name": "relu", "value": v, "bijective": False, "logdet": None, "extra": 1}
    o = Representation.of(old)
    assert (o.name, o.value, o.bijective, o.logdet, o.dropped) == ("relu", v, False, None, None)
    assert Representation.of(o) is o
    with pytest.raises(ValueError, match="'relu' has no 'bijective'"):
        Representation.of({"name": "relu", "value": v})
    with pytest.raises(ValueError, match="Representation or a dict, got list"):
        Representation.of([v])


def test_probe_settings_are_one_record():
    from infozoo.probe import Probe
    from infozoo.probe.settings import ProbeSettings
    s = ProbeSettings(estimators=["input-noise", "ksg"], sigma=1.5, ci=0.9, gamma="0.5")
    assert s.estimators == ("input-noise", "ksg") and s.alpha == 1.01
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.ci = 0.5
    with pytest.raises(TypeError, match="unknown probe setting.*'sgima'"):
        ProbeSettings.of(s, sgima=1.0)
    p = Probe(object(), settings=s, ci=0.8)            # keywords replace the record's fields
    r = p.settings
    assert (r.estimators, r.ci, r.gamma, r.alpha, r.factor) == (("input-noise", "ksg"), 0.8,
                                                                0.5, 1.01, 1.0)
    assert r.options == {"input-noise": {"sigma": 1.5}} and s.options is None
    q = Probe(object(), estimators="input-noise,ksg", sigma=1.5, ci=0.8, gamma="0.5")
    assert q.settings == r


# -- the command line --------------------------------------------------------------------
@pytest.mark.slow  # CLI subprocesses
def test_probe_every_flag_reaches_the_config():
    # (that --help imports no TensorFlow, probe included, is tests/test_cli.py's check)
    from conftest import invoke_cli  # --dry-run: no process boundary to test
    out = invoke_cli("train", "inn", "--probe-every", "3", "--dry-run", check=0).stdout
    assert "probe_every: 3" in out
    assert "probe_every: 0" in invoke_cli("train", "classic", "--dry-run", check=0).stdout
    invoke_cli("train", "inn", "--set", "train.probe_every=-1", "--dry-run", check=2)


@pytest.mark.slow  # CLI subprocesses, trains
def test_cli_probe_on_a_tiny_trained_run(tmp_path):
    from conftest import invoke_cli  # probe in this process; training and 2 replicas: subprocesses
    run = tmp_path / "run"
    run_cli("train", "inn", "--dataset", "digits", "--epochs", "1", "--train-size", "128",
            "--batch-size", "32", "--conv-blocks", "1", "--conv-hidden", "8", "--fc-hidden", "16",
            "--quiet", "--probe-every", "1", "--run-dir", run, check=0)
    # --probe-every: one probe logged during training
    hist = [json.loads(ln) for ln in (run / "probe_history.jsonl").read_text().splitlines()]
    assert len(hist) == 1 and hist[0]["epoch"] == 1
    assert any(f.startswith("events") for f in os.listdir(run / "logs" / "probe"))
    p = invoke_cli("probe", run, "--json", "--samples", "64", "--estimator", "ksg,noisy,renyi",
                   "--sigma", "0.1", "--ci", "0.9", check=0)
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert res["n"] == 64 and res["zoo"] == "inn" and res["replicas"] == 1
    assert res["estimators"] == ["renyi", "ksg", "noisy"] and res["ci"] == 0.9
    assert res["estimator_options"]["noisy"]["sigma"] == 0.1
    for r in res["layers"]:
        for est in ("ksg", "noisy"):
            e = r["estimates"][est]["I_XT"]
            assert e["low"] <= e["value"] <= e["high"] and e["level"] == 0.9, (r["name"], est)
            # noisy: capped at log2 n
            assert est != "noisy" or e["value"] <= math.log2(64) + 1e-9
    assert res["layers"][0]["name"] == "input" and res["layers"][-1]["name"] == "reconstruction"
    assert any(r["name"] == "code" for r in res["layers"]) and res["dropped"]
    for f in ("probe.json", "images/probe_information_plane.png",
              "images/probe_entropy_change.png"):
        assert (run / f).stat().st_size > 1000, f
    png = (run / "images/probe_information_plane.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    p = run_cli("probe", run, "--json", "--samples", "64", "--strategy", "mirrored",
                "--estimator", "renyi", "--cpu-replicas", "2", "--format", "png", "--format",
                "svg", check=0)
    assert (run / "images/probe_entropy_change.svg").read_text().lstrip().startswith("<?xml")
    two = json.loads(p.stdout.strip().splitlines()[-1])
    assert two["replicas"] == 2
    for a, b in zip(res["layers"], two["layers"]):
        assert b["I_XT"] == pytest.approx(a["I_XT"], abs=1e-5)
        assert b["S"] == pytest.approx(a["S"], abs=1e-5)
    assert "not a run directory" in invoke_cli("probe", tmp_path, check=2).stderr
    assert "--sigma" in invoke_cli("probe", run, "--estimator", "noisy", check=2).stderr
    assert "add noisy" in invoke_cli("probe", run, "--sigma-relative", check=2).stderr
    rel = json.loads(invoke_cli("probe", run, "--json", "--samples", "32", "--estimator",
                                "noisy", "--sigma", "0.5", "--sigma-relative",
                                check=0).stdout.splitlines()[-1])
    assert rel["estimator_options"]["noisy"]["relative"] is True
    assert "unknown estimator" in invoke_cli("probe", run, "--estimator", "kgs", check=2).stderr
    table = invoke_cli("probe", run, "--samples", "32", "--estimator", "gaussian", check=0).stdout
    assert "gaussian (shrinkage=auto" in table and "95% bootstrap intervals" in table
    assert "probe_information.png" in table
    # the default: input-noise at sigma 2.0 (input units), the Shannon figure drawn
    p = invoke_cli("probe", run, "--json", "--samples", "64", check=0)
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert res["estimators"] == ["input-noise"]
    assert res["estimator_options"]["input-noise"]["sigma"] == 2.0
    e = [r["estimates"]["input-noise"]["I_XT"] for r in res["layers"]]
    assert e[0]["ceiling"] == pytest.approx(6.0) and e[-1]["value"] <= e[0]["value"] + 1e-9
    assert (run / "images/probe_information.png").stat().st_size > 1000
    # the first order checked on 16 rows for every entry input-noise estimates, not bijective
    fo = res["first_order"]
    assert fo["sigma"] == 2.0 and fo["rows"] == 16
    estimated = [r["name"] for r, x in zip(res["layers"], e)
                 if x is not None and not r.get("bijective")]
    assert {c["name"] for c in fo["entries"]} <= {r["name"] for r in res["layers"]}
    assert fo["entries"] and all(c["trace_ratio"] > 0 and c["shift"] >= 0 for c in fo["entries"])
    assert "code" in [c["name"] for c in fo["entries"]] and "code" in estimated
    off = invoke_cli("probe", run, "--json", "--samples", "64", "--first-order-rows", "0",
                     check=0)
    assert "first_order" not in json.loads(off.stdout.strip().splitlines()[-1])
