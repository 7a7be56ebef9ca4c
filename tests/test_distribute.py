"""A 2-replica MirroredStrategy on logical CPUs gives the losses of a 1-replica run."""
import subprocess
import sys

SCRIPT = r"""
import os, json
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import sys; sys.path.insert(0, "tests")
from infozoo import distribute
distribute.configure_cpu_replicas(2)
import numpy as np, keras, tensorflow as tf
from tiny import make, SHAPE
x = np.random.RandomState(0).rand(64, *SHAPE).astype("float32")
def run(strategy, weights=None):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        m = make("inn")
        if weights is not None:
            m.set_weights(weights)
        m.compile(optimizer=keras.optimizers.Adam(1e-2))
    w0 = [w.copy() for w in m.get_weights()]
    ds = tf.data.Dataset.from_tensor_slices(x).batch(16, drop_remainder=True)
    h = m.fit(ds, epochs=3, verbose=0, shuffle=False)
    return w0, h.history["loss"], m.evaluate(ds, verbose=0, return_dict=True)["loss"]
w0, one, ev1 = run(tf.distribute.get_strategy())
two_s = distribute.make_strategy("mirrored", 2)
_, two, ev2 = run(two_s, w0)
print("RESULT" + json.dumps({"replicas": two_s.num_replicas_in_sync, "one": one, "two": two,
                             "ev1": ev1, "ev2": ev2}))
"""


def test_two_replicas_equal_one_replica():
    import json
    import numpy as np
    p = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads([ln for ln in p.stdout.splitlines() if ln.startswith("RESULT")][0][6:])
    assert res["replicas"] == 2
    assert res["one"][0] > res["one"][-1]  # it trained
    np.testing.assert_allclose(res["two"], res["one"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res["ev2"], res["ev1"], rtol=1e-5, atol=1e-6)
