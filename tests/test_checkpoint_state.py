"""``CheckpointState``: ``checkpoints/state.json`` read as a typed record, written back byte for
byte, and read as the dict earlier releases gave (``{**state}``, ``state["older"]``)."""
import json
import os

import pytest

from infozoo.run import rundir as runs

#: state.json as main@799aeb7 wrote it: RunCheckpoint.save/_confirm, a NaN stop, a preset, and
#: a file of a release before "confirmed" and the losses
FILES = {
    "confirmed": {"epoch": 1, "step": 2, "global_step": 6, "weights": "ckpt-000000006.weights.h5",
                  "confirmed": True, "best_loss": 0.25, "first_loss": 0.5,
                  "older": [{"epoch": 1, "step": 0, "global_step": 4,
                             "weights": "ckpt-000000004.weights.h5", "confirmed": True}]},
    "diverged": {"epoch": 1, "step": 0, "global_step": 4, "weights": "ckpt-000000004.weights.h5",
                 "confirmed": True, "older": [], "best_loss": 0.25, "first_loss": 0.5,
                 "diverged": {"epoch": 2, "batch": 3, "lr": 0.001}},
    "preset": {"epoch": 30, "step": 0, "global_step": -1, "weights": "ckpt-preset.weights.h5",
               "older": [], "preset": "ipae-toy25"},
    "old": {"epoch": 2, "step": 0, "global_step": 8, "weights": "ckpt-000000008.weights.h5",
            "older": [{"epoch": 1, "step": 0, "global_step": 4,
                       "weights": "ckpt-000000004.weights.h5"}]},
}


def _write(tmp_path, data):
    d = tmp_path / runs.CKPT_DIR
    d.mkdir(exist_ok=True)
    (d / "state.json").write_text(json.dumps(data))
    return str(tmp_path), str(d)


def _old_reader(run_dir):
    """main@799aeb7's checkpoint_state and checkpoint_records, for comparison."""
    with open(os.path.join(run_dir, runs.CKPT_DIR, "state.json")) as f:
        state = json.load(f)
    state["weights_path"] = os.path.join(run_dir, runs.CKPT_DIR, state["weights"])
    for o in state.get("older", []):
        o["weights_path"] = os.path.join(run_dir, runs.CKPT_DIR, o["weights"])
    keys = ("epoch", "step", "global_step", "weights", "weights_path", "confirmed")
    return state, [{k: r.get(k, True if k == "confirmed" else None) for k in keys}
                   for r in [state, *state.get("older", [])]]


@pytest.mark.parametrize("kind", sorted(FILES))
def test_state_reads_typed_and_as_before_and_writes_back_unchanged(tmp_path, kind):
    run_dir, d = _write(tmp_path, FILES[kind])
    raw = (tmp_path / runs.CKPT_DIR / "state.json").read_bytes()
    state = runs.checkpoint_state(run_dir)
    data = FILES[kind]
    assert (state.epoch, state.step, state.global_step, state.weights) == (
        data["epoch"], data["step"], data["global_step"], data["weights"])
    assert state.weights_path == os.path.join(d, data["weights"])
    assert state.confirmed is data.get("confirmed", True)
    assert (state.best_loss, state.diverged, state.preset) == (
        data.get("best_loss"), data.get("diverged"), data.get("preset"))
    assert [r.weights for r in state.older] == [o["weights"] for o in data["older"]]
    assert all(r.confirmed for r in state.older)
    old_state, old_records = _old_reader(run_dir)
    assert dict(state) == old_state and list(state) == list(old_state)
    assert [dict(r) for r in runs.checkpoint_records(state)] == old_records
    runs.write_checkpoint_state(run_dir, state)
    assert (tmp_path / runs.CKPT_DIR / "state.json").read_bytes() == raw
    runs.write_checkpoint_state(run_dir, {**state})          # a dict of the view, as before
    assert (tmp_path / runs.CKPT_DIR / "state.json").read_bytes() == raw


def test_updated_changes_keys_in_place_and_appends_new_ones(tmp_path):
    run_dir, _ = _write(tmp_path, FILES["old"])
    state = runs.checkpoint_state(run_dir)
    new = state.updated(confirmed=True, best_loss=0.1, first_loss=0.2)
    runs.write_checkpoint_state(run_dir, new)
    want = {**FILES["old"], "confirmed": True, "best_loss": 0.1, "first_loss": 0.2}
    assert (tmp_path / runs.CKPT_DIR / "state.json").read_text() == json.dumps(want)
    assert state.confirmed and "best_loss" not in state.data    # the record is frozen


@pytest.mark.parametrize("text", ['[1, 2]', '{"epoch": 1}', '{"weights": "a", "older": 3}',
                                  '{"weights": "a", "older": ["b"]}', "not json"])
def test_a_corrupt_state_is_named(tmp_path, text):
    d = tmp_path / runs.CKPT_DIR
    d.mkdir()
    (d / "state.json").write_text(text)
    with pytest.raises(RuntimeError, match="state.json is corrupt"):
        runs.checkpoint_state(str(tmp_path))


def test_no_state_is_none(tmp_path):
    assert runs.checkpoint_state(str(tmp_path)) is None
    assert runs.checkpoint_records(None) == []


def test_fallback_to_an_older_checkpoint_reads_records_by_attribute(tmp_path, monkeypatch):
    """``restore_checkpoint`` past a missing newest file names the older one in state.json
    (the older ones after it kept), using the records' fields, not their dict view."""
    import keras
    import numpy as np
    from infozoo.run import factory

    def refuse(self, *a):
        raise AssertionError("infozoo read a checkpoint record as a dict")
    for cls in (runs.CheckpointRecord, runs.CheckpointState):
        for name in ("__getitem__", "__iter__", "__len__", "__contains__", "get", "keys",
                     "items", "values"):
            monkeypatch.setattr(cls, name, refuse)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    run_dir, d = _write(tmp_path, FILES["confirmed"])
    saved = [np.full(v.shape, 0.5, "float32") for v in model.weights]
    model.set_weights(saved)
    model.save_weights(os.path.join(d, "ckpt-000000004.weights.h5"))  # the older; newest missing
    model.set_weights([np.zeros_like(w) for w in saved])
    r = factory.restore_checkpoint(model, run_dir, verbose=False)
    assert (r.epoch, r.step, r.weights) == (1, 0, "ckpt-000000004.weights.h5")
    np.testing.assert_array_equal(model.get_weights()[0], saved[0])
    want = {**FILES["confirmed"]["older"][0], "older": []}
    assert json.loads((tmp_path / runs.CKPT_DIR / "state.json").read_text()) == want
