"""Zoo configs: YAML defaults per model, merged with CLI flags and ``--set key=value``.

Resolution order (later wins): the common defaults below, the zoo YAML (after
its ``inherit:`` parent), the YAML's ``datasets: <name>:`` section for the
dataset in use, then the user's overrides. Unknown keys and bad values raise
:class:`ConfigError` naming the key and what is allowed. No TensorFlow here.
"""
import copy
import os
from pathlib import Path

import yaml

SECTIONS = ("data", "model_args", "train")

DATA_DEFAULTS = {
    "dataset": "mnist",       # mnist | fashion_mnist | cifar10 | digits | toy25 ...
    "data_dir": None,         # IDX .gz files, a Keras-style .npz, or a TFDS data dir
    "train_size": None,       # first N training examples (None: all)
    "test_size": None,        # first N test examples (None: all)
    "shuffle_buffer": 10000,
}

TRAIN_DEFAULTS = {
    "epochs": 10,
    "batch_size": 128,
    "lr": 1.0e-3,
    "beta1": 0.9,
    "weight_decay": 0.0,      # decoupled (Keras Adam ``weight_decay``)
    "lr_drops": [],           # epochs (1-based) at whose start the lr is multiplied by lr_factor
    "lr_factor": 0.1,
    "seed": 0,
    "checkpoint_every": 100,  # steps between checkpoints (and at every epoch end)
    "image_every": 1,         # epochs between image grids
    "jit_compile": False,
    "strategy": "default",    # default | mirrored
    "cpu_replicas": 1,        # logical CPU devices for 'mirrored' on a machine without GPUs
    "eval_batch_size": 500,
    "probe_every": 0,         # epochs between information-probe logs to TensorBoard (0: off)
}

TRAIN_SCHEMA = {
    "epochs": {"min": 1},
    "batch_size": {"min": 2},
    "lr": {"min": 0, "exclusive_min": True},
    "beta1": {"min": 0, "max": 1},
    "weight_decay": {"min": 0},
    "lr_factor": {"min": 0, "exclusive_min": True},
    "checkpoint_every": {"min": 1},
    "image_every": {"min": 0},
    "strategy": {"choices": ["default", "mirrored"]},
    "cpu_replicas": {"min": 1},
    "eval_batch_size": {"min": 1},
    "probe_every": {"min": 0},
}
DATA_SCHEMA = {"train_size": {"min": 2}, "test_size": {"min": 2}, "shuffle_buffer": {"min": 1}}


class ConfigError(ValueError):
    """A bad zoo name, key or value; the message says what is allowed."""


def config_dir():
    env = os.environ.get("INFOZOO_CONFIG_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    for cand in (here.parent / "zoo_configs", here / "zoo_configs"):
        if cand.is_dir():
            return cand
    raise ConfigError("cannot find the zoo_configs directory; set INFOZOO_CONFIG_DIR")


def zoo_names():
    return sorted(p.stem for p in config_dir().glob("*.yaml"))


def _merge(base, over):
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_zoo(name, _seen=()):
    """The raw YAML of a zoo config, with its ``inherit:`` chain merged in."""
    path = config_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(zoo_names())}")
    if name in _seen:
        raise ConfigError(f"zoo config {name!r} inherits from itself")
    with open(path) as f:
        raw = yaml.safe_load(f) or {}
    parent = raw.pop("inherit", None)
    if parent:
        base = load_zoo(parent, _seen + (name,))
        base.pop("description", None)
        raw = _merge(base, raw)
    return raw


def flag_specs(name):
    """``[(key, default, help, schema)]`` for the scalar model_args that get CLI flags."""
    raw = load_zoo(name)
    helps, schema = raw.get("help", {}), raw.get("schema", {})
    return [(k, v, helps.get(k, ""), schema.get(k, {}))
            for k, v in raw.get("model_args", {}).items()
            if isinstance(v, (int, float, str, bool))]


def _check_value(section, key, value, default, rule):
    where = f"{section}.{key}"
    if default is not None and value is not None:
        if isinstance(default, bool):
            ok = isinstance(value, bool)
            want = "true or false"
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
            want = "an integer"
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            want = "a number"
            if ok:
                value = float(value)
        elif isinstance(default, str):
            ok = isinstance(value, str)
            want = "a string"
        elif isinstance(default, list):
            ok = isinstance(value, list)
            want = "a list like [1, 2]"
        else:
            ok, want = True, ""
        if not ok:
            raise ConfigError(f"bad value for {where}: {value!r}; expected {want}")
    if value is None:
        return value
    if "choices" in rule and value not in rule["choices"]:
        raise ConfigError(f"bad value for {where}: {value!r}; allowed: "
                          f"{', '.join(map(str, rule['choices']))}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        lo, hi = rule.get("min"), rule.get("max")
        if lo is not None and (value < lo or (rule.get("exclusive_min") and value <= lo)):
            op = ">" if rule.get("exclusive_min") else ">="
            raise ConfigError(f"bad value for {where}: {value!r}; must be {op} {lo}")
        if hi is not None and value > hi:
            raise ConfigError(f"bad value for {where}: {value!r}; must be <= {hi}")
    return value


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
            out[k.strip()] = yaml.safe_load(v)
        except yaml.YAMLError as e:
            raise ConfigError(f"--set {k}: cannot parse value {v!r}: {e}") from None
    return out


def resolve(name, overrides=None):
    """The full config of zoo ``name`` with ``overrides`` (``{key or section.key: value}``)."""
    overrides = dict(overrides or {})
    raw = load_zoo(name)
    unknown = set(raw) - {"model", "description", "data", "model_args", "train", "datasets",
                          "help", "schema"}
    if unknown:
        raise ConfigError(f"zoo config {name!r} has unknown top-level keys: {sorted(unknown)}")
    cfg = {"zoo": name, "model": raw.get("model", name),
           "data": _merge(DATA_DEFAULTS, raw.get("data")),
           "model_args": copy.deepcopy(raw.get("model_args", {})),
           "train": _merge(TRAIN_DEFAULTS, raw.get("train"))}
    defaults = copy.deepcopy(cfg)
    located = {_locate(k, cfg): v for k, v in overrides.items()}
    dataset = located.get(("data", "dataset"), cfg["data"]["dataset"])
    per_ds = raw.get("datasets", {}).get(dataset, {})
    for section in SECTIONS:
        for k, v in per_ds.get(section, {}).items():
            if k not in cfg[section]:
                raise ConfigError(f"zoo config {name!r}, datasets.{dataset}: unknown key "
                                  f"{section}.{k}")
            cfg[section][k] = copy.deepcopy(v)
    schemas = {"data": DATA_SCHEMA, "train": TRAIN_SCHEMA, "model_args": raw.get("schema", {})}
    for (section, key), value in located.items():
        cfg[section][key] = value
    for section in SECTIONS:
        for key, value in cfg[section].items():
            cfg[section][key] = _check_value(section, key, value, defaults[section][key],
                                             schemas[section].get(key, {}))
    return cfg


def dump(cfg):
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None)


def save(cfg, path):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(dump(cfg))
    os.replace(tmp, path)


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)
