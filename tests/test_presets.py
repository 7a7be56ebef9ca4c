"""Presets: trained models by name, checksummed, loading with only ``import infozoo``."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, run_cli

import infozoo
from infozoo import presets


def _fake(root, name="classic-digits-b4"):
    """A preset folder with made-up contents (enough for info and the checksums)."""
    d = root / name
    d.mkdir(parents=True)
    (d / "config.yaml").write_text("zoo: classic\nmodel: classic\n")
    (d / "model.weights.h5").write_bytes(b"\x00weights")
    (d / "metrics.json").write_text(json.dumps({"test_l1": 0.25}))
    meta = {"name": name, "model": "classic", "budget": "made up", "command": "infozoo train",
            "commit": "0" * 40,
            "sha256": {f: presets.sha256(d / f) for f in presets.FILES}}
    (d / "metadata.json").write_text(json.dumps(meta))
    return d


def test_lookup_info_and_checksums(tmp_path, monkeypatch):
    monkeypatch.setenv("INFOZOO_PRESET_PATH", str(tmp_path))
    d = _fake(tmp_path)
    assert "classic-digits-b4" in presets.available()
    i = presets.info("classic-digits-b4")
    assert i["config"]["zoo"] == "classic" and i["metrics"] == {"test_l1": 0.25}
    assert i["command"] == "infozoo train" and i["commit"] == "0" * 40
    with pytest.raises(presets.PresetError, match="unknown preset 'nope'.*classic-digits-b4"):
        presets.info("nope")
    (d / "model.weights.h5").write_bytes(b"\x00weightz")  # one byte changed
    with pytest.raises(presets.PresetError, match="does not match its checksum"):
        presets.info("classic-digits-b4")
    (d / "model.weights.h5").unlink()
    with pytest.raises(presets.PresetError, match="missing"):
        presets.info("classic-digits-b4")


def test_names_and_budget_are_checked(tmp_path):
    for bad in ("Classic", "classic", "classic digits"):
        with pytest.raises(presets.PresetError, match="preset name"):
            presets.make(tmp_path, bad, tmp_path, "x")
    with pytest.raises(presets.PresetError, match="budget"):
        presets.make(tmp_path, "classic-digits-b4", tmp_path, " ")
    with pytest.raises(presets.PresetError, match="no metrics.json"):
        presets.make(tmp_path, "classic-digits-b4", tmp_path, "tiny")
    assert presets.NAME.match("inn-fashion_mnist-b64") and presets.NAME.match(
        "pie-fashion_mnist-eps0.1") and presets.NAME.match("ipae-toy25")


def test_the_commit_comes_from_the_runs_segments(tmp_path):
    """make() names the commit its run's segments recorded, and refuses to guess one."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text("{}")

    def segments(*codes):
        (run / "segments.jsonl").write_text(
            "".join(json.dumps({"argv": ["train"], "code": c}) + "\n" for c in codes))
    a, b = {"commit": "a" * 40, "modified": False}, {"commit": "b" * 40, "modified": False}
    segments(a, a)
    assert presets.run_commit(run) == "a" * 40
    for codes, what in [((a, b), "2 commits"), ((a, {**a, "modified": True}), "changes"),
                        (({},), "does not record"), ((None,), "does not record")]:
        segments(*codes)
        with pytest.raises(presets.PresetError, match=what):
            presets.make(run, "classic-digits-b4", tmp_path / "out", "tiny")
    (run / "segments.jsonl").unlink()
    with pytest.raises(presets.PresetError, match="--commit"):
        presets.run_commit(run)


def test_import_infozoo_lists_presets_without_tensorflow():
    code = ("import sys, infozoo; infozoo.presets.available(); "
            "assert callable(infozoo.from_preset); print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr[-2000:]


@pytest.mark.slow
def test_preset_from_a_tiny_run_loads_by_name_and_reproduces_its_metrics(tmp_path):
    from conftest import invoke_cli  # in this process: no process boundary tested
    run, root = tmp_path / "run", tmp_path / "presets"
    invoke_cli("train", "classic", "--dataset", "digits", "--bottleneck", "4", "--set",
               "hidden=[32,16]", "--train-size", "256", "--test-size", "200", "--epochs", "2",
               "--quiet", "--set", "train.image_every=0", "--run-dir", run, check=0)
    from infozoo.util.provenance import code_version
    (seg,) = [json.loads(line) for line in (run / "segments.jsonl").read_text().splitlines()]
    assert seg["code"] == code_version() and seg["code"]["infozoo"] == infozoo.__version__
    p = invoke_cli("presets", "make", run, "classic-digits-b4-short", "--out", root,
                   "--budget", "2 epochs of 256 digits (a test)", "--commit", "abc", check=0)
    assert "written" in p.stdout
    mask = os.umask(0)
    os.umask(mask)
    mode = os.stat(root / "classic-digits-b4-short").st_mode & 0o777
    assert mode == 0o777 & ~mask, oct(mode)  # the umask's permissions, not mkdtemp's 0700
    env = {"INFOZOO_PRESET_PATH": str(root)}
    code = ("import json, numpy as np, infozoo\n"
            "m = infozoo.from_preset('classic-digits-b4-short')\n"
            "i = infozoo.presets.info('classic-digits-b4-short')\n"
            "x = np.zeros((2, 8, 8, 1), 'float32')\n"
            "print(json.dumps([m.count_params_trainable(), i['commit'], i['budget'],"
            " i['command'], np.asarray(m.reconstruct(x)).shape]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=300, env={**os.environ, **env,
                                                      "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert out.returncode == 0, out.stderr[-3000:]
    params, commit, budget, command, shape = json.loads(out.stdout.strip().splitlines()[-1])
    recorded = json.loads((run / "metrics.json").read_text())
    assert params == recorded["params"] and commit == "abc" and shape == [2, 8, 8, 1]
    assert budget.startswith("2 epochs") and command.startswith("infozoo train classic")
    got = json.loads(invoke_cli("eval", "--preset", "classic-digits-b4-short", "--json", env=env,
                                check=0).stdout)
    for k in ("test_l1", "test_mse", "test_loss"):  # the same weights, data and arithmetic
        np.testing.assert_allclose(got[k], recorded[k], rtol=1e-5)
        assert got["recorded"][k] == recorded[k]
    probed = json.loads(invoke_cli("probe", "--preset", "classic-digits-b4-short", "--samples", "64",
                                   "--estimator", "gaussian", "--dropped-entropy", "none",
                                   "--json", env=env, check=0).stdout)
    assert probed["preset"] == "classic-digits-b4-short" and probed["commit"] == "abc"
    assert [layer["name"] for layer in probed["layers"]][0] == "input"
    w = root / "classic-digits-b4-short" / "model.weights.h5"
    w.write_bytes(w.read_bytes()[:-10])  # truncated
    p = invoke_cli("eval", "--preset", "classic-digits-b4-short", env=env, check=2)
    assert "does not match its checksum" in p.stderr and "Traceback" not in p.stderr
