"""Zoo configs: where a zoo entry differs from the declared defaults, merged with CLI flags
and ``--set key=value``.

Resolution order (later wins): the declared defaults (the model's hyperparameters,
:mod:`infozoo.settings.hparams`; the data and train settings, :mod:`infozoo.settings.run`),
the zoo YAML (after its ``inherit:`` parent), the YAML's ``datasets: <name>:`` section for
the dataset in use, then the user's overrides: a
:class:`~infozoo.settings.run_config.RunConfig`. Unknown keys and bad values raise
:class:`ConfigError` (defined beside ``RunConfig``, which raises it too) naming the key and
what is allowed. :func:`load`/:func:`save`/:func:`dump` read and write a run's
``config.yaml``. No TensorFlow here.
"""
import copy
import math
import os
from pathlib import Path

import yaml

from infozoo.settings.hparams import check_value
from infozoo.settings.run import DATA, EVAL_MIN, RUN_SECTIONS, TRAIN  # noqa: F401 (EVAL_MIN)
from infozoo.settings.run_config import ConfigError, RunConfig
from infozoo.util.io import atomic_write

SECTIONS = ("data", "model_args", "train")


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
    from infozoo.settings.hparams import declared
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


def model_defaults(raw):
    """The declared defaults of the model_args of zoo config ``raw`` (every hyperparameter
    no run setting passes, in declaration order), ``{}`` for a plug-in without a
    declaration (its YAML's values are all there is)."""
    from infozoo.settings.hparams import spec_for
    spec = spec_for(raw.get("model"))
    return spec.zoo_defaults() if spec is not None else {}


def model_arg_specs(raw, name=None):
    """``{key: (type name, rule, help)}`` of a zoo config's model_args: every declared
    hyperparameter (``infozoo.settings.hparams``) of its model, a key of the YAML it does not
    declare being a ConfigError; a plug-in model without a declaration may give ``schema:``
    (``type``, bounds, choices) and ``help:`` in its YAML for each of its YAML's keys, else
    the type is that of the YAML value. A YAML value that contradicts its type or rule is a
    ConfigError (naming the file of zoo config ``name`` that sets the key)."""
    from infozoo.settings.hparams import spec_for

    def where(*keys):
        return f"zoo config {zoo_file_of(name, *keys)}" if name else "zoo config"
    spec = spec_for(raw.get("model"))
    args = raw.get("model_args", {})
    if spec is not None:
        extra = [k for k in ("help", "schema") if k in raw]
        if extra:
            raise ConfigError(f"{where(extra[0])} for model {raw.get('model')!r} has "
                              f"{' and '.join(extra)}: its hyperparameters' types, bounds and "
                              f"help are declared in infozoo/settings/hparams; remove them "
                              f"from the YAML")
        unknown = [k for k in args if k not in spec]
        if unknown:
            raise ConfigError(f"{where('model_args', unknown[0])}, model_args "
                              f"{', '.join(unknown)}: not a "
                              f"hyperparameter of model {raw.get('model')!r}; known: "
                              f"{', '.join(spec.names())}")
        out = {p.name: (p.type, p.rule, p.help) for p in spec
               if p.passed_by is None or p.name in args}
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
    """``[(key, default, help, rule, type name)]`` of the model_args that get CLI flags:
    every declared hyperparameter (a plug-in without a declaration: every scalar of
    its YAML) but those a run setting passes (``seed``); ``default`` is the value the zoo
    config gives before its ``datasets:`` sections. The flag's type is the declared type,
    never the accident of a YAML value."""
    from infozoo.settings.hparams import spec_for
    raw = load_zoo(name)
    specs = model_arg_specs(raw, name)
    values = _merge(model_defaults(raw), raw.get("model_args"))
    spec = spec_for(raw.get("model"))
    if spec is not None:
        return [(p.name, values[p.name], p.help, p.rule, p.type) for p in spec
                if p.passed_by is None and p.flag]
    return [(k, v, specs[k][2], specs[k][1], specs[k][0]) for k, v in values.items()
            if isinstance(v, (int, float, str, bool))]


def _check_value(section, key, value, typ, rule, nullable=False):
    """``value`` checked against type name ``typ`` and ``rule``
    (:func:`infozoo.settings.hparams.check_value`), as a ConfigError naming ``section.key``."""
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


def parse_list(text):
    """A list setting's flag value: ``"5,8"``, ``"[5, 8]"``, or ``""`` / ``"[]"`` for the
    empty list; the items are read as ``--set`` reads them (YAML, ``1e-3`` a number)."""
    text = text.strip()
    try:
        value = _numbers(yaml.safe_load(text if text.startswith("[") else f"[{text}]"))
    except yaml.YAMLError:
        raise ConfigError(f"cannot read {text!r} as a list: give items separated by commas, "
                          f"like 5,8 (or [5, 8]; an empty value for none)") from None
    if not isinstance(value, list):
        raise ConfigError(f"cannot read {text!r} as a list: give items separated by commas, "
                          f"like 5,8")
    return value


def _numbers(v):
    """YAML 1.1 reads ``1e-3`` as text; on the command line it means a number."""
    if isinstance(v, list):
        return [_numbers(i) for i in v]
    if isinstance(v, str) and _looks_numeric(v):
        return float(v)  # "nan"/"inf" become floats too, and _check_value refuses them
    return v


def resolve(name, overrides=None):
    """The :class:`~infozoo.settings.run_config.RunConfig` of zoo ``name`` with
    ``overrides`` (``{key or section.key: value}``): every declared setting, at its declared
    default unless the zoo YAML, its dataset's section or an override says otherwise."""
    overrides = dict(overrides or {})
    raw = load_zoo(name)
    unknown = set(raw) - {"model", "description", "data", "model_args", "train", "datasets",
                          "help", "schema"}
    if unknown:
        raise ConfigError(f"zoo config {zoo_file_of(name, sorted(unknown)[0])} has unknown "
                          f"top-level keys: {sorted(unknown)}")
    for section, decl in RUN_SECTIONS.items():
        bad = sorted(set(raw.get(section) or {}) - set(decl.names()))
        if bad:
            raise ConfigError(f"zoo config {zoo_file_of(name, section, bad[0])}: unknown key "
                              f"{section}.{bad[0]}; keys of {section}: "
                              f"{', '.join(decl.names())}")
    specs = model_arg_specs(raw, name)
    cfg = {"zoo": name, "model": raw.get("model", name),
           "data": _merge(DATA.defaults(), raw.get("data")),
           "model_args": _merge(model_defaults(raw), raw.get("model_args")),
           "train": _merge(TRAIN.defaults(), raw.get("train"))}
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
    for (section, key), value in located.items():
        cfg[section][key] = value
    d = cfg["data"]
    if d["train_size"] is not None and d["test_size"] is None and isinstance(d["train_size"], int):
        # the evaluation budget follows the run's scale unless --test-size says otherwise
        d["test_size"] = max(EVAL_MIN, d["train_size"])
    for key, value in cfg["model_args"].items():
        typ, rule, _ = specs.get(key, (None, {}, ""))
        cfg["model_args"][key] = _check_value("model_args", key, value, typ, rule)
    cfg = RunConfig.from_dict(cfg)  # every data and train value checked by its declaration
    if cfg.train.early_stop_patience and not cfg.data.val_size:
        raise ConfigError("train.early_stop_patience needs a validation split held out of the "
                          "training set: set data.val_size N (e.g. --set data.val_size=5000); "
                          "early stopping never looks at the test set")
    return cfg


def dump(cfg):
    """The text of ``config.yaml`` for RunConfig ``cfg``."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False, default_flow_style=None)


def save(cfg, path):
    atomic_write(path, dump(cfg))


def load(path):
    """The RunConfig of ``config.yaml`` file ``path`` (of this or an older release:
    :meth:`RunConfig.from_dict <infozoo.settings.run_config.RunConfig.from_dict>` fills the
    settings it lacks). YAML and OS errors as they are; a file that is not a run config is
    a ConfigError naming it."""
    with open(path) as f:
        raw = yaml.safe_load(f)
    if not isinstance(raw, dict) or not all(s in raw for s in ("model", *SECTIONS)):
        raise ConfigError(f"{path} is not an infozoo run config (model, data, model_args, "
                          f"train missing)")
    try:
        return RunConfig.from_dict(raw)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
