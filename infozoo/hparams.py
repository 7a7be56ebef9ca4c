"""Moved to :mod:`infozoo.settings.hparams`; this name stays one release for plug-ins that
``from infozoo.hparams import HParam, HParams``."""
from infozoo.settings.hparams import (TYPES, HParam, HParams, check_value,  # noqa: F401
                                      declared, register, spec_for)
