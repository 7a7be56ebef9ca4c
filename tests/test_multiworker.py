"""Multi-worker training on 127.0.0.1: exact, chief-only files, survives a lost worker.

Each test runs the real CLI (``--strategy multiworker --local-workers 2``: two worker
processes with one replica each) on tiny configs and compares it with one process
running 2 logical CPU replicas (``--strategy mirrored --cpu-replicas 2``). Workers get
their own ``TMPDIR`` so a leftover scratch directory would be seen.
"""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import REPO, run_cli
from tiny import INN_FLAGS

pytestmark = [pytest.mark.multiworker, pytest.mark.slow]

INN = ["inn", *INN_FLAGS, "--batch-size", "32", "--set", "train.image_every=0"]
IPAE = ["ipae", "--dataset", "digits", "--code-size", "2", "--arch", "mlp", "--set", "hidden=[16]",
        "--k", "2", "--nj", "2", "--probe-size", "0", "--batch-size", "32", "--quiet",
        "--set", "train.image_every=0"]
MULTI = ["--strategy", "multiworker", "--local-workers", "2"]
MIRRORED = ["--strategy", "mirrored", "--cpu-replicas", "2"]


def _history(run):
    import csv
    with open(os.path.join(run, "history.csv")) as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in rows[0] if k != "epoch"}


def _metrics(run):
    with open(os.path.join(run, "metrics.json")) as f:
        return json.load(f)


def _files(run):
    return sorted(os.path.relpath(os.path.join(d, f), run) for d, _, fs in os.walk(run)
                  for f in fs if "events.out" not in f)


def _scratch(tmp):
    return [p.name for p in tmp.iterdir() if p.name.startswith("infozoo-")]


def _env(tmp_path):
    tmp = tmp_path / "tmpdir"
    tmp.mkdir(exist_ok=True)
    return {"TMPDIR": str(tmp)}, tmp


@pytest.mark.parametrize("model,extra", [
    (INN, ["--train-size", "128", "--epochs", "2", "--probe-every", "2"]),
    (IPAE, ["--train-size", "128", "--epochs", "2", "--beta", "0.1"]),
], ids=["inn", "ipae"])
def test_two_workers_equal_one_process_with_two_replicas(tmp_path, model, extra):
    env, tmp = _env(tmp_path)
    a, b = tmp_path / "workers", tmp_path / "replicas"
    p = run_cli("train", *model, *extra, *MULTI, "--run-dir", a, env=env, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert "[worker 0]" in p.stdout and "[worker 1]" in p.stdout
    run_cli("train", *model, *extra, *MIRRORED, "--run-dir", b, check=0, timeout=600)
    ha, hb = _history(a), _history(b)
    assert ha["loss"][0] != ha["loss"][-1]
    for k in hb:
        np.testing.assert_allclose(ha[k], hb[k], rtol=1e-5, atol=1e-7, err_msg=k)
    ma, mb = _metrics(a), _metrics(b)
    assert ma["replicas"] == mb["replicas"] == 2
    for k in ("test_loss", "test_recon" if "ipae" in model else "test_l1"):
        np.testing.assert_allclose(ma[k], mb[k], rtol=1e-5, err_msg=k)
    # only the chief wrote, the same files a one-process run writes; no scratch left
    assert _files(a) == _files(b)
    assert _scratch(tmp) == []
    if "--probe-every" in extra:  # the probe ran under the multi-worker strategy
        pa = [json.loads(ln) for ln in open(a / "probe_history.jsonl")]
        pb = [json.loads(ln) for ln in open(b / "probe_history.jsonl")]
        assert len(pa) == len(pb) == 1
        fa, fb = _probe_figures(pa[0]), _probe_figures(pb[0])
        assert fa.keys() == fb.keys() and fa   # the default estimator's per-layer figures
        for k in fa:
            np.testing.assert_allclose(fa[k], fb[k], rtol=1e-5, atol=1e-6, err_msg=k)


def _probe_figures(result):
    """``{(layer, estimator, key): value}`` of a probe result's numbers (and exact dh)."""
    out = {}
    for r in result["layers"]:
        if r.get("dh_bits") is not None:
            out[(r["name"], "dh_bits")] = r["dh_bits"]
        for name, e in r.get("estimates", {}).items():
            for key, v in e.items():
                if v is not None and v.get("value") is not None:
                    out[(r["name"], name, key)] = v["value"]
    return out


def test_kill_9_worker_stops_cluster_and_rerun_resumes_exactly(tmp_path):
    env, tmp = _env(tmp_path)
    args = ["train", *INN, "--train-size", "256", "--epochs", "5", "--checkpoint-every", "3"]
    ref = tmp_path / "uninterrupted"
    run_cli(*args, *MIRRORED, "--run-dir", ref, check=0, timeout=600)
    run = tmp_path / "killed"
    log = tmp_path / "launcher.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "infozoo.cli", *args, *MULTI,
                                 "--run-dir", str(run)], cwd=REPO, stdout=out,
                                stderr=subprocess.STDOUT,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env})
        state_file = run / "checkpoints" / "state.json"
        deadline, killed_at = time.time() + 400, None
        while time.time() < deadline and proc.poll() is None:
            try:
                gs = json.loads(state_file.read_text())["global_step"]
            except (OSError, ValueError):
                gs = 0
            if gs >= 12:  # mid-run: 8 steps per epoch, 40 in all
                text = log.read_text()
                pid = int(text.split("[launcher] worker 1: pid ")[1].split(",")[0])
                os.kill(pid, signal.SIGKILL)
                killed_at = time.time()
                break
            time.sleep(0.05)
        assert killed_at is not None, "the run finished before a worker could be killed"
        proc.wait(timeout=240)
    stopped_after = time.time() - killed_at
    text = log.read_text()
    assert proc.returncode != 0
    assert "[worker 0] Error: lost contact with another worker" in text, text[-3000:]
    assert "same --run-dir to resume" in text
    assert stopped_after < 180, stopped_after
    assert not (run / "metrics.json").exists()
    p = run_cli(*args, *MULTI, "--run-dir", run, env=env, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert "[worker 0] Resuming" in p.stdout and "[worker 1] Resuming" in p.stdout
    ma, mb = _metrics(run), _metrics(ref)
    np.testing.assert_allclose(ma["test_loss"], mb["test_loss"], rtol=1e-5)
    np.testing.assert_allclose(ma["test_l1"], mb["test_l1"], rtol=1e-5)
    assert _scratch(tmp) == []  # the killed worker's scratch was removed on rerun
