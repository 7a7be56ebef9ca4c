"""Moved to :mod:`infozoo.settings.hparams`; this name stays one release for plug-ins that
``from infozoo.hparams import HParam, HParams`` (and ``from infozoo.hparams import pie``)."""
from infozoo.settings.hparams import (TYPES, HParam, HParams, check_value,  # noqa: F401
                                      classic, declared, glow, inn, pie, register, spec_for,
                                      stochastic)
