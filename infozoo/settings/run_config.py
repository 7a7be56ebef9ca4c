"""``RunConfig``: the settings of one run, as :func:`infozoo.settings.config.resolve` makes
them and a run directory's ``config.yaml`` holds them. No TensorFlow here.

A frozen record: ``zoo`` and ``model`` (names), ``data`` and ``train`` (a
:class:`DataSettings` and a :class:`TrainSettings`, frozen dataclasses generated from the
declarations ``DATA`` and ``TRAIN`` of :mod:`infozoo.settings.run`: one attribute per
declared setting, ``cfg.train.lr``, each value checked by its declaration when the record is
made), ``model_args`` (a read-only mapping of the model's hyperparameters, checked against
the model's declaration when it has one) and ``input_shape`` (a tuple, once the data is
loaded). Lists read as tuples, so nothing in a record can change; :meth:`RunConfig.to_dict`
gives the plain dict of ``config.yaml`` (lists, key order), :meth:`RunConfig.from_dict`
reads one back. A change is a new record, checked again: ``cfg.with_train(precision=...)``,
``cfg.with_data(dataset=...)``, ``cfg.replace(input_shape=...)``. Bad values and unknown
keys are a :class:`ConfigError` (also :func:`infozoo.settings.config.resolve`'s error) naming
the key and its rule.
"""
import copy
import dataclasses
import warnings
from collections.abc import Mapping
from typing import Optional, Tuple

from infozoo.settings.hparams import spec_for
from infozoo.settings.run import DATA, TRAIN


class ConfigError(ValueError):
    """A bad zoo name, key or value; the message says what is allowed."""


def _freeze(value):
    """Lists (and tuples) as tuples, mappings as read-only mappings, all the way down."""
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, Mapping):
        return ReadOnlyMapping(value)
    return value


def _thaw(value):
    """The plain form of a frozen value: lists and dicts, as YAML and JSON hold them."""
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    return value


class ReadOnlyMapping(Mapping):
    """A mapping that cannot be changed (its values frozen: lists read as tuples)."""

    __slots__ = ("_d",)

    def __init__(self, items=()):
        object.__setattr__(self, "_d", {k: _freeze(v) for k, v in dict(items).items()})

    def __getitem__(self, key):
        return self._d[key]

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} cannot be changed")

    def __repr__(self):
        return f"{type(self).__name__}({self._d!r})"

    def __reduce__(self):
        return type(self), (_thaw(self),)


_PY_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": Tuple}


def _section_class(section, decl, doc):
    """A frozen dataclass with one field per setting of ``decl`` (its declared default the
    field's default), checking each value by its declaration (a :class:`ConfigError`
    naming ``section.key`` and the rule)."""
    names = decl.names()

    def __post_init__(self):
        for p in decl:
            value = p.check(_thaw(getattr(self, p.name)), f"{section}.{p.name}",
                            error=ConfigError)
            object.__setattr__(self, p.name, _freeze(value))

    def __getattr__(self, key):  # only reached for a name that is not a field
        raise AttributeError(f"{section} has no setting {key!r}; settings of {section}: "
                             f"{', '.join(names)}")

    def replace(self, **changes):
        """A copy with ``changes``, each checked by its declaration."""
        unknown = [k for k in changes if k not in names]
        if unknown:
            raise ConfigError(f"unknown config key {section}.{unknown[0]}; keys of "
                              f"{section}: {', '.join(names)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        """``{key: value}`` in declaration order, lists as lists (as ``config.yaml``)."""
        return {k: _thaw(getattr(self, k)) for k in names}

    fields = []
    for p in decl:
        typ = _PY_TYPES[p.type]
        fields.append((p.name, Optional[typ] if p.nullable else typ,
                       dataclasses.field(default=_freeze(p.default))))
    cls = dataclasses.make_dataclass(
        f"{section.title()}Settings", fields, frozen=True,
        namespace={"__post_init__": __post_init__, "__getattr__": __getattr__,
                   "replace": replace, "to_dict": to_dict, "__doc__": doc})
    cls.__module__ = __name__
    return cls


DataSettings = _section_class("data", DATA, "The ``data`` section of a run config: one "
                              "attribute per setting of ``infozoo.settings.run.DATA``.")
TrainSettings = _section_class("train", TRAIN, "The ``train`` section of a run config: one "
                               "attribute per setting of ``infozoo.settings.run.TRAIN``.")
#: the class of each section of a run config declared in ``infozoo.settings.run``
SECTION_CLASSES = {"data": DataSettings, "train": TrainSettings}
#: the keys of a run config, in the order ``config.yaml`` holds them
KEYS = ("zoo", "model", "data", "model_args", "train", "input_shape")


def _section(section, values):
    """``values`` (a mapping or the section's record) as the record of ``section``."""
    cls = SECTION_CLASSES[section]
    if isinstance(values, cls):
        return values
    if not isinstance(values, Mapping):
        raise ConfigError(f"config section {section} must be a mapping of keys, not "
                          f"{type(values).__name__}")
    unknown = [k for k in values if k not in cls.__dataclass_fields__]
    if unknown:
        raise ConfigError(f"unknown config key {section}.{unknown[0]}; keys of {section}: "
                          f"{', '.join(cls.__dataclass_fields__)}")
    return cls(**values)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The settings of one run (see the module docstring). ``filled`` names the settings
    the dict :meth:`from_dict` read did not hold (a ``config.yaml`` of an older release),
    which it set at their declared defaults: what the run used."""

    zoo: str
    model: str
    data: DataSettings
    model_args: Mapping
    train: TrainSettings
    input_shape: Optional[Tuple[int, ...]] = None
    filled: Tuple[str, ...] = dataclasses.field(default=(), compare=False, repr=False)

    def __post_init__(self):
        for key in ("zoo", "model"):
            if not isinstance(getattr(self, key), str):
                raise ConfigError(f"bad value for {key}: {getattr(self, key)!r}; expected a "
                                  f"name (text)")
        for section in SECTION_CLASSES:
            object.__setattr__(self, section, _section(section, getattr(self, section)))
        if not isinstance(self.model_args, Mapping):
            raise ConfigError(f"config section model_args must be a mapping of keys, not "
                              f"{type(self.model_args).__name__}")
        args = dict(self.model_args)
        spec = spec_for(self.model)
        if spec is not None:  # a model with declared hyperparameters: each value checked
            unknown = [k for k in args if k not in spec]
            if unknown:
                raise ConfigError(f"model_args {', '.join(unknown)}: not a hyperparameter of "
                                  f"model {self.model!r}; known: {', '.join(spec.names())}")
            args = {k: spec[k].check(_thaw(v), f"model_args.{k}", error=ConfigError)
                    for k, v in args.items()}
        object.__setattr__(self, "model_args", ReadOnlyMapping(args))
        if self.input_shape is not None:
            shape = self.input_shape
            if (isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__")
                    or not shape or not all(isinstance(s, int) and not isinstance(s, bool)
                                            and s >= 1 for s in shape)):
                raise ConfigError(f"bad value for input_shape: {shape!r}; expected a list of "
                                  f"positive integers (e.g. [28, 28, 1])")
            object.__setattr__(self, "input_shape", tuple(int(s) for s in shape))
        object.__setattr__(self, "filled", tuple(self.filled))

    # -- the dict of config.yaml ------------------------------------------------------------
    @classmethod
    def from_dict(cls, d):
        """The record of config dict ``d`` (a resolved config, a ``config.yaml`` of this or
        an older release). A declared setting ``d`` lacks (a data or train setting, a
        hyperparameter of a model with a declaration) is set at its declared default and
        named in ``filled``; an unknown key is a :class:`ConfigError`."""
        if not isinstance(d, Mapping):
            raise ConfigError(f"a run config is a mapping of keys, not {type(d).__name__}")
        unknown = [k for k in d if k not in KEYS]
        missing = [k for k in KEYS[:5] if k not in d]
        if unknown or missing:
            what = (f"unknown key(s) {', '.join(map(str, unknown))}" if unknown
                    else f"no {', '.join(missing)}")
            raise ConfigError(f"not a run config: {what}; a run config has "
                              f"{', '.join(KEYS)} (input_shape optional)")
        sections, filled = {}, []
        for section, values in (("data", d["data"]), ("train", d["train"]),
                                ("model_args", d["model_args"])):
            if not isinstance(values, Mapping):
                raise ConfigError(f"config section {section} must be a mapping of keys, not "
                                  f"{type(values).__name__}")
            values = copy.deepcopy(dict(values))
            if section == "model_args":
                spec = spec_for(d["model"]) if isinstance(d["model"], str) else None
                defaults = spec.zoo_defaults() if spec is not None else {}
            else:
                defaults = SECTION_CLASSES[section]().to_dict()
            for k, v in defaults.items():
                if k not in values:
                    values[k] = v
                    filled.append(f"{section}.{k}")
            sections[section] = values
        return cls(zoo=d["zoo"], model=d["model"], input_shape=d.get("input_shape"),
                   filled=tuple(filled), **sections)

    def to_dict(self):
        """The plain dict (``config.yaml``'s keys in its order, lists as lists); without
        ``input_shape`` while it is None."""
        out = {"zoo": self.zoo, "model": self.model, "data": self.data.to_dict(),
               "model_args": _thaw(self.model_args), "train": self.train.to_dict()}
        if self.input_shape is not None:
            out["input_shape"] = list(self.input_shape)
        return out

    # -- changes: new records --------------------------------------------------------------
    def replace(self, **changes):
        """A copy with ``changes`` (``zoo``, ``model``, ``data``, ``model_args``, ``train``,
        ``input_shape``), checked as a new record is."""
        unknown = [k for k in changes if k not in KEYS]
        if unknown:
            raise ConfigError(f"unknown run config key {unknown[0]!r}; keys: {', '.join(KEYS)}")
        return dataclasses.replace(self, **changes)

    def with_data(self, **changes):
        """A copy whose data settings have ``changes``, each checked by its declaration."""
        return self.replace(data=self.data.replace(**changes))

    def with_train(self, **changes):
        """A copy whose train settings have ``changes``, each checked by its declaration."""
        return self.replace(train=self.train.replace(**changes))

    # -- the dict of earlier releases, for one release ---------------------------------------
    __iter__ = None  # not a mapping: list(cfg) and "x in cfg" are TypeErrors

    def __getitem__(self, key):
        """``cfg["train"]`` as a plain dict: deprecated, for code written against the dicts
        of earlier releases (``infozoo.config_for``); read ``cfg.train.lr``, or
        ``cfg.to_dict()``. Removed in the next release."""
        warnings.warn(f"RunConfig[{key!r}] is deprecated and goes in the next release: read "
                      f"the attribute (cfg.train.lr, cfg.model_args[...]) or cfg.to_dict()",
                      DeprecationWarning, stacklevel=2)
        return self.to_dict()[key]
