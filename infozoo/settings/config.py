"""Zoo configs: YAML defaults per model, merged with CLI flags and ``--set key=value``.

Resolution order (later wins): the common defaults below, the zoo YAML (after
its ``inherit:`` parent), the YAML's ``datasets: <name>:`` section for the
dataset in use, then the user's overrides. Unknown keys and bad values raise
:class:`ConfigError` naming the key and what is allowed. No TensorFlow here.
"""
import copy
import math
import os
from pathlib import Path

import yaml

from infozoo.hparams import check_value
from infozoo.util.io import atomic_write

SECTIONS = ("data", "model_args", "train")

DATA_DEFAULTS = {
    "dataset": "mnist",       # mnist | fashion_mnist | cifar10 | digits | toy25 ...
    "data_dir": None,         # IDX .gz files, a Keras-style .npz, or a TFDS data dir
    "train_size": None,       # first N training examples (None: all)
    "test_size": None,        # first N test examples (None: all)
    "val_size": 0,            # last N of the training examples held out for validation (0: none)
    "shuffle_buffer": 10000,
}

#: with --train-size N and no --test-size, runs evaluate on the first max(N, EVAL_MIN) test images
EVAL_MIN = 1000

TRAIN_DEFAULTS = {
    "epochs": 10,
    "batch_size": 128,
    "lr": 1.0e-3,
    "beta1": 0.9,
    "beta2": 0.999,
    "adam_epsilon": 1.0e-7,   # Keras' default (PyTorch's is 1e-8)
    "weight_decay": 0.0,      # decoupled (Keras Adam ``weight_decay``)
    "lr_drops": [],           # epochs (1-based) at whose start the lr is multiplied by lr_factor
    "lr_factor": 0.1,
    "seed": 0,
    "checkpoint_every": 100,  # steps between checkpoints (and at every epoch end)
    "image_every": 1,         # epochs between image grids
    "jit_compile": False,
    "precision": "float32",   # float32 | mixed_bfloat16 | mixed_float16 | auto (infozoo.run.precision)
    "strategy": "default",    # default | mirrored | multiworker (TF_CONFIG)
    "cpu_replicas": 1,        # logical CPU devices for 'mirrored' on a machine without GPUs
    "eval_batch_size": 500,
    "probe_every": 0,         # epochs between information-probe logs to TensorBoard (0: off)
    "early_stop_patience": 0, # stop after N epochs without a better val_loss (needs data.val_size)
    "early_stop_min_delta": 0.0,  # an improvement is a val_loss lower by more than this
    "evaluate": "full",       # final test evaluation: full | quick (loss terms, L1/MSE) | none
    "export": True,           # write the SavedModel to RUN_DIR/export at the end
}

TRAIN_SCHEMA = {
    "epochs": {"min": 1},
    "batch_size": {"min": 2},
    "lr": {"min": 0, "exclusive_min": True},
    "beta1": {"min": 0, "max": 1},
    "beta2": {"min": 0, "max": 1},
    "adam_epsilon": {"min": 0, "exclusive_min": True},
    "weight_decay": {"min": 0},
    "lr_factor": {"min": 0, "exclusive_min": True},
    "lr_drops": {"items": {"type": "int", "min": 1}, "increasing": True},
    "seed": {"min": 0, "max": 2**32 - 1},  # numpy's and Keras' seed range
    "checkpoint_every": {"min": 1},
    "image_every": {"min": 0},
    "strategy": {"choices": ["default", "mirrored", "multiworker"]},
    "precision": {"choices": ["float32", "mixed_bfloat16", "mixed_float16", "auto"]},
    "cpu_replicas": {"min": 1},
    "eval_batch_size": {"min": 1},
    "probe_every": {"min": 0},
    "early_stop_patience": {"min": 0},
    "early_stop_min_delta": {"min": 0},
    "evaluate": {"choices": ["full", "quick", "none"]},
}
DATA_SCHEMA = {"train_size": {"min": 2}, "test_size": {"min": 2}, "shuffle_buffer": {"min": 1},
               "val_size": {"min": 0}}


class ConfigError(ValueError):
    """A bad zoo name, key or value; the message says what is allowed."""


def config_dir():
    """The directory of the zoo configs: ``INFOZOO_CONFIG_DIR`` (which replaces the bundled
    ``zoo_configs/``), else the bundled one."""
    env = os.environ.get("INFOZOO_CONFIG_DIR")
    if env:
        path = Path(env)
        if not path.is_dir():
            raise ConfigError(f"INFOZOO_CONFIG_DIR={env} is not a directory: point it at a "
                              f"directory of zoo YAML files, or unset it to use the bundled ones")
        if not any(path.glob("*.yaml")):
            raise ConfigError(f"INFOZOO_CONFIG_DIR={env} holds no zoo configs (*.yaml): copy "
                              f"the bundled zoo_configs/ there, or unset it")
        return path
    here = Path(__file__).resolve().parent.parent  # the infozoo package
    for cand in (here.parent / "zoo_configs", here / "zoo_configs"):
        if cand.is_dir():
            return cand
    raise ConfigError("cannot find the zoo_configs directory; set INFOZOO_CONFIG_DIR")


def config_dirs():
    """Where zoo configs are looked up, first match wins: each directory of
    ``INFOZOO_CONFIG_PATH`` (``os.pathsep``-separated; a plug-in model's own YAML), then
    :func:`config_dir`."""
    extra = [Path(p) for p in os.environ.get("INFOZOO_CONFIG_PATH", "").split(os.pathsep) if p]
    for p in extra:
        if not p.is_dir():
            raise ConfigError(f"INFOZOO_CONFIG_PATH names {p}, which is not a directory")
    return [*extra, config_dir()]


def _zoo_file(name):
    for d in config_dirs():
        if (d / f"{name}.yaml").is_file():
            return d / f"{name}.yaml"
    return None


def zoo_names():
    return sorted({p.stem for d in config_dirs() for p in d.glob("*.yaml")})


def _merge(base, over):
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _read_zoo(path):
    try:
        with open(path) as f:
            raw = yaml.safe_load(f) or {}
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"zoo config {path} is not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"zoo config {path} must be a mapping of keys, not {type(raw).__name__}")
    return raw


def load_zoo(name, _seen=()):
    """The raw YAML of a zoo config, with its ``inherit:`` chain merged in. A ``model:``
    that is not a registered model, or an ``inherit:`` that is not a zoo config, is a
    ConfigError naming the file and the key."""
    path = _zoo_file(name)
    if path is None:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(zoo_names())}")
    if name in _seen:
        raise ConfigError(f"zoo config {name!r} inherits from itself")
    raw = _read_zoo(path)
    if "model" in raw:
        _check_model(raw["model"], f"zoo config {path}: model: {raw['model']!r}")
    parent = raw.pop("inherit", None)
    if parent is not None:
        if not isinstance(parent, str) or _zoo_file(parent) is None:
            raise ConfigError(f"zoo config {path}: inherit: {parent!r} is not a zoo config; "
                              f"available: {', '.join(zoo_names())}")
        base = load_zoo(parent, _seen + (name,))
        base.pop("description", None)
        raw = _merge(base, raw)
    if not _seen and "model" not in raw:
        _check_model(name, f"zoo config {path} has no model: key, and its name {name!r}")
    return raw


def _check_model(model, where):
    """ConfigError unless ``model`` names a registered model (a built-in one is known
    without importing TensorFlow)."""
    from infozoo.hparams import declared
    if isinstance(model, str) and declared(model):
        return
    from infozoo.settings import registry
    from infozoo.util.quiet import import_tensorflow
    import_tensorflow()  # a plug-in's model: the registry imports every model module
    try:
        registry.get_model_class(model)
    except (KeyError, TypeError):
        raise ConfigError(f"{where} is not a registered model; registered models: "
                          f"{', '.join(registry.model_names())}") from None


def zoo_file_of(name, *keys):
    """The file of zoo config ``name`` (or of the ``inherit:`` parent) that sets ``keys``
    (e.g. ``"model_args", "bottleneck"``): the file an error about that key names."""
    first, seen = _zoo_file(name), set()
    while name not in seen and _zoo_file(name) is not None:
        seen.add(name)
        try:
            node = raw = _read_zoo(_zoo_file(name))
        except ConfigError:
            break
        for k in keys:
            node = node[k] if isinstance(node, dict) and k in node else _MISSING
        if node is not _MISSING:
            return _zoo_file(name)
        name = raw.get("inherit")
        if not isinstance(name, str):
            break
    return first


_MISSING = object()


TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list}


def _type_of(value):
    if isinstance(value, bool):
        return "bool"
    for name in ("int", "float", "str", "list"):
        if isinstance(value, TYPES[name]):
            return name
    return None


def model_arg_specs(raw, name=None):
    """``{key: (type name, rule, help)}`` of a zoo config's model_args. For a model that
    declares its hyperparameters (``infozoo.hparams``) they come from the declaration, and a
    key it does not declare is a ConfigError; a plug-in model without a declaration may give
    ``schema:`` (``type``, bounds, choices) and ``help:`` in its YAML, else the type is that of
    the YAML default. A default that contradicts its type or rule is a ConfigError (naming
    the file of zoo config ``name`` that sets the key)."""
    from infozoo.hparams import spec_for

    def where(*keys):
        return f"zoo config {zoo_file_of(name, *keys)}" if name else "zoo config"
    spec = spec_for(raw.get("model"))
    args = raw.get("model_args", {})
    if spec is not None:
        extra = [k for k in ("help", "schema") if k in raw]
        if extra:
            raise ConfigError(f"{where(extra[0])} for model {raw.get('model')!r} has "
                              f"{' and '.join(extra)}: its hyperparameters' types, bounds and "
                              f"help are declared in infozoo/hparams; remove them from the YAML")
        unknown = [k for k in args if k not in spec]
        if unknown:
            raise ConfigError(f"{where('model_args', unknown[0])}, model_args "
                              f"{', '.join(unknown)}: not a "
                              f"hyperparameter of model {raw.get('model')!r}; known: "
                              f"{', '.join(spec.names())}")
        out = {k: (spec[k].type, spec[k].rule, spec[k].help) for k in args}
    else:
        schema, helps = raw.get("schema", {}), raw.get("help", {})
        out = {}
        for k, v in args.items():
            declared = schema.get(k, {}).get("type")
            if declared is not None and declared not in TYPES:
                raise ConfigError(f"{where('schema', k)}: schema.{k}.type is {declared!r}; "
                                  f"allowed: {', '.join(TYPES)}")
            out[k] = (declared or _type_of(v), schema.get(k, {}), helps.get(k, ""))
    for k, v in args.items():
        typ, rule, _ = out[k]
        if typ == "str" and isinstance(v, str) and _looks_numeric(v):
            raise ConfigError(f"{where('model_args', k)}: model_args.{k} is the text {v!r}: "
                              f"write a number YAML reads as one (e.g. 1.0e-3, not 1e-3), or "
                              f"quote nothing")
        if typ == "str" and any(b in rule for b in ("min", "max")):
            raise ConfigError(f"{where('model_args', k)}: model_args.{k} is {v!r} but its "
                              f"schema gives numeric bounds: write a number")
        try:
            _check_value("model_args", k, v, typ, rule)
        except ConfigError as e:
            raise ConfigError(f"{where('model_args', k)}: {e}") from None
    return out


def _looks_numeric(v):
    try:
        float(v)
        return True
    except ValueError:
        return False


def flag_specs(name):
    """``[(key, default, help, rule, type name)]`` for the scalar model_args that get CLI
    flags; the flag's type is the declared type, never the accident of a YAML value."""
    raw = load_zoo(name)
    specs = model_arg_specs(raw, name)
    return [(k, v, specs[k][2], specs[k][1], specs[k][0])
            for k, v in raw.get("model_args", {}).items()
            if isinstance(v, (int, float, str, bool))]


def _check_value(section, key, value, typ, rule, nullable=False):
    """``value`` checked against type name ``typ`` and ``rule``
    (:func:`infozoo.hparams.check_value`), as a ConfigError naming ``section.key``."""
    return check_value(f"{section}.{key}", value, typ, rule, nullable, error=ConfigError)


def _locate(key, cfg):
    """``section.key`` or a bare key found in exactly one section."""
    if "." in key:
        section, sub = key.split(".", 1)
        if section not in SECTIONS:
            raise ConfigError(f"unknown config section {section!r} in {key!r}; "
                              f"sections: {', '.join(SECTIONS)}")
        if sub not in cfg[section]:
            raise ConfigError(f"unknown config key {key!r}; keys of {section}: "
                              f"{', '.join(sorted(cfg[section]))}")
        return section, sub
    hits = [s for s in SECTIONS if key in cfg[s]]
    if not hits:
        allowed = ", ".join(f"{s}.{k}" for s in SECTIONS for k in sorted(cfg[s]))
        raise ConfigError(f"unknown config key {key!r}; allowed keys: {allowed}")
    if len(hits) > 1:
        raise ConfigError(f"config key {key!r} is ambiguous; write one of "
                          f"{', '.join(f'{s}.{key}' for s in hits)}")
    return hits[0], key


def parse_set(items):
    """``["train.lr=1e-4", "hidden=[64, 32]"]`` -> ``{"train.lr": 1e-4, ...}`` (values are YAML)."""
    out = {}
    for item in items or ():
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = _numbers(yaml.safe_load(v))
        except yaml.YAMLError as e:
            raise ConfigError(f"--set {k}: cannot parse value {v!r}: {e}") from None
    return out


def _numbers(v):
    """YAML 1.1 reads ``1e-3`` as text; on the command line it means a number."""
    if isinstance(v, list):
        return [_numbers(i) for i in v]
    if isinstance(v, str) and _looks_numeric(v):
        return float(v)  # "nan"/"inf" become floats too, and _check_value refuses them
    return v


def resolve(name, overrides=None):
    """The full config of zoo ``name`` with ``overrides`` (``{key or section.key: value}``)."""
    overrides = dict(overrides or {})
    raw = load_zoo(name)
    unknown = set(raw) - {"model", "description", "data", "model_args", "train", "datasets",
                          "help", "schema"}
    if unknown:
        raise ConfigError(f"zoo config {zoo_file_of(name, sorted(unknown)[0])} has unknown "
                          f"top-level keys: {sorted(unknown)}")
    cfg = {"zoo": name, "model": raw.get("model", name),
           "data": _merge(DATA_DEFAULTS, raw.get("data")),
           "model_args": copy.deepcopy(raw.get("model_args", {})),
           "train": _merge(TRAIN_DEFAULTS, raw.get("train"))}
    specs = model_arg_specs(raw, name)
    types = {"data": {k: _type_of(v) for k, v in DATA_DEFAULTS.items() if v is not None},
             "train": {k: _type_of(v) for k, v in TRAIN_DEFAULTS.items() if v is not None},
             "model_args": {k: t for k, (t, _, _) in specs.items()}}
    located = {_locate(k, cfg): v for k, v in overrides.items()}
    dataset = located.get(("data", "dataset"), cfg["data"]["dataset"])
    per_ds = raw.get("datasets", {}).get(dataset, {})
    for section in SECTIONS:
        for k, v in per_ds.get(section, {}).items():
            if k not in cfg[section]:
                path = zoo_file_of(name, "datasets", dataset, section, k)
                raise ConfigError(f"zoo config {path}, datasets.{dataset}: unknown key "
                                  f"{section}.{k}")
            cfg[section][k] = copy.deepcopy(v)
    schemas = {"data": DATA_SCHEMA, "train": TRAIN_SCHEMA,
               "model_args": {k: rule for k, (_, rule, _) in specs.items()}}
    for (section, key), value in located.items():
        cfg[section][key] = value
    d = cfg["data"]
    if d["train_size"] is not None and d["test_size"] is None and isinstance(d["train_size"], int):
        # the evaluation budget follows the run's scale unless --test-size says otherwise
        d["test_size"] = max(EVAL_MIN, d["train_size"])
    for section in SECTIONS:
        for key, value in cfg[section].items():
            nullable = section == "data" and DATA_DEFAULTS.get(key, 0) is None
            cfg[section][key] = _check_value(section, key, value, types[section].get(key),
                                             schemas[section].get(key, {}), nullable)
    if cfg["train"]["early_stop_patience"] and not d["val_size"]:
        raise ConfigError("train.early_stop_patience needs a validation split held out of the "
                          "training set: set data.val_size N (e.g. --set data.val_size=5000); "
                          "early stopping never looks at the test set")
    return cfg


def dump(cfg):
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None)


def save(cfg, path):
    atomic_write(path, dump(cfg))


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)
