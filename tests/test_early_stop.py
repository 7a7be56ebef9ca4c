"""Validation split held out of the training set and resumable early stopping (issue 22)."""
import json
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import REPO, run_cli

from infozoo.settings import config as config_lib
from infozoo.settings.run_config import RunConfig
from infozoo.data import loaders as data_lib


def _stopper(run_dir, patience, min_delta=0.0, epoch0=0):
    from infozoo.run.callbacks import EarlyStop
    cb = EarlyStop(str(run_dir), patience, min_delta, epoch0)
    cb.set_model(SimpleNamespace(stop_training=False))
    return cb


def test_early_stop_rule_and_resume_state(tmp_path):
    losses = [1.0, 0.5, 0.49, 0.6, 0.45, 0.8]
    cb = _stopper(tmp_path, patience=2, min_delta=0.02)
    for e, v in enumerate(losses):  # 0.49 is no improvement on 0.5 at min_delta 0.02
        cb.on_epoch_end(e, {"val_loss": v})
        if cb.model.stop_training:
            break
    s = cb.state()
    assert (s["best_epoch"], s["stopped_epoch"]) == (2, 4) and e == 3
    # a resume at epoch 3 (the checkpoint before epoch 4) forgets epoch 4 and trains it again
    again = _stopper(tmp_path, patience=2, min_delta=0.02, epoch0=3)
    assert not again.stopped and again.history == losses[:3]
    again.on_epoch_end(3, {"val_loss": 0.6})
    assert again.stopped and again.model.stop_training
    assert json.loads((tmp_path / "early_stop.json").read_text())["stopped_epoch"] == 4
    # a resume after the stop: nothing left to train
    assert _stopper(tmp_path, patience=2, min_delta=0.02, epoch0=4).stopped
    # a non-finite val_loss is not recorded (NaNStop ends such a run)
    nan = _stopper(tmp_path / "n", patience=1)
    os.makedirs(tmp_path / "n")
    nan.on_epoch_end(0, {"val_loss": float("nan")})
    assert nan.history == [] and not (tmp_path / "n" / "early_stop.json").exists()


def test_validation_split_is_held_out_of_the_training_set():
    x, y = np.arange(10.0)[:, None], np.arange(10)
    xtr, ytr, xval = data_lib.hold_out(x, y, 3)
    assert xtr[:, 0].tolist() == list(range(7)) and ytr.tolist() == list(range(7))
    assert xval[:, 0].tolist() == [7, 8, 9]
    assert data_lib.hold_out(x, y, 0)[2] is None
    with pytest.raises(ValueError, match="val_size 10 leaves no training"):
        data_lib.hold_out(x, y, 10)


def test_early_stopping_needs_a_validation_split():
    with pytest.raises(config_lib.ConfigError, match="data.val_size"):
        config_lib.resolve("classic", {"train.early_stop_patience": 3})
    cfg = config_lib.resolve("classic", {"train.early_stop_patience": 3, "data.val_size": 50})
    assert cfg.train.early_stop_patience == 3
    with pytest.raises(config_lib.ConfigError, match="val_size"):
        config_lib.resolve("classic", {"data.val_size": -1})


ARGS = ["train", "classic", "--dataset", "digits", "--bottleneck", "4", "--set", "hidden=[32,16]",
        "--train-size", "600", "--epochs", "40", "--batch-size", "32", "--set",
        "data.val_size=200", "--set", "train.early_stop_patience=2", "--set",
        "train.early_stop_min_delta=0.002", "--quiet", "--set", "train.image_every=0",
        "--checkpoint-every", "3"]


@pytest.mark.slow
def test_early_stop_resumes_exactly_after_kill_9(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run_cli(*ARGS, "--run-dir", a, check=0)
    ma = json.loads((a / "metrics.json").read_text())
    assert ma["train_size"] == 400 and ma["val_size"] == 200
    assert ma["early_stop_epoch"] is not None and ma["early_stop_epoch"] < 40, ma
    assert ma["weights_epoch"] == ma["early_stop_epoch"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "infozoo.cli", *ARGS, "--run-dir", str(b)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    es, deadline, killed = b / "early_stop.json", time.time() + 240, False
    while time.time() < deadline and proc.poll() is None:
        try:
            if len(json.loads(es.read_text())["val_loss"]) >= 3:
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.01)
    proc.wait()
    assert killed and not (b / "metrics.json").exists()
    assert "Resuming" in run_cli(*ARGS, "--run-dir", b, check=0).stdout
    mb = json.loads((b / "metrics.json").read_text())
    for k in ("early_stop_epoch", "best_epoch", "weights_epoch"):
        assert mb[k] == ma[k], k
    np.testing.assert_allclose(mb["test_l1"], ma["test_l1"], rtol=1e-6)
    np.testing.assert_allclose(json.loads(es.read_text())["val_loss"],
                               json.loads((a / "early_stop.json").read_text())["val_loss"],
                               rtol=1e-6)


def test_a_run_made_before_the_new_keys_resumes(tmp_path):
    """config.yaml of an older run lacks data.val_size and the early-stop keys: they read as
    their defaults, so the run resumes; asking for a split it did not have is refused."""
    from infozoo.run import rundir as runs
    new = config_lib.resolve("classic")
    old = new.to_dict()
    for section, k in (("data", "val_size"), ("train", "early_stop_patience"),
                       ("train", "early_stop_min_delta")):
        del old[section][k]
    old = RunConfig.from_dict(old)
    assert old.filled == ("data.val_size", "train.early_stop_patience",
                          "train.early_stop_min_delta")
    assert runs.check_resume(old, new, str(tmp_path)) == {}
    split = config_lib.resolve("classic", {"data.val_size": 100})
    with pytest.raises(config_lib.ConfigError, match="data.val_size"):
        runs.check_resume(old, split, str(tmp_path))
