"""Nothing lost, nothing mixed, no hang, no traceback (docs/cli.md, "What survives what").

Each test is a fault a user met: exports over foreign directories, resumes with other
settings, NaN stops, stale weights, failed starts, concurrent runs, bad input.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import yaml

from conftest import REPO, copy_run, interrupt_at_first_checkpoint, run_cli
from tiny import INN_FLAGS

pytestmark = pytest.mark.slow  # every test runs the CLI in a subprocess (and most train)

TINY_INN = [*INN_FLAGS, "--set", "train.image_every=0"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished 2-epoch tiny INN run (export included); tests copy it before changing it."""
    run = tmp_path_factory.mktemp("runs") / "inn"
    run_cli("train", "inn", *TINY_INN, "--batch-size", "32", "--train-size", "128",
            "--epochs", "2", "--run-dir", run, check=0)
    return run


def _tree(path):
    return {os.path.relpath(os.path.join(d, f), path): os.path.getsize(os.path.join(d, f))
            for d, _, fs in os.walk(path) for f in fs}


# -- export never deletes what infozoo did not write ---------------------------------------
def test_export_refuses_foreign_and_run_directories(finished_run, tmp_path):
    from conftest import invoke_cli  # in this process: no process boundary tested
    run = copy_run(finished_run, tmp_path)
    before = _tree(run)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("weeks of work")
    p = invoke_cli("export", run, "--out", mine, check=2)
    assert "not empty and is not an infozoo export" in p.stderr
    assert (mine / "thesis.tex").read_text() == "weeks of work"
    p = invoke_cli("export", run, "--out", run, check=2)
    assert "run directory" in p.stderr
    # --out . from the directory that holds the run: refused, nothing touched
    p = subprocess.run([sys.executable, "-m", "infozoo.cli", "export", "run", "--out", "."],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": REPO})
    assert p.returncode == 2, p.stderr[-2000:]
    assert _tree(run) == before and (mine / "thesis.tex").exists()
    # a new directory, then the same one again: an earlier infozoo export is replaced
    out = tmp_path / "sm"
    invoke_cli("export", run, "--out", out, check=0)
    marker = json.loads((out / "infozoo-export.json").read_text())
    assert marker["format"] == "infozoo-export" and marker["epoch"] == 2
    p = invoke_cli("export", run, "--out", out, check=0)
    assert "epoch 2, step 0" in p.stdout
    assert not [f for f in os.listdir(tmp_path) if "infozoo-tmp" in f or "infozoo-old" in f]
    assert _tree(run) == before


def test_failed_export_leaves_the_previous_one_whole(finished_run, tmp_path, monkeypatch):
    from infozoo.run import export
    from infozoo.run import factory
    cfg, model, w = factory.load_model(str(finished_run), verbose=False)
    out = tmp_path / "sm"
    export.export_model(model, str(out), w)
    before = _tree(out)

    def broken(self, *a, **k):
        raise OSError(28, "No space left on device")
    # the disk fills up after the SavedModel was written, while model.keras is written
    monkeypatch.setattr(type(model), "save", broken)
    with pytest.raises(export.ExportRefused, match="No space left on device.*unchanged"):
        export.export_model(model, str(out), w)
    assert _tree(out) == before
    assert sorted(os.listdir(tmp_path)) == ["sm"]


# -- the newest weights, and saying which --------------------------------------------------
def test_eval_uses_newest_weights_and_says_which(finished_run, tmp_path):
    """A run extended past its export (killed after a later checkpoint) is evaluated on the
    later checkpoint, not on the stale export."""
    from conftest import invoke_cli  # in this process: no process boundary tested
    from conftest import perturb
    from infozoo.run import rundir as runs
    from infozoo.run import factory
    run = copy_run(finished_run, tmp_path)
    old = json.loads((run / "metrics.json").read_text())
    cfg, model, w = factory.load_model(str(run), verbose=False)
    perturb(model.trainable_variables, 0.05, seed=3)
    model.save_weights(str(run / "checkpoints" / "ckpt-000000099.weights.h5"))
    state = runs.checkpoint_state(str(run))
    runs.write_checkpoint_state(str(run), {**state, "epoch": 3, "step": 0, "global_step": 99,
                                           "weights": "ckpt-000000099.weights.h5"})
    p = invoke_cli("eval", run, "--json", check=0)
    ev = json.loads(p.stdout.strip().splitlines()[-1])
    assert ev["weights"]["source"] == "checkpoint" and ev["weights"]["epoch"] == 3
    assert "epoch 3, step 0" in p.stderr
    assert abs(ev["test_l1"] - old["test_l1"]) > 1e-4
    # a truncated model.keras and no readable checkpoint: an error naming the file
    keras_file = run / "export" / "model.keras"
    keras_file.write_bytes(keras_file.read_bytes()[:200])
    shutil.rmtree(run / "checkpoints")
    p = invoke_cli("eval", run, check=2)
    assert "model.keras" in p.stderr and "Traceback" not in p.stderr


# -- resume: same settings or a clear refusal ------------------------------------------------
def test_resume_refuses_other_settings_and_keeps_history(tmp_path):
    from conftest import invoke_cli  # in this process: no process boundary tested
    run = tmp_path / "r"
    # a failed start (bottleneck larger than the image) leaves nothing behind
    p = invoke_cli("train", "inn", *TINY_INN, "--bottleneck", "100000", "--run-dir", run, check=2)
    assert "bottleneck" in p.stderr and not run.exists()
    base = [*TINY_INN, "--run-dir", run]
    invoke_cli("train", "inn", *base, "--batch-size", "16", "--train-size", "64", "--epochs", "1",
               check=0)
    cfg_before = (run / "config.yaml").read_text()
    for extra, key, old, new in (
            (["--batch-size", "32", "--train-size", "64"], "train.batch_size", "16", "32"),
            (["--batch-size", "16", "--train-size", "64", "--seed", "5"], "train.seed", "0", "5"),
            (["--batch-size", "16", "--train-size", "96"], "data.train_size", "64", "96")):
        p = invoke_cli("train", "inn", *base, *extra, "--epochs", "2", check=2)
        assert f"{key}: the run used {old}, this command asks for {new}" in p.stderr, p.stderr
        assert "another --run-dir" in p.stderr
    assert (run / "config.yaml").read_text() == cfg_before
    # extending the run is allowed, said, and recorded
    p = invoke_cli("train", "inn", *base, "--batch-size", "16", "--train-size", "64", "--epochs",
                   "2", check=0)
    assert "train.epochs changed on resume: 1 -> 2" in p.stdout
    segs = [json.loads(ln) for ln in (run / "segments.jsonl").read_text().splitlines()]
    assert [s["from_epoch"] for s in segs] == [0, 1]
    assert segs[0]["config"]["train"]["epochs"] == 1 and segs[1]["changed"] == {
        "train.epochs": [1, 2]}
    assert "Epoch 2/2" in p.stdout and "Epoch 1/1" not in p.stdout


def test_nan_stop_then_resume_with_lower_lr(tmp_path):
    """The kept checkpoint is good and resuming with a lower lr works (fresh optimizer)."""
    from conftest import invoke_cli  # in this process: no process boundary tested
    run = tmp_path / "nan"
    args = ["train", "inn", *TINY_INN, "--batch-size", "16", "--train-size", "64", "--epochs",
            "3", "--checkpoint-every", "2", "--set", "clamp=0.0", "--set", "train.image_every=1",
            "--set", "train.lr_drops=[2]", "--run-dir", run]
    p = invoke_cli(*args, "--set", "train.lr_factor=1e30", check=1)
    assert "NaN or infinite at epoch 2" in p.stderr and "fresh optimizer state" in p.stderr
    state = json.loads((run / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 1 and state["diverged"]["epoch"] == 2
    rows = (run / "history.csv").read_text().strip().splitlines()
    assert len(rows) == 2 and "nan" not in rows[1].lower()
    png = (run / "images" / "reconstructions.png").read_bytes()
    p = invoke_cli(*args, "--set", "train.lr_factor=0.1", check=0)
    assert "optimizer state (Adam moments) starts afresh" in p.stdout
    m = json.loads((run / "metrics.json").read_text())
    assert np.isfinite(m["test_loss"]) and m["weights_epoch"] == 3
    assert (run / "images" / "reconstructions.png").read_bytes() != png


# -- concurrent runs, interrupts, bad run directories ----------------------------------------
def test_second_training_on_a_busy_run_dir_is_refused(tmp_path):
    run = tmp_path / "busy"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time; from infozoo.run.rundir import Lock\n"
                               f"Lock({str(run)!r}).acquire(); print('held', flush=True)\n"
                               "time.sleep(120)"], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "held"
        p = run_cli("train", "inn", *TINY_INN, "--run-dir", run, check=2)
        assert "in use by another infozoo process" in p.stderr and f"pid {holder.pid}" in p.stderr
    finally:
        holder.kill()
        holder.wait()
    assert not (run / "config.yaml").exists()


def test_run_dir_under_a_file_is_a_clear_error(tmp_path):
    from conftest import invoke_cli  # in this process: no process boundary tested
    (tmp_path / "f").write_text("x")
    p = invoke_cli("train", "inn", *TINY_INN, "--run-dir", tmp_path / "f" / "run", check=2)
    assert "cannot create --run-dir" in p.stderr and "Traceback" not in p.stderr
    p = invoke_cli("train", "inn", *TINY_INN, "--run-dir", tmp_path / "f", check=2)
    assert "is a file" in p.stderr


def test_sigint_says_how_to_resume(tmp_path):
    run = tmp_path / "int"
    rc, out, err = interrupt_at_first_checkpoint(
        ["train", "inn", *TINY_INN, "--batch-size", "16", "--train-size", "256", "--epochs",
         "50", "--checkpoint-every", "2", "--run-dir", run], run)
    assert rc == 130, err[-2000:]
    assert "Run the same command again" in err and "resume from its last checkpoint" in err
    assert "Traceback" not in err


# -- configs and data: errors, never silent acceptance ----------------------------------------
@pytest.mark.parametrize("args,needle", [
    (["--lr", "nan"], "train.lr: nan; expected a finite number"),
    (["--set", "eps=inf"], "model_args.eps: inf; expected a finite number"),
    (["--set", "train.epochs=null"], "train.epochs: it cannot be empty"),
    (["--set", "eps="], "model_args.eps: it cannot be empty"),
    (["--set", "train.lr_drops=[-1,x]"], "train.lr_drops[0]: -1; must be >= 1"),
    (["--set", "train.lr_drops=[3,x]"], "train.lr_drops[1]: 'x'; expected an integer"),
])
def test_bad_values_exit_2(args, needle):
    from conftest import invoke_cli  # in this process: no process boundary tested
    p = invoke_cli("train", "pie", *args, "--dry-run", check=2)
    assert needle in p.stderr, p.stderr


def test_config_files_broken_or_missing(tmp_path):
    p = run_cli("list", env={"INFOZOO_CONFIG_DIR": str(tmp_path / "nonexistent")}, check=2)
    assert "INFOZOO_CONFIG_DIR" in p.stderr and "not a directory" in p.stderr
    zoo = tmp_path / "zoo"
    shutil.copytree(os.path.join(REPO, "zoo_configs"), zoo)
    pie = (zoo / "pie.yaml").read_text()
    (zoo / "pie.yaml").write_text(pie + "\n  broken: [unclosed\n")
    p = run_cli("train", "pie", "--dry-run", env={"INFOZOO_CONFIG_DIR": str(zoo)}, check=2)
    assert "pie.yaml is not valid YAML" in p.stderr and "Traceback" not in p.stderr
    # an int where the schema says float does not turn --eps into an integer flag
    assert "\nmodel_args:" not in pie  # pie.yaml keeps eps at its declared default
    (zoo / "pie.yaml").write_text(pie + "model_args:\n  eps: 1\n")
    p = run_cli("train", "pie", "--eps", "0.2", "--dry-run", env={"INFOZOO_CONFIG_DIR": str(zoo)},
                check=0)
    assert "eps: 0.2" in p.stdout
    (zoo / "pie.yaml").write_text(pie + "model_args:\n  eps: 1e-1\n")
    p = run_cli("train", "pie", "--dry-run", env={"INFOZOO_CONFIG_DIR": str(zoo)}, check=2)
    assert "model_args.eps" in p.stderr
    p = run_cli("bench", "--models", "foo", check=2)
    assert "unknown model(s) foo" in p.stderr


def test_broken_run_config_is_named(finished_run, tmp_path):
    from conftest import invoke_cli  # in this process: no process boundary tested
    run = copy_run(finished_run, tmp_path)
    (run / "config.yaml").write_text("model: [unclosed\n")
    p = invoke_cli("eval", run, check=2)
    assert "config.yaml is not readable YAML" in p.stderr and "Traceback" not in p.stderr


def _npz(path, **arrays):
    path.mkdir()
    np.savez(path / "d.npz", **arrays)
    return path


def test_bad_data_files(tmp_path):
    from conftest import invoke_cli  # in this process: no process boundary tested
    from infozoo.data import loaders as data
    rng = np.random.RandomState(0)
    x = rng.randint(0, 256, (20, 8, 8)).astype(np.uint8)
    y = rng.randint(0, 10, 20)
    d = _npz(tmp_path / "labels", x_train=x, y_train=y[:15], x_test=x, y_test=y)
    with pytest.raises(data.DatasetUnavailable, match="20 images but 15 labels"):
        data.load_arrays("mnist", str(d))
    d = _npz(tmp_path / "empty", x_train=x, y_train=y, x_test=x[:0], y_test=y[:0])
    with pytest.raises(data.DatasetUnavailable, match="test set is empty"):
        data.load_arrays("mnist", str(d))
    d = _npz(tmp_path / "range", x_train=x * 4.0 - 100, y_train=y, x_test=x * 1.0, y_test=y)
    with pytest.raises(data.DatasetUnavailable, match="expected pixels in"):
        data.load_arrays("mnist", str(d))
    d = _npz(tmp_path / "trunc", x_train=x, y_train=y, x_test=x, y_test=y)
    blob = (d / "d.npz").read_bytes()
    (d / "d.npz").write_bytes(blob[:len(blob) // 2])
    with pytest.raises(data.DatasetUnavailable, match="not a Keras-style dataset .npz"):
        data.load_arrays("mnist", str(d))
    d = _npz(tmp_path / "ok", x_train=x, y_train=y, x_test=x, y_test=y)
    p = invoke_cli("train", "inn", "--data-dir", d, "--dry-run", check=0)  # dry-run reads no data
    p = invoke_cli("train", "inn", *TINY_INN[2:], "--data-dir", d, "--run-dir", tmp_path / "r",
                   check=2)
    assert "needs --dataset NAME" in p.stderr


def test_normal_output_has_no_tensorflow_banners(finished_run, tmp_path):
    p = run_cli("eval", copy_run(finished_run, tmp_path), env={"TF_CPP_MIN_LOG_LEVEL": "2"},
                check=0)
    for banner in ("oneDNN custom operations", "Could not find cuda", "cuInit", "absl::"):
        assert banner not in p.stderr, p.stderr


def test_help_shows_the_values_a_digits_run_uses():
    from conftest import invoke_cli  # in this process: no process boundary tested
    out = " ".join(invoke_cli("train", "pie", "--help", check=0).stdout.split())
    assert "[config: 20; digits: 8; cifar10: 30]" in out
    assert "digits: 32" in out  # conv_hidden


def test_train_size_scales_the_eval_budget():
    from conftest import invoke_cli  # in this process: no process boundary tested
    cfg = yaml.safe_load(invoke_cli("train", "pie", "--train-size", "512", "--dry-run",
                                    check=0).stdout)
    assert cfg["data"]["test_size"] == 1000
    cfg = yaml.safe_load(invoke_cli("train", "pie", "--train-size", "512", "--test-size", "64",
                                    "--dry-run", check=0).stdout)
    assert cfg["data"]["test_size"] == 64


@pytest.mark.slow  # evaluates two tiny runs in process
def test_eval_recompute_bn(finished_run, tmp_path):
    """eval --recompute-bn: a batch-norm model is evaluated with its final weights' own
    statistics (said in the JSON, the weights on disk untouched); a model without batch norm
    exits 2 naming the flag."""
    from conftest import invoke_cli  # in this process: no process boundary tested
    old = tmp_path / "vimae"
    shutil.copytree(os.path.join(REPO, "tests", "data", "run-799aeb7-vimae"), old)
    weights = {p: p.read_bytes() for p in (old / "checkpoints").rglob("*") if p.is_file()}
    plain = json.loads(invoke_cli("eval", old, "--json", check=0).stdout)
    again = json.loads(invoke_cli("eval", old, "--json", "--recompute-bn", check=0).stdout)
    assert "bn_recomputed" not in plain
    assert again["bn_recomputed"] == {"layers": 3, "images": 64, "batch_size": 32}
    assert np.isfinite(again["test_loss"]) and again["test_loss"] != plain["test_loss"]
    assert weights == {p: p.read_bytes() for p in (old / "checkpoints").rglob("*")
                       if p.is_file()}
    p = invoke_cli("eval", copy_run(finished_run, tmp_path), "--recompute-bn", check=2)
    assert "has no batch-norm layer" in p.stderr and "Traceback" not in p.stderr
