"""SavedModels load in a fresh process that imports only TensorFlow and reproduce the model."""
import json

import numpy as np
import pytest

from conftest import perturb, run_script
from infozoo.run.export import export_model
from tiny import SHAPE, TINY, make

pytestmark = pytest.mark.slow  # a fresh process loads the SavedModels

LOADER = r"""
import importlib.abc, json, sys


class NoInfozoo(importlib.abc.MetaPathFinder):  # the SavedModel must load without infozoo
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "infozoo":
            raise ImportError("the loader imported " + name)


sys.meta_path.insert(0, NoInfozoo())
import numpy as np
import tensorflow as tf
out = {}
for name, path in json.loads(sys.argv[1]).items():
    m = tf.saved_model.load(path)
    res = {}
    for b in (1, 7):
        x = np.random.RandomState(b).rand(b, *%(shape)s).astype("float32")
        z = m.encode(tf.constant(x))["code"]
        rec = m.reconstruct(tf.constant(x))["reconstruction"]
        res[b] = {"z": z.numpy().tolist(), "x_hat": m.decode(z)["reconstruction"].numpy().tolist(),
                  "rec": rec.numpy().tolist(),
                  # a reconstruction is clipped to the data range: it can be encoded again
                  "rerec": m.encode(rec)["code"].numpy().tolist()}
        if hasattr(m, "sample"):
            s = m.sample(tf.constant(3), tf.constant(1.0), tf.constant(5, tf.int64))["samples"]
            s2 = m.sample(tf.constant(3), tf.constant(1.0), tf.constant(5, tf.int64))["samples"]
            s3 = m.sample(tf.constant(3), tf.constant(1.0), tf.constant(-1, tf.int64))["samples"]
            res["sample_shape"] = list(s.shape)
            res["sample_same_seed"] = float(tf.reduce_max(tf.abs(s - s2)))
            res["sample_range"] = [float(tf.reduce_min(s3)), float(tf.reduce_max(s3))]
        if hasattr(m, "log_prob"):
            res["log_prob_%%d" %% b] = m.log_prob(tf.constant(x))["log_prob"].numpy().tolist()
    # what saved_model_cli show lists: every signature's named inputs and outputs
    res["signatures"] = {k: {"inputs": sorted(f.structured_input_signature[1]),
                             "outputs": sorted(f.structured_outputs)}
                         for k, f in m.signatures.items()}
    meta = m.signatures["metadata"]()
    res["metadata"] = json.loads(meta["json"].numpy().decode())
    res["metadata_num_bins"] = int(meta["num_bins"])
    asset = path + "/assets/infozoo-metadata.json"
    res["asset"] = json.load(open(asset))
    # bad input gets an error that says what is wrong, never garbage
    errors = {}
    bad = {"empty": np.zeros((0, *%(shape)s), "float32"),
           "uint8_scale": np.full((2, *%(shape)s), 200.0, "float32"),
           "nan": np.full((2, *%(shape)s), np.nan, "float32")}
    for what, xb in bad.items():
        try:
            m.encode(tf.constant(xb))["code"]
            errors[what] = None
        except tf.errors.InvalidArgumentError as e:
            errors[what] = e.message
    if hasattr(m, "sample"):
        for n in (0, -1):
            try:
                m.sample(tf.constant(n), tf.constant(1.0), tf.constant(0, tf.int64))
                errors["sample%%d" %% n] = None
            except tf.errors.InvalidArgumentError as e:
                errors["sample%%d" %% n] = e.message
    res["errors"] = errors
    out[name] = res
# (Keras itself cannot be kept out: `import tensorflow` imports keras.src on its own.)
assert "infozoo" not in sys.modules, "the loader must not import infozoo"
print("RESULT" + json.dumps({"infozoo_loaded": "infozoo" in sys.modules, "out": out}))
""" % {"shape": repr(SHAPE)}


def test_savedmodels_round_trip_in_fresh_process(tmp_path):
    models, paths = {}, {}
    for name in sorted(TINY):
        m = make(name)
        perturb(m.trainable_variables, 0.05)
        models[name] = m
        paths[name] = export_model(m, str(tmp_path / name))
    result = run_script(LOADER, json.dumps(paths), timeout=300)
    assert result["infozoo_loaded"] is False
    for name, m in models.items():
        res = result["out"][name]
        for b in ("1", "7"):
            x = np.random.RandomState(int(b)).rand(int(b), *SHAPE).astype("float32")
            z = m.encode(x)
            # graph (SavedModel) vs eager float32: oneDNN may order sums differently (~1e-6
            # relative per layer), so the bound is float32's after a few layers
            np.testing.assert_allclose(res[b]["z"], z, rtol=1e-5, atol=1e-5, err_msg=name)
            # the export clips images to the data range [0, 1]
            np.testing.assert_allclose(res[b]["x_hat"], np.clip(m.decode(z), 0, 1), rtol=1e-5,
                                       atol=1e-5)
            np.testing.assert_allclose(res[b]["rec"], np.clip(m.reconstruct(x), 0, 1),
                                       rtol=1e-5, atol=1e-5)
            if hasattr(m, "log_prob"):
                np.testing.assert_allclose(res[f"log_prob_{b}"], m.log_prob(x),
                                           rtol=1e-5, atol=1e-3)
        err = res["errors"]
        assert "the batch is empty" in err["empty"], (name, err)
        assert "must be floats in [0.0, 1.0]" in err["uint8_scale"], (name, err)
        assert "NaN or infinite" in err["nan"], (name, err)
        if m.can_sample:
            assert "n must be >= 1" in err["sample0"] and "n must be >= 1" in err["sample-1"]
        if m.can_sample:
            assert res["sample_shape"] == [3, *SHAPE]
            assert res["sample_same_seed"] == 0.0              # a seed repeats its draws
            assert 0.0 <= res["sample_range"][0] and res["sample_range"][1] <= 1.0  # clipped
        else:
            assert "sample_shape" not in res
        np.testing.assert_allclose(res["1"]["rerec"], m.encode(np.clip(m.reconstruct(
            np.random.RandomState(1).rand(1, *SHAPE).astype("float32")), 0, 1)),
            rtol=1e-5, atol=1e-5)
        # named outputs, the metadata as an endpoint and as an asset
        sig = res["signatures"]
        assert sig["encode"] == {"inputs": ["x"], "outputs": ["code"]}, sig
        assert sig["decode"] == {"inputs": ["z"], "outputs": ["reconstruction"]}
        assert sig["reconstruct"]["outputs"] == ["reconstruction"]
        if m.can_sample:
            assert sig["sample"] == {"inputs": ["n", "seed", "temperature"],
                                     "outputs": ["samples"]}
        if hasattr(m, "log_prob"):
            assert sig["log_prob"]["outputs"] == ["log_prob"]
        assert "json" in sig["metadata"]["outputs"] and "output_0" not in str(sig)
        meta = res["metadata"]
        assert meta == res["asset"]
        import infozoo
        assert meta["model"] == name and meta["infozoo_version"] == infozoo.__version__
        assert meta["input_shape"] == [None, *SHAPE] and meta["value_range"] == [0.0, 1.0]
        assert meta["code_size"] == m.code_size
        assert meta["num_bins"] == m.hp.get("num_bins")
        assert res["metadata_num_bins"] == (m.hp.get("num_bins") or -1)
        assert (meta["log_prob_units"] is not None) == hasattr(m, "log_prob")
        assert set(meta["endpoints"]) == set(sig) - {"serving_default", "metadata"}
        assert all(e["doc"] for e in meta["endpoints"].values())


def test_every_sampling_model_repeats_its_draws_for_a_seed():
    for name in sorted(TINY):
        m = make(name)
        if not m.can_sample:
            continue
        perturb(m.trainable_variables, 0.05)
        a, b = m.sample(3, 1.0, seed=4), m.sample(3, 1.0, seed=4)
        np.testing.assert_array_equal(a, b, err_msg=name)
        assert np.abs(np.asarray(m.sample(3, 1.0, seed=5)) - np.asarray(a)).max() > 0, name
