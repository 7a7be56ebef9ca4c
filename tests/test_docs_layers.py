"""docs/layers.md's worked example (a class-conditional multi-scale flow) runs as written."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # 300 training steps of a flow

DOC = Path(__file__).resolve().parent.parent / "docs" / "layers.md"


def test_conditional_flow_example_runs():
    text = DOC.read_text()
    block = re.search(r"<!-- example: conditional-flow -->\n```python\n(.*?)```", text, re.S)
    assert block, "the worked example is missing from docs/layers.md"
    env = {}
    exec(compile(block.group(1), str(DOC), "exec"), env)
    samples, labels, accuracy = env["samples"], env["labels"], env["accuracy"]
    print(f"conditional flow: test accuracy {accuracy:.3f}, final NLL {float(env['loss']):.2f}")
    assert samples.shape == (40, 8, 8, 1) and np.all(np.isfinite(samples))
    means = np.stack([np.asarray(samples)[labels == k].mean(0) for k in range(10)])
    assert np.abs(means[:, None] - means[None]).max() > 0.1   # the classes differ
    # chance is 0.1, the documented run 0.947; on 360 test digits an accuracy's SE is at most
    # 0.026, so 0.5 is 17 SE below the run and 15 above chance: it catches a flow that did
    # not learn, not another CPU's rounding
    assert accuracy > 0.5


def _block(text, name):
    block = re.search(rf"<!-- example: {name} -->\n```python\n(.*?)```", text, re.S)
    assert block, f"the example {name!r} is missing from docs/layers.md"
    return block.group(1)


@pytest.mark.slow
def test_flow_model_example_trains_samples_and_reloads_in_a_fresh_process(tmp_path,
                                                                         monkeypatch):
    """The two-moons FlowModel of docs/layers.md: plain fit, samples on the asked moon, and a
    .keras round trip in a fresh process that only registers the subnet."""
    text = DOC.read_text()
    subnet, example = _block(text, "flow-model-subnet"), _block(text, "flow-model")
    monkeypatch.chdir(tmp_path)
    env = {}
    exec(compile(subnet + example, str(DOC), "exec"), env)
    loss = env["history"].history["loss"]
    print(f"FlowModel two moons: NLL {loss[0]:.3f} -> {loss[-1]:.3f} nats")
    assert loss[-1] < loss[0] - 1.0
    x, moon, samples = env["x"], env["moon"], np.asarray(env["samples"])
    assert samples.shape == (500, 2) and np.all(np.isfinite(samples))
    # the samples of moon 0 are nearer moon 0's points than moon 1's
    d = np.linalg.norm(samples[:, None] - x[None], axis=-1)
    near0 = d[:, moon == 0].min(1) < d[:, moon == 1].min(1)
    assert near0.mean() > 0.9, near0.mean()
    np.save(tmp_path / "x.npy", x[:50])
    np.save(tmp_path / "c.npy", env["c"][:50])
    np.save(tmp_path / "lp.npy", np.asarray(env["log_p"])[:50])
    script = subnet + (
        "import numpy as np\nimport infozoo.models  # noqa: F401\n"
        "m = keras.saving.load_model('moons.keras')\n"
        "lp = m.log_prob(np.load('x.npy'), np.load('c.npy')).numpy()\n"
        "ref = np.load('lp.npy')\n"
        "print(float((np.abs(lp - ref) / (1 + np.abs(ref))).max()))\n"
        "s = m.sample(3, c=np.load('c.npy')[:3], seed=0).numpy()\n"
        "assert s.shape == (3, 2)\n")
    (tmp_path / "reload.py").write_text(script)
    repo = str(DOC.parent.parent)
    p = subprocess.run([sys.executable, "reload.py"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": repo, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert p.returncode == 0, p.stderr[-3000:]
    # the same weights: equal up to float32 rounding (oneDNN sums a batch of 50 and one of
    # 2000 in different orders)
    assert float(p.stdout.strip().splitlines()[-1]) < 1e-5
