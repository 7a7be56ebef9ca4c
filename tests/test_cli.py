"""The CLI as a user runs it: real subprocesses (the end-to-end test's follow-up commands on
its run go through click in this process)."""
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

pytestmark = pytest.mark.slow  # every test runs the CLI in a subprocess

TINY_INN = [*INN_FLAGS, "--batch-size", "32"]


def test_help_does_not_import_tensorflow():
    p = subprocess.run([sys.executable, "-c",
                        "import sys, infozoo.cli\n"
                        "from click.testing import CliRunner\n"
                        "r = CliRunner().invoke(infozoo.cli.main, ['train', 'inn', '--help'])\n"
                        "assert r.exit_code == 0 and '--bottleneck' in r.output, r.output\n"
                        "assert '--probe-every' in r.output, r.output\n"
                        "r = CliRunner().invoke(infozoo.cli.main, ['probe', '--help'])\n"
                        "assert r.exit_code == 0 and '--samples' in r.output, r.output\n"
                        "assert 'tensorflow' not in sys.modules\n"
                        "print('ok')"], capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr


def test_list_and_dry_run():
    out = run_cli("list", check=0).stdout
    for name in ("inn", "inn-vae", "classic", "classic-1024", "classic-2048", "classic-deep"):
        assert f"\n{name} " in "\n" + out
    cfg = run_cli("train", "inn", "--bottleneck", "7", "--set", "train.lr=0.01", "--dry-run",
                  check=0).stdout
    assert "bottleneck: 7" in cfg and "lr: 0.01" in cfg


def test_bad_flags_exit_2_with_clear_messages():
    p = run_cli("train", "inn", "--set", "bottlenek=3", "--dry-run", check=2)
    assert "unknown config key 'bottlenek'" in p.stderr
    p = run_cli("train", "inn", "--bottleneck", "0", "--dry-run", check=2)
    assert "must be >= 1" in p.stderr
    p = run_cli("train", "inn", "--bottleneck", "many", check=2)
    assert "'many' is not a valid integer" in p.stderr
    p = run_cli("train", "nosuchmodel", check=2)
    assert "unknown model 'nosuchmodel'" in p.stderr
    p = run_cli("train", "inn", "--epochs", "0", check=2)
    assert "--epochs" in p.stderr


def test_train_eval_export_end_to_end(tmp_path):
    from conftest import invoke_cli  # in this process: no process boundary tested
    run = tmp_path / "run"
    p = run_cli("train", "inn", *TINY_INN, "--train-size", "128", "--epochs", "2",
                "--run-dir", run, check=0)
    for f in ("config.yaml", "metrics.json", "history.csv", "images/reconstructions.png",
              "export/saved_model.pb", "export/model.keras", "checkpoints/state.json"):
        assert (run / f).exists(), f
    assert any(f.startswith("events") for f in os.listdir(run / "logs" / "train"))
    metrics = json.loads((run / "metrics.json").read_text())
    for k in ("test_l1", "test_mse", "params", "wall_time_s", "images_per_s"):
        assert np.isfinite(metrics[k]), k
    ev = json.loads(invoke_cli("eval", run, "--json", check=0).stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(ev["test_l1"], metrics["test_l1"], rtol=1e-5)
    invoke_cli("export", run, "--out", tmp_path / "sm", check=0)
    assert (tmp_path / "sm" / "saved_model.pb").exists()
    # running the finished run again trains nothing more and keeps the result
    again = invoke_cli("train", "inn", *TINY_INN, "--train-size", "128", "--epochs", "2",
                       "--run-dir", run, check=0)
    assert "Resuming" in again.stdout
    np.testing.assert_allclose(json.loads((run / "metrics.json").read_text())["test_l1"],
                               metrics["test_l1"], rtol=1e-6)
    # a corrupt newest checkpoint is named, and the older one the run keeps is used
    state = json.loads((run / "checkpoints" / "state.json").read_text())
    (run / "checkpoints" / state["weights"]).write_bytes(b"garbage")
    p = invoke_cli("train", "inn", *TINY_INN, "--train-size", "128", "--epochs", "3",
                   "--run-dir", run, check=0)
    assert "cannot load checkpoint" in p.stderr and "corrupt" in p.stderr
    assert "Using the older checkpoint" in p.stderr and "delete" not in p.stderr
    # none readable: exit 1 naming each file, and nothing deleted
    for f in (run / "checkpoints").glob("ckpt-*.weights.h5"):
        f.write_bytes(b"garbage")
    p = invoke_cli("train", "inn", *TINY_INN, "--train-size", "128", "--epochs", "4",
                   "--run-dir", run, check=1)
    assert "no checkpoint of" in p.stderr and "move the checkpoints aside" in p.stderr
    assert list((run / "checkpoints").glob("ckpt-*.weights.h5"))


def test_resume_after_kill_9_matches_uninterrupted_run(tmp_path):
    args = ["train", "inn", *TINY_INN, "--train-size", "256", "--epochs", "12",
            "--checkpoint-every", "3", "--set", "train.image_every=0"]
    run_cli(*args, "--run-dir", tmp_path / "a", check=0)
    b = tmp_path / "b"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "infozoo.cli", *args, "--run-dir", str(b)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    state_file = b / "checkpoints" / "state.json"
    deadline = time.time() + 240
    killed_at = None
    while time.time() < deadline and proc.poll() is None:
        if state_file.exists():
            try:
                gs = json.loads(state_file.read_text())["global_step"]
            except ValueError:
                gs = 0
            if gs >= 20:
                proc.send_signal(signal.SIGKILL)
                killed_at = gs
                break
        time.sleep(0.02)
    proc.wait()
    assert killed_at is not None, "the run finished before it could be killed"
    assert not (b / "metrics.json").exists()
    p = run_cli(*args, "--run-dir", b, check=0)
    assert "Resuming" in p.stdout
    # the progress bar counts the run's epochs, also for the partial epoch after the kill
    epochs = [ln.split()[1] for ln in p.stdout.splitlines() if ln.startswith("Epoch ")]
    assert epochs and all(e.endswith("/12") for e in epochs), epochs
    ma = json.loads((tmp_path / "a" / "metrics.json").read_text())
    mb = json.loads((b / "metrics.json").read_text())
    np.testing.assert_allclose(mb["test_l1"], ma["test_l1"], rtol=1e-6)
    np.testing.assert_allclose(mb["test_loss"], ma["test_loss"], rtol=1e-6)


def test_nan_loss_stops_with_clear_message_and_keeps_checkpoint(tmp_path):
    run = tmp_path / "nan"
    p = run_cli("train", "inn", *TINY_INN, "--train-size", "128", "--epochs", "3",
                "--lr", "1e30", "--set", "clamp=0.0", "--run-dir", run)
    assert p.returncode == 1, p.stderr[-2000:]
    assert "NaN or infinite" in p.stderr
    assert not (run / "metrics.json").exists()


def test_pie_headline_command_on_digits(tmp_path):
    """`infozoo train pie --eps 0.1` on data that needs no download (small budget)."""
    run = tmp_path / "pie"
    p = run_cli("train", "pie", "--eps", "0.1", "--dataset", "digits", "--epochs", "1",
                "--train-size", "256", "--couplings-per-block", "1", "--sharpness-samples",
                "64", "--quiet", "--run-dir", run, check=0)
    assert "pie (pie) on digits" in p.stdout
    m = json.loads((run / "metrics.json").read_text())
    for k in ("test_bits_per_dim", "recon_mse", "sharpness_T1", "sharpness_T0.71",
              "sharpness_true"):
        assert np.isfinite(m[k]), k
    for png in ("pie_reconstructions", "pie_samples_T1", "pie_samples_T0.71",
                "pie_interpolation"):
        assert (run / "images" / f"{png}.png").exists(), png
    assert "eps^2 = 0.01, 0.1, 1.0 are eps = 0.1, 0.316, 1.0" in " ".join(
        run_cli("train", "pie", "--help", check=0).stdout.split())


def test_pie_rejects_zero_and_negative_eps():
    for eps in ("0", "-0.5"):
        p = run_cli("train", "pie", "--eps", eps, "--dataset", "digits", check=2)
        assert "model_args.eps" in p.stderr and "must be > 0" in p.stderr
