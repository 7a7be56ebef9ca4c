"""Trained zoo models by name: ``infozoo.from_preset("ipae-toy25")`` (KerasHub-style presets).

A preset is a folder ``<name>/`` shipped inside the package (``importlib.resources``; more
folders may be added with ``INFOZOO_PRESET_PATH``, ``os.pathsep``-separated, searched first)
holding

- ``config.yaml``: the full config of the run that trained it, as its ``config.yaml`` holds it;
- ``model.weights.h5``: the weights (no optimizer state);
- ``metrics.json``: the run's test metrics, as its ``metrics.json`` holds them;
- ``metadata.json``: name, the exact training command, the commit, the budget, and the
  SHA-256 of each of the three files, checked on every load (a changed or truncated file
  is a :class:`PresetError`).

Names: ``<model>-<dataset>-b<bottleneck>`` (``inn-fashion_mnist-b64``) or
``<model>-<dataset>[-<setting>]`` (``ipae-toy25``, ``pie-fashion_mnist-eps0.1``). A preset
trained below its paper's budget says so in ``budget`` and in its name (``-short``).
:func:`make` turns a finished run directory into a preset (``infozoo presets make``).
No TensorFlow is imported until a model is built.
"""
import hashlib
import json
import os
import re
import shutil
import sys
from importlib import resources
from pathlib import Path

from infozoo.util.io import atomic_write, move, temp_dir_beside

FILES = ("config.yaml", "model.weights.h5", "metrics.json")
META = "metadata.json"
NAME = re.compile(r"^[a-z0-9][a-z0-9_.]*(-[a-z0-9_.]+){1,4}$")


class PresetError(ValueError):
    """An unknown, malformed or corrupted preset; the message says what to do."""


def _roots():
    extra = [Path(p) for p in os.environ.get("INFOZOO_PRESET_PATH", "").split(os.pathsep) if p]
    return [*extra, Path(str(resources.files(__name__)))]


def _folders():
    out = {}
    for root in _roots():
        if root.is_dir():
            for d in sorted(root.iterdir()):
                if (d / META).is_file():
                    out.setdefault(d.name, d)  # first root wins
    return out


def available():
    """The preset names, sorted."""
    return sorted(_folders())


def _folder(name):
    folders = _folders()
    if name not in folders:
        have = ", ".join(sorted(folders)) or "none"
        raise PresetError(f"unknown preset {name!r}; available: {have} (infozoo presets "
                          f"lists them with their test figures)")
    return folders[name]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _metadata(folder):
    try:
        meta = json.loads((folder / META).read_text())
        meta["sha256"] = dict(meta["sha256"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise PresetError(f"preset {folder.name}: {folder / META} is unreadable ({e}); "
                          f"reinstall infozoo or make the preset again") from None
    return meta


def verify(folder):
    """The metadata of preset folder ``folder`` after checking every file's SHA-256."""
    folder = Path(folder)
    meta = _metadata(folder)
    for f in FILES:
        path = folder / f
        if not path.is_file():
            raise PresetError(f"preset {folder.name}: {path} is missing; reinstall infozoo "
                              f"or make the preset again")
        if sha256(path) != meta["sha256"].get(f):
            raise PresetError(f"preset {folder.name}: {path} does not match its checksum in "
                              f"{META} (corrupted or edited); reinstall infozoo or make the "
                              f"preset again")
    return meta


def info(name):
    """``{"name", "config", "metrics", "command", "commit", "budget", "path", ...}`` of a
    preset (checksums verified): ``config`` as the run's config.yaml, ``metrics`` as its
    metrics.json."""
    import yaml
    folder = _folder(name)
    meta = verify(folder)
    out = {k: v for k, v in meta.items() if k != "sha256"}
    out.update(config=yaml.safe_load((folder / "config.yaml").read_text()),
               metrics=json.loads((folder / "metrics.json").read_text()), path=str(folder))
    return out


def load(name):
    """The trained model of preset ``name`` (its checksums verified first)."""
    from infozoo.run import factory
    from infozoo.settings.run_config import RunConfig
    i = info(name)
    cfg = RunConfig.from_dict(i["config"])
    model = factory.build_model(cfg, cfg.input_shape)
    try:
        model.load_weights(os.path.join(i["path"], "model.weights.h5"))
    except Exception as e:  # noqa: BLE001  (h5py/Keras raise many kinds)
        raise PresetError(f"preset {name}: cannot load its weights ({type(e).__name__}: "
                          f"{str(e)[:200]}); reinstall infozoo or make the preset again") from None
    return model


#: ``infozoo.from_preset(name)``
from_preset = load


def run_view(name, directory):
    """Writes preset ``name`` as a run directory (config.yaml and a checkpoint) into the new
    or empty ``directory``, so that the run commands (eval, probe, export) read it."""
    from infozoo.run import rundir as runs
    from infozoo.run import factory
    from infozoo.settings.run_config import RunConfig
    i = info(name)
    cfg = RunConfig.from_dict(i["config"])
    os.makedirs(os.path.join(directory, runs.CKPT_DIR), exist_ok=True)
    if any(f != runs.CKPT_DIR for f in os.listdir(directory)):
        raise PresetError(f"{directory} is not empty: give a new or empty directory")
    model = factory.compile_model(factory.build_model(cfg, cfg.input_shape), cfg)
    model.set_weights(load(name).get_weights())
    ckpt = "ckpt-preset.weights.h5"
    model.save_weights(os.path.join(directory, runs.CKPT_DIR, ckpt))
    epoch = int(i["metrics"].get("weights_epoch") or cfg.train.epochs)
    runs.write_checkpoint_state(directory, {"epoch": epoch, "step": 0, "global_step": -1,
                                            "weights": ckpt, "older": [], "preset": name})
    # the preset's own file, byte for byte (an older one may lack settings declared since)
    atomic_write(os.path.join(directory, runs.CONFIG),
                 (Path(i["path"]) / "config.yaml").read_text())
    return directory


def run_commit(run_dir):
    """The commit of the code that trained ``run_dir``, from each segment's ``code`` record in
    ``segments.jsonl``; PresetError when it is unknown (a run written before segments recorded
    it), differs between segments, or ran on a modified checkout."""
    from infozoo.run import rundir as runs
    segs = runs.segments(run_dir)
    codes = [s.get("code") or {} for s in segs]
    if not segs or any(not c.get("commit") for c in codes):
        raise PresetError(f"{run_dir} does not record the commit of the code that trained it "
                          f"(a run written before {runs.SEGMENTS} recorded it, or code not in a "
                          f"git checkout): give --commit SHA")
    modified = [i + 1 for i, c in enumerate(codes) if c.get("modified")]
    if modified:
        raise PresetError(f"segment(s) {modified} of {run_dir} ran on a checkout with changes "
                          f"to infozoo/ not in commit {codes[modified[0] - 1]['commit'][:12]}: "
                          f"the commit does not reproduce the run; give --commit to state the "
                          f"code yourself")
    found = sorted({c["commit"] for c in codes})
    if len(found) > 1:
        raise PresetError(f"{run_dir} was trained by {len(found)} commits "
                          f"({', '.join(c[:12] for c in found)}) across its resumes: give "
                          f"--commit to state which one the preset names")
    return found[0]


def training_command(run_dir):
    """The ``infozoo`` command of the run's first segment (``segments.jsonl``)."""
    import shlex
    from infozoo.run import rundir as runs
    segs = runs.segments(run_dir)
    if not segs:
        raise PresetError(f"{run_dir} has no {runs.SEGMENTS}: not an infozoo run directory")
    return "infozoo " + " ".join(shlex.quote(a) for a in segs[0]["argv"])


def make(run_dir, name, out_root, budget, commit=None, command=None):
    """Turns the finished run ``run_dir`` into preset folder ``out_root/name``; returns its
    path. ``budget`` states what the model was trained on and for how long, against the
    paper's budget. ``commit`` defaults to the one the run's segments recorded
    (:func:`run_commit`)."""
    from infozoo.run import rundir as runs
    from infozoo.run import factory
    if not NAME.match(name):
        raise PresetError(f"preset name {name!r}: write <model>-<dataset>-b<bottleneck> or "
                          f"<model>-<dataset>[-<setting>], lower case (e.g. ipae-toy25)")
    if not budget or not str(budget).strip():
        raise PresetError("give the budget (--budget TEXT): data, steps or epochs, and how "
                          "they compare with the paper's")
    metrics_path = os.path.join(run_dir, "metrics.json")
    if not os.path.isfile(metrics_path):
        raise PresetError(f"{run_dir} has no metrics.json: only a finished run becomes a preset")
    commit = commit or run_commit(run_dir)
    target = Path(out_root) / name
    if target.exists():
        raise PresetError(f"{target} exists: remove it first or choose another name")
    cfg, model, weights = factory.load_model(run_dir, verbose=False)
    final = factory.build_model(cfg, cfg.input_shape)
    final.set_weights(model.get_weights())
    os.makedirs(out_root, exist_ok=True)
    tmp = Path(temp_dir_beside(str(target)))  # ours alone, with the umask's permissions
    try:
        final.save_weights(str(tmp / "model.weights.h5"))
        shutil.copyfile(os.path.join(run_dir, runs.CONFIG), tmp / "config.yaml")
        shutil.copyfile(metrics_path, tmp / "metrics.json")
        meta = {"name": name, "model": cfg.model, "zoo": cfg.zoo,
                "dataset": cfg.data.dataset, "budget": str(budget).strip(),
                "command": command or training_command(run_dir),
                "commit": commit,
                "weights": {k: weights[k] for k in ("source", "epoch", "step")},
                "sha256": {f: sha256(tmp / f) for f in FILES}}
        (tmp / META).write_text(json.dumps(meta, indent=2) + "\n")
        move(tmp, target)  # a new name (checked above): a rename, never a merge
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return str(target)


def summary_line(name):
    """``name  model  dataset  test figures  budget`` for ``infozoo presets``."""
    i = info(name)
    m = i["metrics"]
    keys = [k for k in ("test_l1", "test_loss", "toy25_E", "test_bits_per_dim", "svm_clean")
            if isinstance(m.get(k), (int, float))]
    figs = ", ".join(f"{k} {m[k]:.4g}" for k in keys[:3])
    return f"{name:28s} {i['model']:8s} {figs}  [{i['budget']}]"


def _main():  # pragma: no cover  (python -m infozoo.presets)
    for n in available():
        print(summary_line(n))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())
