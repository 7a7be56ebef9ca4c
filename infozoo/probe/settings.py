"""``ProbeSettings``: what the information probe is asked, built once (by the CLI, the
training callback or a caller's keywords) and handed to ``Probe``, ``run_probe`` and
``assemble`` instead of their re-listing every option."""
import dataclasses
from typing import Any, Mapping, Optional, Tuple, Union

DEFAULT_ALPHA = 1.01


@dataclasses.dataclass(frozen=True)
class ProbeSettings:
    """The probe's settings (see :class:`infozoo.probe.probe.Probe` for each one's meaning).

    ``estimators``: names of :mod:`infozoo.probe.estimators` (a comma-separated string or a
    sequence); ``sigma``: the noise scale of ``noisy`` (layer units) and ``input-noise``
    (input units); ``ci``/``n_boot``: interval level and bootstrap resamples; ``options``:
    ``{estimator: {option: value}}``; ``alpha``, ``gamma``, ``factor``: the Rényi order and
    width rule (:mod:`infozoo.probe.renyi`); ``dropped_entropy``: None, ``"gaussian"``,
    ``"flow"`` or a dict of :func:`infozoo.probe.padding.dropped_entropy` options.

    ``Probe`` checks the values and keeps the resolved settings as ``probe.settings``
    (estimator names parsed, ``sigma`` copied into the options of the estimators that read
    it, ``dropped_entropy`` as a dict of options); the result's ``alpha``, ``gamma``,
    ``factor`` and ``ci`` are those."""

    estimators: Union[str, Tuple[str, ...]] = ("input-noise",)
    sigma: Optional[float] = None
    ci: Optional[float] = None
    n_boot: Optional[int] = None
    options: Optional[Mapping[str, Mapping[str, Any]]] = None
    alpha: float = DEFAULT_ALPHA
    gamma: Union[str, float] = "median"
    factor: float = 1.0
    dropped_entropy: Union[None, str, Mapping[str, Any]] = None

    def __post_init__(self):
        if not isinstance(self.estimators, str):
            object.__setattr__(self, "estimators", tuple(self.estimators))

    @classmethod
    def of(cls, settings=None, **changes):
        """``settings`` (default ``ProbeSettings()``) with ``changes``; an unknown name is a
        TypeError naming it, as a keyword argument would be."""
        base = cls() if settings is None else settings
        if not isinstance(base, cls):
            raise ValueError(f"settings must be a ProbeSettings, got {type(base).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise TypeError(f"unknown probe setting(s) {', '.join(map(repr, unknown))}; the "
                            f"settings are {', '.join(sorted(known))}")
        return dataclasses.replace(base, **changes) if changes else base

    def replace(self, **changes):
        """A copy with ``changes`` (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)
