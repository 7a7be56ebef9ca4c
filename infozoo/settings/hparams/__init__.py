"""Typed settings: one declaration per model hyperparameter and per train or data setting.

Each model declares its hyperparameters once, as an :class:`HParams` of :class:`HParam`
(type, default, help text, bounds or choices), in a module of this package, as pythae's
per-model config classes do; the train and data settings of a run are declared the same
way in :mod:`infozoo.settings.run`. Everything else follows from that declaration:

- the model's ``__init__`` checks its arguments with :meth:`HParams.check` (a clear
  ``ValueError`` naming the hyperparameter, what was given and what is allowed) and keeps
  them in ``model.hp``; ``get_config`` returns ``model.hp``;
- the zoo config (``infozoo.settings.config``) starts from the declared defaults, and types
  and validates ``model_args``, ``train`` and ``data`` with them;
- every CLI flag of ``infozoo train MODEL`` takes its type, range, choices and help text
  from them.

A zoo YAML only says where a zoo entry differs from the declaration. No TensorFlow here:
the CLI and ``infozoo sweep`` resolve configs without importing it. A user's own model
registers its declaration with :func:`register` (or sets ``hparams`` on its class).
"""
import copy
import dataclasses
import importlib
import inspect
import math
import numbers
import pkgutil

TYPES = ("int", "float", "str", "bool", "list")
_WANT = {"bool": "true or false", "int": "an integer", "float": "a number", "str": "a string",
         "list": "a list like [1, 2]"}


def _ok_type(value, typ):
    if typ == "bool":
        return isinstance(value, bool)
    if typ == "int":
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if typ == "float":
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if typ == "str":
        return isinstance(value, str)
    if typ == "list":
        return isinstance(value, (list, tuple))
    return True


def check_value(where, value, typ, rule, nullable=False, error=ValueError):
    """``value`` checked against type name ``typ`` (None: any) and ``rule`` (``min``,
    ``max``, ``exclusive_min``, ``choices``, ``items``: the rule of a list's items,
    ``min_items``, ``increasing``: a list's items strictly increasing).
    Non-finite numbers and unexpected nulls are refused. Returns the value in its
    canonical form (float for float, int for int, list for list); raises ``error``."""
    if value is None:
        if typ is None or nullable:
            return None
        raise error(f"bad value for {where}: it cannot be empty (null); expected {_WANT[typ]}")
    if typ is not None and not _ok_type(value, typ):
        raise error(f"bad value for {where}: {value!r}; expected {_WANT[typ]}")
    if typ == "float":
        value = float(value)
    elif typ == "int":
        value = int(value)
    elif typ == "list":
        value = list(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise error(f"bad value for {where}: {value!r}; expected a finite number")
    if "choices" in rule and value not in rule["choices"]:
        raise error(f"bad value for {where}: {value!r}; allowed: "
                    f"{', '.join(map(str, rule['choices']))}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        lo, hi = rule.get("min"), rule.get("max")
        if lo is not None and (value < lo or (rule.get("exclusive_min") and value <= lo)):
            op = ">" if rule.get("exclusive_min") else ">="
            raise error(f"bad value for {where}: {value!r}; must be {op} {lo}")
        if hi is not None and value > hi:
            raise error(f"bad value for {where}: {value!r}; must be <= {hi}")
    if isinstance(value, list):
        item_rule = dict(rule.get("items", {}))
        item_type = item_rule.pop("type", None)
        out = []
        for i, item in enumerate(value):
            if isinstance(item, float) and not math.isfinite(item):
                raise error(f"bad value for {where}[{i}]: {item!r}; expected a finite number")
            if item_type is not None or item_rule:
                item = check_value(f"{where}[{i}]", item, item_type, item_rule, error=error)
            out.append(item)
        if rule.get("increasing") and any(b <= a for a, b in zip(out, out[1:])):
            raise error(f"bad value for {where}: {value!r}; must be strictly increasing "
                        f"(e.g. {sorted(set(out))!r})")
        if rule.get("min_items") and len(out) < rule["min_items"]:
            raise error(f"bad value for {where}: {value!r}; needs at least "
                        f"{rule['min_items']} item(s)")
        value = out
    return value


@dataclasses.dataclass(frozen=True)
class HParam:
    """One hyperparameter or setting: ``name``, ``type`` (one of :data:`TYPES`),
    ``default``, ``help`` and the rule its values obey (``min``/``max``/``exclusive_min``
    for numbers, ``choices``, ``items`` for the items of a list, ``min_items``,
    ``increasing``). ``nullable``: None is a valid value.

    For the CLI: ``flag`` (default True) gives the setting its ``--name`` flag of
    ``infozoo train`` (a list's takes comma-separated items) (every setting is reachable by ``--set``); ``directory``: the flag
    takes a directory (not a file). ``set_by``: the run setting (``"train.seed"``) that
    passes this hyperparameter to the model; it has no zoo value and no flag of its own."""
    name: str
    type: str
    default: object
    help: str = ""
    min: object = None
    max: object = None
    exclusive_min: bool = False
    choices: tuple = None
    items: dict = None
    min_items: int = None
    increasing: bool = False
    nullable: bool = False
    flag: bool = True
    directory: bool = False
    set_by: str = None

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"HParam {self.name}: type {self.type!r}, allowed: "
                             f"{', '.join(TYPES)}")
        self.check(self.default, f"the default of {self.name}")

    @property
    def rule(self):
        """The value rule as a dict (the form ``check_value`` and zoo YAML schemas use)."""
        out = {k: getattr(self, k) for k in ("min", "max", "items", "min_items")
               if getattr(self, k) is not None}
        if self.exclusive_min:
            out["exclusive_min"] = True
        if self.increasing:
            out["increasing"] = True
        if self.choices is not None:
            out["choices"] = list(self.choices)
        return out

    def check(self, value, where=None, error=ValueError):
        return check_value(where or self.name, value, self.type, self.rule,
                           nullable=self.nullable, error=error)

    @property
    def passed_by(self):
        """The run setting that passes this model hyperparameter (``set_by``; a model's
        ``seed`` is ``train.seed`` unless declared otherwise), or None."""
        return self.set_by or ("train.seed" if self.name == "seed" else None)


class HParams:
    """An ordered, immutable set of :class:`HParam`; :meth:`extend` derives a model's set
    from its base's."""

    def __init__(self, *params):
        self._p = {}
        for p in params:
            self._p[p.name] = p

    def __iter__(self):
        return iter(self._p.values())

    def __contains__(self, name):
        return name in self._p

    def __getitem__(self, name):
        return self._p[name]

    def __len__(self):
        return len(self._p)

    def names(self):
        return list(self._p)

    def extend(self, *params, drop=()):
        """A new set: this one without ``drop``, with ``params`` added or replacing
        those of the same name (in place)."""
        out = {k: v for k, v in self._p.items() if k not in drop}
        out.update({p.name: p for p in params})
        return HParams(*out.values())

    def with_defaults(self, **defaults):
        """A new set whose named hyperparameters have other defaults."""
        return self.extend(*[dataclasses.replace(self._p[k], default=v)
                             for k, v in defaults.items()])

    def defaults(self):
        return {p.name: p.default for p in self}

    def zoo_defaults(self):
        """The defaults a resolved config's ``model_args`` hold: those of every
        hyperparameter that no run setting passes (:attr:`HParam.passed_by`), copied."""
        return {p.name: copy.deepcopy(p.default) for p in self if p.passed_by is None}

    def check(self, values, owner="the model"):
        """``values`` (a subset of the names) checked, in canonical form, with the defaults
        of the others filled in; an unknown name or a bad value is a ValueError."""
        unknown = sorted(set(values) - set(self._p))
        if unknown:
            raise ValueError(f"{owner}: unknown hyperparameter(s) {', '.join(unknown)}; "
                             f"known: {', '.join(self._p)}")
        return {p.name: p.check(values.get(p.name, p.default), f"{owner} {p.name}")
                for p in self}

    def signature(self, leading=()):
        """An ``inspect.Signature`` ``(self, *leading, <each hyperparameter=default>,
        **kwargs)`` for ``help()`` and IDEs."""
        P = inspect.Parameter
        params = [P("self", P.POSITIONAL_OR_KEYWORD)] + list(leading)
        params += [P(p.name, P.KEYWORD_ONLY, default=p.default) for p in self]
        params.append(P("kwargs", P.VAR_KEYWORD))
        return inspect.Signature(params)


_SPECS = {}
_loaded = False


def register(name, hparams):
    """Declares the hyperparameters of the model registered as ``name``."""
    if name in _SPECS and _SPECS[name] is not hparams:
        raise ValueError(f"hyperparameters of model {name!r} are declared twice")
    _SPECS[name] = hparams
    return hparams


def _load_declarations():
    global _loaded
    if not _loaded:
        for m in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{m.name}")
        _loaded = True


def declared(name):
    """True if model ``name``'s hyperparameters are declared in this package (no TensorFlow)."""
    _load_declarations()
    return name in _SPECS


def spec_for(name):
    """The :class:`HParams` of model ``name``: from this package (no TensorFlow), else
    from the registered model class's ``hparams`` (a plug-in), else None."""
    _load_declarations()
    if name in _SPECS:
        return _SPECS[name]
    from infozoo.settings.registry import get_model_class
    try:
        cls = get_model_class(name)
    except KeyError:
        return None
    spec = getattr(cls, "hparams", None)
    return spec if spec else None
