"""SavedModels load in a fresh process that imports only TensorFlow and reproduce the model."""
import json

import numpy as np
import pytest

from conftest import perturb, run_script
from infozoo.export import export_model
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
        z = m.encode(tf.constant(x))
        res[b] = {"z": z.numpy().tolist(), "x_hat": m.decode(z).numpy().tolist(),
                  "rec": m.reconstruct(tf.constant(x)).numpy().tolist()}
        if hasattr(m, "sample"):
            s = m.sample(tf.constant(3), tf.constant(1.0))
            res["sample_shape"] = list(s.shape)
        if hasattr(m, "log_prob"):
            res["log_prob_%%d" %% b] = m.log_prob(tf.constant(x)).numpy().tolist()
    # bad input gets an error that says what is wrong, never garbage
    errors = {}
    bad = {"empty": np.zeros((0, *%(shape)s), "float32"),
           "uint8_scale": np.full((2, *%(shape)s), 200.0, "float32"),
           "nan": np.full((2, *%(shape)s), np.nan, "float32")}
    for what, xb in bad.items():
        try:
            m.encode(tf.constant(xb))
            errors[what] = None
        except tf.errors.InvalidArgumentError as e:
            errors[what] = e.message
    if hasattr(m, "sample"):
        for n in (0, -1):
            try:
                m.sample(tf.constant(n), tf.constant(1.0))
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
            np.testing.assert_allclose(res[b]["x_hat"], m.decode(z), rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(res[b]["rec"], m.reconstruct(x), rtol=1e-5, atol=1e-5)
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
        else:
            assert "sample_shape" not in res
