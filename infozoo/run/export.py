"""SavedModel export with named endpoints, loadable by code that imports only TensorFlow.

``export_model`` writes ``out_dir`` as a SavedModel (``keras.export.ExportArchive``)
with the model's endpoints (``encode``, ``decode``, ``reconstruct``, and
``sample``/``log_prob`` where the model has them), ``out_dir/model.keras`` for
``keras.saving.load_model``, and ``out_dir/infozoo-export.json``, the marker
that says infozoo wrote the directory and from which weights.

Nothing that infozoo did not write is ever deleted or overwritten: ``out_dir``
must not exist, be empty, or be an earlier infozoo export (which is replaced by
an atomic swap, so a failure midway leaves it whole). Run directories are refused.

Endpoints check their input: image endpoints take float images scaled to [0, 1]
(``uint8`` pixels must be divided by 255 first; models trained on other data,
e.g. toy25, take any finite values), a non-empty batch, and ``sample`` takes n >= 1 and a
finite temperature >= 0: the rules of ``infozoo.data.inputs``, which the Python methods apply too.

Every endpoint returns a dict, so its SavedModel signature has named outputs
(``ENDPOINTS``: ``encode -> code``, ``decode``/``reconstruct -> reconstruction``,
``sample -> samples``, ``log_prob -> log_prob``). Images that ``decode``,
``reconstruct`` and ``sample`` return are clipped to the data range (the inverse of
an INN or PIE leaves it by float32 round-off or, for codes off the data, by more),
so ``encode(reconstruct(x)["reconstruction"])`` is always accepted. ``sample(n,
temperature, seed)``: ``seed >= 0`` gives stateless, reproducible draws, a negative
seed TensorFlow's global generator. What a serving user needs to know (input shape and
range, ``num_bins``, the units of ``log_prob``, code size, model, infozoo version, each
endpoint's inputs, output and description) is in ``assets/infozoo-metadata.json`` and
in the ``metadata`` endpoint (no inputs; ``json`` holds the whole record). A
SavedModel keeps no Python docstrings, so the descriptions live there.
"""
import json
import os
import shutil

from infozoo.data import inputs
from infozoo.run import rundir as runs
from infozoo.run import factory
from infozoo.util.io import replace_dir, temp_dir_beside

#: what an export of the first release (no marker) holds; such a directory may be replaced
_OLD_EXPORT = {"saved_model.pb", "variables", "assets", "fingerprint.pb", "model.keras"}


class ExportRefused(ValueError):
    """``out_dir`` holds something infozoo did not write, or a run."""


def _files(root):
    """Every file below ``root``, as relative paths."""
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, fs in os.walk(root) for f in fs)


def _written_by_infozoo(out, info):
    """The files of the earlier export ``out`` that infozoo wrote: the marker's manifest, or
    for an export without one (earlier releases) the SavedModel's own layout."""
    if info is not None and isinstance(info.get("files"), list):
        return set(info["files"])
    return {f for f in _files(out) if f in _OLD_EXPORT or f == runs.EXPORT_MARKER
            or f.startswith("variables" + os.sep)}


def check_target(out_dir, run_dir=None):
    """Raises ExportRefused unless writing ``out_dir`` can lose nothing.

    Refused: a file; a run directory (or one holding ``run_dir``); another run's own
    ``export/``; a non-empty directory that is not an infozoo export; an earlier export
    that holds files infozoo did not write (they are listed)."""
    out = os.path.realpath(out_dir)
    if run_dir is not None:
        run = os.path.realpath(run_dir)
        if out == run or run.startswith(out.rstrip(os.sep) + os.sep):
            raise ExportRefused(f"--out {out_dir} is (or contains) the run directory "
                                f"{run_dir}: exporting there would replace the run. Give a "
                                f"new directory, e.g. --out {os.path.join(run_dir, 'export')} "
                                f"or --out /tmp/model")
    if os.path.exists(out) and not os.path.isdir(out):
        raise ExportRefused(f"--out {out_dir} is a file: give a directory path that does not "
                            f"exist yet")
    parent = os.path.dirname(out)
    own = run_dir is not None and os.path.realpath(run_dir) == parent
    if (os.path.basename(out) == runs.EXPORT_DIR and not own and runs.is_run_dir(parent)):
        raise ExportRefused(f"--out {out_dir} is the export of another run ({parent}): "
                            f"replacing it would lose that run's export. Give a new directory")
    if not os.path.isdir(out):
        return
    entries = set(os.listdir(out))
    if not entries:
        return
    info = runs.export_info(out)
    legacy = info is None and entries <= _OLD_EXPORT and "saved_model.pb" in entries
    if info is not None or legacy:
        foreign = [f for f in _files(out) if f not in _written_by_infozoo(out, info)]
        if foreign:
            shown = ", ".join(foreign[:8]) + (f" and {len(foreign) - 8} more"
                                              if len(foreign) > 8 else "")
            raise ExportRefused(f"--out {out_dir} is an earlier infozoo export that now holds "
                                f"files infozoo did not write ({shown}); replacing it would "
                                f"delete them. Move them out, or give a new directory")
        return
    if runs.is_run_dir(out):
        raise ExportRefused(f"--out {out_dir} is a run directory: exporting there would "
                            f"replace the run. Give a new directory.")
    raise ExportRefused(f"--out {out_dir} is not empty and is not an infozoo export "
                        f"({len(entries)} entries, e.g. {sorted(entries)[0]!r}); infozoo "
                        f"never replaces what it did not write. Give a new or empty "
                        f"directory.")


#: endpoint -> (its output's name, what it does); the descriptions go into the metadata
ENDPOINTS = {
    "encode": ("code", "encode(x): the code [batch, code_size] of images x [batch, H, W, C] "
                       "(float32 in value_range)"),
    "decode": ("reconstruction", "decode(z): images [batch, H, W, C] from codes z "
                                 "[batch, code_size], clipped to value_range"),
    "reconstruct": ("reconstruction", "reconstruct(x) = decode(encode(x)), clipped to "
                                      "value_range"),
    "sample": ("samples", "sample(n, temperature, seed): n images from the model's prior at "
                          "temperature (1.0: the prior itself), clipped to value_range; seed "
                          ">= 0 gives reproducible stateless draws, seed < 0 TensorFlow's "
                          "global generator"),
    "log_prob": ("log_prob", "log_prob(x): log p(x) per image in nats, the model's density "
                             "on value_range^D at x itself (no dequantisation noise); bits per "
                             "dimension = (-log_prob / D + log(num_bins)) / log(2)"),
    "metadata": ("json", "metadata(): this record; json holds all of it as one JSON string"),
}
#: endpoints whose output is an image (clipped to the data range)
IMAGE_OUTPUTS = ("decode", "reconstruct", "sample")
METADATA_ASSET = "infozoo-metadata.json"


def serving_metadata(model, input_range, endpoints, weights=None):
    """The record of ``assets/infozoo-metadata.json`` and the ``metadata`` endpoint."""
    import infozoo
    hp = getattr(model, "hp", {}) or {}
    try:
        code_size = int(model.code_size)
    except (NotImplementedError, AttributeError, TypeError):
        code_size = None
    return {
        "format": "infozoo-serving-metadata", "format_version": 1,
        "model": getattr(model, "registry_name", None), "class": type(model).__name__,
        "infozoo_version": infozoo.__version__,
        "input_shape": [None, *map(int, model.image_shape)], "input_dtype": "float32",
        "value_range": None if input_range is None else [float(v) for v in input_range],
        "num_bins": hp.get("num_bins"), "code_size": code_size,
        "log_prob_units": ("nats per example: log of the density over value_range^D at x, "
                           "without dequantisation noise" if "log_prob" in endpoints else None),
        "outputs_clipped_to_value_range": input_range is not None,
        "weights": {k: (weights or {}).get(k) for k in ("epoch", "step")},
        "endpoints": {name: {"inputs": [s.name for s in spec], "output": ENDPOINTS[name][0],
                             "doc": ENDPOINTS[name][1]}
                      for name, spec in endpoints.items()},
    }


def _metadata_fn(meta):
    """The ``metadata`` endpoint: no inputs, the record as named constant outputs."""
    import tensorflow as tf
    text = json.dumps(meta, sort_keys=True)

    def metadata():
        vr = meta["value_range"] or []
        return {"json": tf.constant(text), "model": tf.constant(str(meta["model"])),
                "infozoo_version": tf.constant(meta["infozoo_version"]),
                "input_shape": tf.constant([-1, *meta["input_shape"][1:]], tf.int32),
                "value_range": tf.constant(vr, tf.float32, shape=[len(vr)]),
                "num_bins": tf.constant(meta["num_bins"] or -1, tf.int32),
                "code_size": tf.constant(-1 if meta["code_size"] is None else meta["code_size"],
                                         tf.int32),
                "log_prob_units": tf.constant(meta["log_prob_units"] or "")}
    metadata.__doc__ = ENDPOINTS["metadata"][1]
    return metadata


def export_model(model, out_dir, weights=None, run_dir=None, input_range=(0.0, 1.0)):
    """Writes the SavedModel to ``out_dir`` (see the module docstring); returns ``out_dir``.

    ``weights`` (``{"epoch", "step", "global_step", ...}``) is recorded in the marker with
    the list of files written; ``input_range`` is what image endpoints accept (None: any
    finite values). The directory gets the permissions of the user's umask (a temporary
    directory is 0700 until it is swapped in). A failure (a full disk, ...) is an
    ExportRefused naming the cause; an earlier export at ``out_dir`` is then left whole.
    """
    import keras
    check_target(out_dir, run_dir)
    out = os.path.realpath(out_dir)
    parent = os.path.dirname(out)
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = temp_dir_beside(out)
    except OSError as e:
        raise ExportRefused(f"cannot write next to {out_dir}: {e.strerror or e}") from None
    try:
        archive = keras.export.ExportArchive()
        archive.track(model)
        endpoints = model.export_endpoints()
        for name, (fn, signature) in endpoints.items():
            archive.add_endpoint(name, _checked(fn, signature, input_range, name),
                                 input_signature=signature)
        meta = serving_metadata(model, input_range,
                                {k: s for k, (_, s) in endpoints.items()}, weights)
        archive.add_endpoint("metadata", _metadata_fn(meta), input_signature=[])
        archive.write_out(tmp, verbose=False)
        os.makedirs(os.path.join(tmp, "assets"), exist_ok=True)
        with open(os.path.join(tmp, "assets", METADATA_ASSET), "w") as f:
            json.dump(meta, f, indent=2, sort_keys=True)
        model.save(os.path.join(tmp, "model.keras"))
        marker = {"format": "infozoo-export", "model": getattr(model, "registry_name", None),
                  "run_dir": os.path.realpath(run_dir) if run_dir else None,
                  **{k: (weights or {}).get(k) for k in ("epoch", "step", "global_step")},
                  "files": _files(tmp) + [runs.EXPORT_MARKER]}
        with open(os.path.join(tmp, runs.EXPORT_MARKER), "w") as f:
            json.dump(marker, f, indent=2)
        replace_dir(tmp, out)  # an earlier export is swapped out, or back on a failure
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)  # our own temporary directory only
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        kept = ("the earlier export there is unchanged" if os.path.isdir(out)
                else "nothing was written")
        cause = getattr(e, "strerror", None) or _first_line(e)
        raise ExportRefused(f"cannot write the export {out_dir} ({type(e).__name__}: "
                            f"{cause}); {kept}") from None
    return out_dir


def _first_line(e):
    text = str(e).strip().splitlines()
    return text[0][:300] if text else ""


def _checked(fn, signature, input_range, endpoint=None):
    """``fn`` with clear in-graph errors for empty batches, NaN, out-of-range images and
    sample arguments (``infozoo.data.inputs``: the rules the Python methods apply too), its
    output named (``ENDPOINTS``) and, for images, clipped to ``input_range``."""
    import tensorflow as tf
    names = [s.name for s in signature]
    out_name = ENDPOINTS.get(endpoint, (endpoint or "output",))[0]
    clip = input_range is not None and endpoint in IMAGE_OUTPUTS

    def wrapped(*args):
        checks = []
        for name, spec, a in zip(names, signature, args):  # the rules of infozoo.data.inputs
            checks += inputs.graph_checks(name, spec, a, input_range)
        with tf.control_dependencies(checks):
            args = [tf.identity(a) for a in args]
        # float32 out whatever the dtype policy the model was trained under
        out = tf.nest.map_structure(
            lambda t: tf.cast(t, tf.float32) if t.dtype.is_floating else t, fn(*args))
        if clip:
            out = tf.clip_by_value(out, *[tf.constant(v, out.dtype) for v in input_range])
        return out if isinstance(out, dict) else {out_name: out}

    wrapped.__doc__ = ENDPOINTS.get(endpoint, (None, fn.__doc__))[1]
    return wrapped


def export_run(run_dir, out_dir):
    """Exports the run's newest weights; returns the weights record (see ``factory.load_model``)."""
    cfg, model, weights = factory.load_model(run_dir)
    export_model(model, out_dir, weights, run_dir, input_range_of(cfg))
    return weights


def input_range_of(cfg):
    return inputs.range_of_dataset(cfg.data.dataset)
