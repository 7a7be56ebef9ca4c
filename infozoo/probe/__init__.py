"""The information probe: how much information each layer of a model keeps or loses.

- :func:`mutual_information` ``(x, y, estimator="ksg", **options)``: Shannon MI in bits of
  two paired batches, through the estimators of :mod:`infozoo.probe.estimators` (``ksg``,
  ``gaussian``, ``flow``, ``infonce``, ``nwj``, ``smile``; ``renyi`` for the matrix
  functional), with intervals (``ci=0.95``); the probe's default per-layer figure,
  ``input-noise`` (``I(X; T_l)`` with the noise added once at the input), needs the model:
  ``probe(model, x, estimators=["input-noise"], sigma=2.0, ci=0.95)``;
- :func:`noisy_information` ``(t, sigma)``: ``I(X; T + sigma Z)`` of a layer ``T = f(X)``;
- :mod:`infozoo.probe.renyi`: the matrix-based Renyi alpha-entropy and its "information"
  (not Shannon; kept for comparison and for the entropy column);
- :mod:`infozoo.probe.probe`: :class:`Probe` / :func:`probe`, a ``tf.function`` under any
  ``tf.distribute`` strategy that walks ``model.representations(x)`` or the layers of a
  plain Keras model (:mod:`infozoo.probe.keras_models`), asked by one
  :class:`~infozoo.probe.settings.ProbeSettings` (or its fields as keywords);
- figures: :mod:`infozoo.viz.plots` (information plane, entropy-change bars);
- :func:`infozoo.probe.identification.identification` ``(model, x, sigma)``: a lower bound on
  every layer's ``I(X; T_l)`` under input noise from decoding which row a noisy input was
  (Fano's inequality; no density model);
- :mod:`infozoo.probe.callback`: :class:`ProbeCallback` for TensorBoard during training;
- :func:`run_probe`: what ``infozoo probe RUN_DIR`` does.

See ``docs/information.md``.
"""
from infozoo.probe.estimators import (Estimate, estimator_names, get_estimator,  # noqa: F401
                                      mutual_information, noisy_information)
from infozoo.probe.probe import Probe, assemble, format_table, probe  # noqa: F401
from infozoo.probe.settings import ProbeSettings  # noqa: F401
from infozoo.probe.renyi import (DEFAULT_ALPHA, entropy, gram, joint_entropy,  # noqa: F401
                                 kernel_width, matrix_entropy)


def __getattr__(name):  # keras callback and run_probe on first use
    if name == "ProbeCallback":
        from infozoo.probe.callback import ProbeCallback
        return ProbeCallback
    if name == "run_probe":
        from infozoo.probe.run import run_probe
        return run_probe
    raise AttributeError(name)
