"""``Representation``: one entry of ``model.representations(x)``, what models (and ``Flow``)
hand to the information probe. No TensorFlow."""
import dataclasses
from collections.abc import Mapping
from typing import Any

_ALWAYS = ("name", "value", "bijective", "logdet")


@dataclasses.dataclass(frozen=True, eq=False)
class Representation(Mapping):
    """One representation ``T_l`` of a probe batch.

    ``name``; ``value`` ``[B, ...]``; ``bijective``: the step ``T_{l-1} -> T_l`` is a
    bijection; ``logdet``: its per-example ``log|det J_l|`` ``[B]``, or None; ``dropped``: the
    part ``[B, ...]`` of ``T_{l-1}`` the step throws away (INN zero-padding, PIE splits), or
    None; ``injective``: the step is an embedding, not a bijection (INN's ``[y, 0]``: the
    ``input-noise`` estimator carries the previous figure over).

    It reads as the dicts earlier releases used, too: ``r["name"]``, ``r.get("dropped")``,
    ``"dropped" in r`` (``dropped`` is present when not None, ``injective`` when true, the
    other four always); :meth:`of` turns such a dict (a plug-in model's) into a record."""

    name: str
    value: Any
    bijective: bool
    logdet: Any = None
    dropped: Any = None
    injective: bool = False

    @classmethod
    def of(cls, entry):
        """``entry`` as a ``Representation`` (a record or a mapping with its fields)."""
        if isinstance(entry, cls):
            return entry
        if not isinstance(entry, Mapping):
            raise ValueError(f"a representation is a Representation or a dict, got "
                             f"{type(entry).__name__}")
        missing = [k for k in ("name", "value", "bijective") if k not in entry]
        if missing:
            raise ValueError(f"representation {entry.get('name', '?')!r} has no "
                             f"{', '.join(map(repr, missing))}")
        return cls(**{f.name: entry[f.name] for f in dataclasses.fields(cls) if f.name in entry})

    def replace(self, **changes):
        """A copy with ``changes`` (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    # -- the mapping view --------------------------------------------------------------
    def _keys(self):
        return [*_ALWAYS, *(["dropped"] if self.dropped is not None else []),
                *(["injective"] if self.injective else [])]

    def __getitem__(self, key):
        if key in _ALWAYS or key in ("dropped", "injective"):
            return getattr(self, key)
        raise KeyError(key)

    def __contains__(self, key):
        return key in self._keys()

    def __iter__(self):
        return iter(self._keys())

    def __len__(self):
        return len(self._keys())

    __eq__ = object.__eq__      # tensors have no truth value: records compare by identity
    __hash__ = object.__hash__
