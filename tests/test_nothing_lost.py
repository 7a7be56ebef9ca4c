"""Nothing lost, round two (issue 18): each test is a case of the fault battery that lost a
user's files or mixed a run, and fails without its fix."""
import fcntl
import json
import os
import shutil

import numpy as np
import pytest

from conftest import copy_run, run_cli

TINY_INN = ["--dataset", "digits", "--conv-blocks", "1", "--conv-hidden", "8",
            "--fc-hidden", "16", "--bottleneck", "8", "--quiet", "--set", "train.image_every=0"]
#: a finished run: 4 steps an epoch, a checkpoint every 2 steps
RUN_ARGS = [*TINY_INN, "--batch-size", "32", "--train-size", "128", "--checkpoint-every", "2"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished 2-epoch tiny INN run with its export; tests copy it before changing it."""
    run = tmp_path_factory.mktemp("runs") / "inn"
    run_cli("train", "inn", *RUN_ARGS, "--epochs", "2", "--run-dir", run, check=0)
    return run


def _user_files(d):
    """The user's own files in ``d`` (named like infozoo's), with their contents."""
    files = {"metrics.json": '{"mine": 1}', "history.csv": "my,header\n1,2\n",
             os.path.join("images", "reconstructions.png"): "my picture",
             "notes.txt": "weeks of work"}
    for name, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(d, name)) or d, exist_ok=True)
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    return files


def _unchanged(d, files):
    for name, text in files.items():
        with open(os.path.join(d, name)) as f:
            assert f.read() == text, name


# -- run directories (#91) -----------------------------------------------------------------
def test_run_dir_is_ours_empty_or_new():
    from infozoo.run import rundir as runs
    from infozoo.settings.config import ConfigError
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        runs.check_target(os.path.join(d, "new"))           # new
        runs.check_target(d)                                 # empty
        open(os.path.join(d, runs.LOCK), "w").close()        # a failed start's lock only
        runs.check_target(d)
        files = _user_files(d)
        with pytest.raises(ConfigError, match="history.csv, images, metrics.json, notes.txt"):
            runs.check_target(d)
        runs.mark(d)                                         # ours from now on
        runs.check_target(d)
        _unchanged(d, files)


@pytest.mark.slow
def test_train_refuses_a_users_directory(tmp_path):
    from conftest import invoke_cli  # in this process: no process boundary tested
    d = tmp_path / "mine"
    files = _user_files(str(d))
    p = invoke_cli("train", "inn", *RUN_ARGS, "--epochs", "1", "--run-dir", d, check=2)
    assert "not made by infozoo" in p.stderr and "metrics.json" in p.stderr, p.stderr
    _unchanged(str(d), files)
    assert sorted(os.listdir(d)) == ["history.csv", "images", "metrics.json", "notes.txt"]


# -- exports (#103, #106, #107, permissions) ---------------------------------------------
@pytest.mark.slow
def test_export_keeps_what_the_user_added_and_another_runs_export(finished_run, tmp_path):
    from conftest import invoke_cli  # in this process: no process boundary tested
    run = copy_run(finished_run, tmp_path)
    out = tmp_path / "exp1"
    invoke_cli("export", run, "--out", out, check=0)
    (out / "mynotes.txt").write_text("mine")
    (out / "assets").mkdir(exist_ok=True)
    (out / "assets" / "extra.txt").write_text("mine too")
    p = invoke_cli("export", run, "--out", out, check=2)
    assert "mynotes.txt" in p.stderr and os.path.join("assets", "extra.txt") in p.stderr
    assert (out / "mynotes.txt").read_text() == "mine"
    assert (out / "assets" / "extra.txt").read_text() == "mine too"
    # another run's own export is not a target
    other = copy_run(finished_run, tmp_path, "other")
    before = (other / "export" / "infozoo-export.json").read_text()
    p = invoke_cli("export", run, "--out", other / "export", check=2)
    assert "export of another run" in p.stderr
    assert (other / "export" / "infozoo-export.json").read_text() == before
    # the run's own export may be replaced, and is readable under the user's umask
    invoke_cli("export", run, "--out", run / "export", check=0)
    mode = os.stat(run / "export").st_mode & 0o777
    assert mode == 0o777 & ~0o022, oct(mode)  # conftest runs with the default umask 022


@pytest.mark.slow
def test_export_respects_the_umask(finished_run, tmp_path):
    from infozoo.run import export
    from infozoo.run import factory
    cfg, model, w = factory.load_model(str(finished_run), verbose=False)
    out = tmp_path / "sm"
    old_mask = os.umask(0o027)
    try:
        export.export_model(model, str(out), w)
    finally:
        os.umask(old_mask)
    assert os.stat(out).st_mode & 0o777 == 0o750  # a temporary directory would be 0700


# -- sweeps (#121, #110) ------------------------------------------------------------------
@pytest.mark.slow
def test_sweep_refuses_a_users_directory_and_duplicate_values(finished_run, tmp_path):
    from conftest import invoke_cli  # in this process: no process boundary tested
    d = tmp_path / "mine"
    d.mkdir()
    (d / "summary.csv").write_text("mine")
    (d / "commands.txt").write_text("mine")
    grid = ["sweep", "inn", "--grid", "bottleneck=8", *TINY_INN[:8], "--epochs", "1"]
    for extra in ([], ["--dry-run"]):
        p = invoke_cli(*grid, "--out", d, *extra, check=2)
        assert "not a sweep" in p.stderr and "summary.csv" in p.stderr, p.stderr
    assert (d / "summary.csv").read_text() == "mine" and sorted(os.listdir(d)) == [
        "commands.txt", "summary.csv"]
    p = invoke_cli(*grid, "--out", finished_run, "--dry-run", check=2)
    assert "is a run directory" in p.stderr
    p = invoke_cli("sweep", "inn", "--grid", "bottleneck=8,8", "--dry-run", check=2)
    assert "8 given more than once" in p.stderr


# -- checkpoints: older ones are used, live runs are busy, not broken (#70, #88, #89) --------
def _state(run):
    return json.loads((run / "checkpoints" / "state.json").read_text())


@pytest.mark.slow
def test_a_truncated_newest_checkpoint_falls_back_to_an_older_one(finished_run, tmp_path):
    from conftest import invoke_cli  # in this process: no process boundary tested
    run = copy_run(finished_run, tmp_path)
    state = _state(run)
    assert len(state["older"]) == 2  # 3 checkpoints kept: steps 8, 6, 4
    newest = run / "checkpoints" / state["weights"]
    newest.write_bytes(newest.read_bytes()[:500])
    p = invoke_cli("train", "inn", *RUN_ARGS, "--epochs", "3", "--run-dir", run, check=0)
    assert state["weights"] in p.stderr and "Using the older checkpoint" in p.stderr
    assert "delete" not in p.stderr and "Resuming" in p.stdout
    older = state["older"][0]
    assert f"epoch {older['epoch'] + 1}, step {older['step']}" in p.stdout
    assert json.loads((run / "metrics.json").read_text())["weights_epoch"] == 3


@pytest.mark.slow
def test_eval_of_a_live_run_retries_and_never_advises_deleting(finished_run, tmp_path):
    from infozoo.run import rundir as runs
    from infozoo.run import factory
    run = copy_run(finished_run, tmp_path)
    shutil.rmtree(run / "export")
    state = _state(run)
    # the trainer rotated the newest file away after state.json was read: the older is used
    os.remove(run / "checkpoints" / state["weights"])
    cfg, model, w = factory.load_model(str(run), verbose=False)
    assert w["path"].endswith(state["older"][0]["weights"])
    # nothing readable while another process holds the run's lock: busy, not broken
    for o in state["older"]:
        os.remove(run / "checkpoints" / o["weights"])
    fd = os.open(run / runs.LOCK, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(RuntimeError, match="is training and replaced its checkpoints") as e:
            factory.load_model(str(run), verbose=False, attempts=2)
        assert "delete" not in str(e.value)
    finally:
        os.close(fd)


# -- NaN after a ruined step (#97) ----------------------------------------------------------
@pytest.mark.slow
def test_nan_after_an_exploding_step_does_not_keep_the_ruined_checkpoint(tmp_path):
    from conftest import invoke_cli  # in this process: no process boundary tested
    run = tmp_path / "nan"
    args = ["train", "inn", *TINY_INN, "--epochs", "2", "--train-size", "256",
            "--batch-size", "32", "--checkpoint-every", "1", "--run-dir", run]
    p = invoke_cli(*args, "--lr", "1e3", check=1)
    assert "NaN or infinite" in p.stderr, p.stderr
    state_file = run / "checkpoints" / "state.json"
    if state_file.exists():  # a checkpoint confirmed good by a sane next batch is kept
        state = _state(run)
        assert state["confirmed"], state
    p = invoke_cli(*args, "--lr", "1e-3", check=0)
    m = json.loads((run / "metrics.json").read_text())
    assert np.isfinite(m["test_loss"]) and m["weights_epoch"] == 2


def test_exploding_rule():
    from infozoo.run.callbacks import exploding
    assert not exploding(0.31, 0.30, 0.35)
    assert exploding(1e4, 0.30, 0.35) and exploding(float("nan"), 0.3, 0.35)
    assert not exploding(-2.0, -3.0, 5.0)      # negative losses (NLL): scale from |first|
    assert exploding(60.0, -3.0, 5.0)
    assert not exploding(123.0, None, None)    # nothing seen yet


# -- resumes that would mix a run (#66, #68) ----------------------------------------------
@pytest.mark.slow
def test_resume_checks_against_segments_when_config_is_gone_and_refuses_fewer_epochs(
        finished_run, tmp_path):
    from conftest import invoke_cli  # in this process: no process boundary tested
    run = copy_run(finished_run, tmp_path)
    os.remove(run / "config.yaml")
    p = invoke_cli("train", "inn", *RUN_ARGS[:-4], "--batch-size", "64", "--train-size", "128",
                   "--checkpoint-every", "2", "--epochs", "3", "--run-dir", run, check=2)
    assert "train.batch_size: the run used 32, this command asks for 64" in p.stderr
    assert "segments.jsonl" in p.stderr
    metrics = (run / "metrics.json").read_text()
    p = invoke_cli("train", "inn", *RUN_ARGS, "--epochs", "1", "--run-dir", run, check=2)
    assert "has trained 2 epoch(s) already" in p.stderr and "--epochs 2 or more" in p.stderr
    assert (run / "metrics.json").read_text() == metrics


# -- TensorBoard: one HParams trial per run (sweeps were merged) -----------------------------
def test_hparams_dashboard_has_one_row_per_run(tmp_path):
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups

    from infozoo.settings import config as config_lib
    from infozoo.run import tensorboard as tb
    cfg0 = config_lib.resolve("inn", {"data.dataset": "digits"})
    for b in (4, 8):
        for seed in (0, 1):
            cfg = cfg0.replace(model_args={**cfg0.model_args, "bottleneck": b}).with_train(
                seed=seed)
            run_dir = tmp_path / f"bottleneck={b}" / f"seed={seed}"
            tb.log_run(str(run_dir), cfg)
            tb.log_run(str(run_dir), cfg, {"test_l1": b + seed / 10, "weights_step": 3,
                                           "epochs": 2}, step=2)
    mux = plugin_event_multiplexer.EventMultiplexer()
    mux.AddRunsFromDirectory(str(tmp_path))
    mux.Reload()
    ctx = backend_context.Context(base_plugin.TBContext(
        logdir=str(tmp_path), multiplexer=mux,
        data_provider=data_provider.MultiplexerDataProvider(mux, str(tmp_path))))
    request = api_pb2.ListSessionGroupsRequest(
        start_index=0, slice_size=100, allowed_statuses=[api_pb2.STATUS_SUCCESS,
                                                         api_pb2.STATUS_UNKNOWN])
    groups = list_session_groups.Handler(context.RequestContext(), ctx, "", request).run()
    rows = {(g.hparams["model_args.bottleneck"].number_value,
             g.hparams["train.seed"].number_value): len(g.sessions)
            for g in groups.session_groups}
    assert rows == {(4, 0): 1, (4, 1): 1, (8, 0): 1, (8, 1): 1}, rows
    names = set(groups.session_groups[0].hparams)
    assert "train.checkpoint_every" not in names and "model_args.bottleneck" in names
    assert "train.lr" in names


# -- what cannot be read or written is named (#77, #84) ------------------------------------
@pytest.mark.slow
def test_unreadable_state_is_named_and_unwritable_probe_json_still_prints(finished_run,
                                                                            tmp_path):
    from conftest import invoke_cli  # in this process: no process boundary tested
    run = copy_run(finished_run, tmp_path)
    (run / "checkpoints" / "state.json").write_text("not json at all")
    p = invoke_cli("eval", run, "--json", check=0)
    assert "state.json is corrupt" in p.stderr and "Weights: export" in p.stderr
    (run / "probe.json").mkdir()  # cannot be written as a file (root ignores chmod)
    p = invoke_cli("probe", run, "--samples", "64", "--estimator", "gaussian", check=0)
    assert "could not write" in p.stderr and "probe.json" in p.stderr
    assert "gaussian" in p.stdout and "Traceback" not in p.stderr
