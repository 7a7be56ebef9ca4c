"""The information probe: how much information each layer of a zoo model keeps or loses.

- :mod:`infozoo.probe.renyi`: matrix-based Renyi alpha-entropy and mutual information;
- :mod:`infozoo.probe.probe`: :class:`Probe` / :func:`probe`, a ``tf.function`` under any
  ``tf.distribute`` strategy that walks ``model.representations(x)``;
- figures: :mod:`infozoo.plots` (information plane, entropy-change bars);
- :mod:`infozoo.probe.callback`: :class:`ProbeCallback` for TensorBoard during training;
- :func:`run_probe`: what ``infozoo probe RUN_DIR`` does.

See ``docs/information.md``.
"""
from infozoo.probe.probe import Probe, assemble, format_table, probe  # noqa: F401
from infozoo.probe.renyi import (DEFAULT_ALPHA, entropy, gram, joint_entropy,  # noqa: F401
                                 kernel_width, matrix_entropy, mutual_information)


def __getattr__(name):  # keras callback and run_probe on first use
    if name == "ProbeCallback":
        from infozoo.probe.callback import ProbeCallback
        return ProbeCallback
    if name == "run_probe":
        from infozoo.probe.run import run_probe
        return run_probe
    raise AttributeError(name)
