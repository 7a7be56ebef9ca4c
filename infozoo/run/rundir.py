"""Run directories: layout, lock, config and its history, checkpoint state, markers.

A run directory holds (written by infozoo only)::

    .infozoo-run       the marker: infozoo made this directory (only such a directory, an
                       empty one or a new one is trained in; anything else is refused)
    config.yaml        the resolved config of the current segment
    segments.jsonl     one line per start/resume: when, from where, the full config, what changed
    .infozoo.lock      held (flock) by the process training in the directory
    checkpoints/       state.json + the last few ckpt-<global step>.weights.h5 (weights and
                       optimizer state); state.json is replaced atomically
    export/            SavedModel + model.keras + infozoo-export.json (the marker)
    metrics.json history.csv images/ logs/

Train, evaluate, export and the probe all depend on this module; it imports none of them.
Building a run's model and loading its weights: :mod:`infozoo.run.factory`.
"""
import dataclasses
import datetime
import json
import os
import socket
import sys
from collections.abc import Mapping
from typing import Optional

from infozoo.settings import config as config_lib
from infozoo.settings.run_config import RunConfig
from infozoo.util.io import atomic_write

CONFIG = "config.yaml"
SEGMENTS = "segments.jsonl"
LOCK = ".infozoo.lock"
RUN_MARKER = ".infozoo-run"
CKPT_DIR = "checkpoints"
EXPORT_DIR = "export"
EXPORT_MARKER = "infozoo-export.json"

#: settings a resume may change; every other difference is refused (``check_resume``)
RESUMABLE = ("train.epochs", "train.lr", "train.lr_drops", "train.lr_factor",
             "train.checkpoint_every", "train.image_every",
             "train.probe_every", "train.eval_batch_size", "train.jit_compile",
             "train.precision",
             "train.strategy", "train.cpu_replicas", "data.data_dir", "data.test_size")


class RunLocked(config_lib.ConfigError):
    """Another process trains in the run directory."""


def is_run_dir(path):
    return os.path.isfile(os.path.join(path, CONFIG)) or os.path.isdir(
        os.path.join(path, CKPT_DIR))


def _now():
    return datetime.datetime.now().isoformat(timespec="seconds")


# -- creating and locking ----------------------------------------------------------------
def is_ours(run_dir):
    """True if infozoo made ``run_dir``: the marker, or a run of an earlier release (a
    ``segments.jsonl`` or ``checkpoints/state.json``, which only infozoo writes)."""
    return (os.path.isfile(os.path.join(run_dir, RUN_MARKER))
            or os.path.isfile(os.path.join(run_dir, SEGMENTS))
            or os.path.isfile(os.path.join(run_dir, CKPT_DIR, "state.json")))


def foreign_entries(run_dir):
    """What stands in ``run_dir`` that infozoo did not write ([] for ours, empty or new)."""
    if not os.path.isdir(run_dir) or is_ours(run_dir):
        return []
    return sorted(e for e in os.listdir(run_dir) if e != LOCK)


def check_target(run_dir, flag="--run-dir"):
    """ConfigError unless ``run_dir`` is new, empty, or a directory infozoo made."""
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise config_lib.ConfigError(f"{flag} {run_dir} is a file, not a directory: "
                                     f"choose another {flag}")
    foreign = foreign_entries(run_dir)
    if foreign:
        shown = ", ".join(foreign[:8]) + (f" and {len(foreign) - 8} more" if len(foreign) > 8
                                          else "")
        raise config_lib.ConfigError(
            f"{flag} {run_dir} is not empty and was not made by infozoo (no {RUN_MARKER}); "
            f"in the way: {shown}. infozoo never writes over what it did not write: give a "
            f"new or empty directory")


def mark(run_dir):
    """Writes the marker that says infozoo made ``run_dir`` (once; kept thereafter)."""
    path = os.path.join(run_dir, RUN_MARKER)
    if not os.path.isfile(path):
        atomic_write(path, json.dumps({"format": "infozoo-run", "created": _now()}) + "\n")


def prepare_dir(run_dir):
    """Creates ``run_dir`` (and parents) after :func:`check_target`; a clear ConfigError if
    that is impossible.

    Returns True if this call created it (so a failed start can remove it again)."""
    check_target(run_dir)
    created = not os.path.exists(run_dir)
    try:
        os.makedirs(run_dir, exist_ok=True)
    except OSError as e:
        raise config_lib.ConfigError(f"cannot create --run-dir {run_dir}: {e.strerror or e}; "
                                     f"choose a directory you can write to") from None
    if not os.access(run_dir, os.W_OK | os.X_OK):
        raise config_lib.ConfigError(f"--run-dir {run_dir} is not writable: choose a "
                                     f"directory you can write to")
    return created


def remove_if_empty(run_dir):
    """Removes ``run_dir`` only if nothing is in it (a failed start leaves no trace)."""
    try:
        os.rmdir(run_dir)
    except OSError:
        pass


class Lock:
    """An exclusive ``flock`` on ``RUN_DIR/.infozoo.lock``; released when the process ends,
    however it ends (kill -9 included). The file says who holds it."""

    def __init__(self, run_dir):
        self.path = os.path.join(run_dir, LOCK)
        self.fd = None

    def acquire(self):
        import fcntl
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise config_lib.ConfigError(f"cannot create the lock file {self.path}: "
                                         f"{e.strerror or e}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                holder = os.read(fd, 4096).decode(errors="replace").strip() or "unknown"
            finally:
                os.close(fd)
            raise RunLocked(f"{os.path.dirname(self.path) or '.'} is in use by another "
                            f"infozoo process ({holder}). Wait for it to finish (or stop it), "
                            f"or use another --run-dir.") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {_now()}".encode())
        self.fd = fd
        return self

    def release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


# -- config and its history ---------------------------------------------------------------
def read_config(run_dir):
    """The :class:`~infozoo.settings.run_config.RunConfig` of the run's ``config.yaml``
    (the settings an older release's file lacks at their declared defaults, named in its
    ``filled``); ConfigError naming the file when it is broken."""
    path = os.path.join(run_dir, CONFIG)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{run_dir} is not a run directory (no {CONFIG})")
    try:
        return config_lib.load(path)
    except config_lib.ConfigError:
        raise
    except Exception as e:  # noqa: BLE001  (yaml and OS errors)
        raise config_lib.ConfigError(f"{path} is not readable YAML ({e}); restore it from "
                                     f"the last line of {SEGMENTS} in the same directory, "
                                     f"or start a new run") from None


def _flat(cfg):
    d = cfg.to_dict()
    return {"model": d["model"], **{f"{section}.{k}": v for section in config_lib.SECTIONS
                                    for k, v in d[section].items()}}


def check_resume(old, new, run_dir):
    """``{key: (old, new)}`` of the allowed changes; ConfigError naming every other one.

    ``old`` is the run's config (:func:`previous_config`): a setting its file did not hold
    reads as its declared default (``old.filled``), since a run written before the
    setting was declared, or before resolved configs listed every declared
    hyperparameter, used the default."""
    a, b = _flat(old), _flat(new)
    changed = {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
    bad = {k: v for k, v in changed.items() if k not in RESUMABLE}
    if bad:
        lines = "\n".join(f"  {k}: the run used {o!r}, this command asks for {n!r}"
                          for k, (o, n) in bad.items())
        raise config_lib.ConfigError(
            f"--run-dir {run_dir} holds a run with other settings:\n{lines}\n"
            f"To resume it, give the run's values (see {os.path.join(run_dir, CONFIG)}); "
            f"to train with the new ones, use another --run-dir. A resume may change only: "
            f"{', '.join(RESUMABLE)}.")
    return changed


def record_segment(run_dir, cfg, epoch, step, changed, filled=()):
    """Writes the marker and ``config.yaml``, and appends the segment to ``segments.jsonl``
    (``code``: the infozoo version and commit that ran it; ``filled``: the keys the previous config lacked, now written at their declared
    defaults)."""
    from infozoo.util.provenance import code_version
    mark(run_dir)
    seg = {"started": _now(), "argv": sys.argv[1:], "from_epoch": int(epoch),
           "from_step": int(step), "changed": {k: list(v) for k, v in changed.items()},
           "code": code_version(), "config": cfg.to_dict()}
    if filled:
        seg["filled"] = list(filled)
    with open(os.path.join(run_dir, SEGMENTS), "a") as f:
        f.write(json.dumps(seg) + "\n")
    config_lib.save(cfg, os.path.join(run_dir, CONFIG))


def previous_config(run_dir):
    """The config a resume is checked against: ``config.yaml``, or when it was deleted the
    last segment's config in ``segments.jsonl`` (said on stderr); None for a new run.

    A run with checkpoints but neither file cannot be checked: ConfigError."""
    if os.path.isfile(os.path.join(run_dir, CONFIG)):
        return read_config(run_dir)
    try:
        segs = segments(run_dir)
    except (OSError, ValueError) as e:
        raise config_lib.ConfigError(f"{os.path.join(run_dir, SEGMENTS)} is not readable ({e}) "
                                     f"and {CONFIG} is missing: the run's settings are unknown; "
                                     f"use another --run-dir") from None
    if segs and isinstance(segs[-1].get("config"), dict):
        print(f"Note: {os.path.join(run_dir, CONFIG)} is missing; checking this command "
              f"against the run's last segment in {SEGMENTS}", file=sys.stderr, flush=True)
        try:
            return RunConfig.from_dict(segs[-1]["config"])
        except config_lib.ConfigError as e:
            raise config_lib.ConfigError(f"{os.path.join(run_dir, SEGMENTS)}, last segment's "
                                         f"config: {e}") from None
    if os.path.isfile(os.path.join(run_dir, CKPT_DIR, "state.json")):
        raise config_lib.ConfigError(f"{run_dir} holds checkpoints but neither {CONFIG} nor "
                                     f"{SEGMENTS}: the run's settings are unknown, so it cannot "
                                     f"be resumed safely; use another --run-dir")
    return None


def segments(run_dir):
    path = os.path.join(run_dir, SEGMENTS)
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


# -- checkpoints --------------------------------------------------------------------------
#: the fields of one checkpoint's record, in the order ``checkpoint_records`` gives them
RECORD_KEYS = ("epoch", "step", "global_step", "weights", "weights_path", "confirmed")


@dataclasses.dataclass(frozen=True)
class CheckpointRecord(Mapping):
    """One checkpoint a run keeps: ``epoch`` and ``step`` (where training resumes),
    ``global_step``, ``weights`` (the file name in ``checkpoints/``), ``weights_path``
    (its path) and ``confirmed`` (a batch after it had a finite, non-exploding loss;
    records of runs that predate the flag count as confirmed). It reads as the dict of
    earlier releases too (``r["weights_path"]``, ``dict(r)``: the six keys of
    :data:`RECORD_KEYS`)."""

    epoch: Optional[int]
    step: Optional[int]
    global_step: Optional[int]
    weights: Optional[str]
    weights_path: Optional[str]
    confirmed: bool = True

    @classmethod
    def of(cls, entry, ckpt_dir):
        """The record of one entry of ``state.json`` (the newest or an ``older`` one)."""
        return cls(*(entry.get(k) for k in RECORD_KEYS[:4]),
                   os.path.join(ckpt_dir, entry["weights"]), entry.get("confirmed", True))

    def entry(self):
        """The record as an entry of ``state.json``: its fields but ``weights_path``."""
        return {k: getattr(self, k) for k in RECORD_KEYS if k != "weights_path"}

    def __getitem__(self, key):
        if key in RECORD_KEYS:
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self):
        return iter(RECORD_KEYS)

    def __len__(self):
        return len(RECORD_KEYS)


@dataclasses.dataclass(frozen=True, eq=False)
class CheckpointState(Mapping):
    """``checkpoints/state.json`` of a run, as read.

    ``data`` is the file's object unchanged (it is written back as it is, so a key this
    release does not know survives); the fields are read from it: the newest checkpoint
    (``epoch``, ``step``, ``global_step``, ``weights``, ``weights_path``, ``confirmed``),
    ``older`` (the :class:`CheckpointRecord` of every older checkpoint kept, newest first),
    ``best_loss``/``first_loss`` (the run's lowest and first batch losses), ``diverged``
    (``{"epoch", "batch", "lr"}`` after a NaN stop) and ``preset`` (a preset's name).
    :meth:`updated` gives a state with some keys changed, for
    :func:`write_checkpoint_state`. It reads as the dict of earlier releases too
    (``state["step"]``, ``{**state}``: the file's keys and ``weights_path``, each ``older``
    entry with its ``weights_path``)."""

    data: Mapping
    ckpt_dir: str

    def __post_init__(self):
        if not isinstance(self.data, Mapping):
            raise TypeError(f"the state is a {type(self.data).__name__}, not an object")
        self.records()        # every checkpoint names its weights file (KeyError if not)

    def records(self):
        """The newest checkpoint and the older ones, newest first."""
        return [CheckpointRecord.of(r, self.ckpt_dir)
                for r in [self.data, *self.data.get("older", [])]]

    @property
    def newest(self):
        return CheckpointRecord.of(self.data, self.ckpt_dir)

    epoch = property(lambda self: self.data.get("epoch"))
    step = property(lambda self: self.data.get("step"))
    global_step = property(lambda self: self.data.get("global_step"))
    weights = property(lambda self: self.data["weights"])
    weights_path = property(lambda self: os.path.join(self.ckpt_dir, self.data["weights"]))
    confirmed = property(lambda self: self.data.get("confirmed", True))
    best_loss = property(lambda self: self.data.get("best_loss"))
    first_loss = property(lambda self: self.data.get("first_loss"))
    diverged = property(lambda self: self.data.get("diverged"))
    preset = property(lambda self: self.data.get("preset"))
    older = property(lambda self: tuple(self.records()[1:]))

    def updated(self, **changes):
        """This state with ``changes`` to the file's keys (new keys go last)."""
        return CheckpointState({**self.data, **changes}, self.ckpt_dir)

    # -- the dict view of earlier releases -----------------------------------------------
    def _view(self):
        view = {**self.data, "weights_path": self.weights_path}
        if "older" in self.data:
            view["older"] = [{**o, "weights_path": os.path.join(self.ckpt_dir, o["weights"])}
                             for o in self.data["older"]]
        return view

    def __getitem__(self, key):
        return self._view()[key]

    def __iter__(self):
        return iter(self._view())

    def __len__(self):
        return len(self.data) + 1

    __eq__ = object.__eq__
    __hash__ = object.__hash__


def checkpoint_state(run_dir):
    """The run's :class:`CheckpointState`, or None when it has none. The weights file
    itself may be missing (a live run rotates its checkpoints): readers go through
    :func:`checkpoint_records` and fall back to the older ones."""
    path = os.path.join(run_dir, CKPT_DIR, "state.json")
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            state = CheckpointState(json.load(f), os.path.join(run_dir, CKPT_DIR))
    except (ValueError, KeyError, OSError, TypeError, AttributeError) as e:
        raise RuntimeError(f"checkpoint state {path} is corrupt ({e}); move it aside (e.g. "
                           f"mv {path} {path}.broken) to start over, or use another --run-dir"
                           ) from None
    return state


def checkpoint_records(state):
    """``state``'s checkpoints as :class:`CheckpointRecord`, newest first ([] for None)."""
    return state.records() if state is not None else []


def is_live(run_dir):
    """True while another process holds the run's lock (it trains and rotates checkpoints)."""
    import fcntl
    try:
        fd = os.open(os.path.join(run_dir, LOCK), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def write_checkpoint_state(run_dir, state):
    """Replaces ``state.json`` atomically by ``state``: a :class:`CheckpointState` (its
    ``data``) or a mapping of the file's keys (``weights_path`` entries are left out)."""
    if isinstance(state, CheckpointState):
        state = state.data
    state = {k: v for k, v in state.items() if k != "weights_path"}
    if "older" in state:
        state["older"] = [{k: v for k, v in o.items() if k != "weights_path"}
                          for o in state["older"]]
    atomic_write(os.path.join(run_dir, CKPT_DIR, "state.json"), json.dumps(state))


def export_info(export_dir):
    """The marker of an infozoo export (``{"global_step", "epoch", "step", ...}``) or None."""
    path = os.path.join(export_dir, EXPORT_MARKER)
    try:
        with open(path) as f:
            info = json.load(f)
        return info if isinstance(info, dict) and info.get("format") == "infozoo-export" else None
    except (OSError, ValueError):
        return None
