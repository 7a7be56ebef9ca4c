"""``ProbeCallback``: the information probe every N epochs, logged to TensorBoard."""
import json
import os

import keras
import numpy as np


class ProbeCallback(keras.callbacks.Callback):
    """Runs the probe on a fixed batch ``x_probe`` every ``every`` epochs.

    TensorBoard (``log_dir``): scalars ``probe/<quantity>/<ii>_<layer>`` for ``S``,
    ``I_XT``, ``I_TXhat`` and, where defined, ``dh_bits`` (step = epoch), the
    summaries ``probe/I_X_Xhat`` and ``probe/S_X``, and both figures of
    :mod:`infozoo.viz.plots` as images, so the information plane can be watched
    evolving. ``estimators`` (default ``("input-noise",)``, ``sigma`` its input noise, default
    2.0) adds scalars ``probe/<estimator>/I_XT/<ii>_<layer>`` (and ``I_TXhat`` where defined)
    for each Shannon estimator asked and the figure of
    :func:`infozoo.viz.plots.layer_information`; ``renyi`` adds its figures. With
    ``run_dir``, every result is also appended to
    ``run_dir/probe_history.jsonl``. The probe runs under the strategy current when
    the callback fires (the training strategy), with ``x_probe`` trimmed to a multiple
    of its replicas.
    """

    def __init__(self, x_probe, every=1, log_dir=None, run_dir=None, alpha=1.01,
                 gamma="median", estimators=("input-noise",), sigma=None):
        super().__init__()
        from infozoo.probe.settings import ProbeSettings
        self.settings = ProbeSettings(estimators=tuple(estimators), sigma=sigma, alpha=alpha,
                                      gamma=gamma)
        self.x = np.asarray(x_probe, np.float32)
        self.every, self.log_dir, self.run_dir = int(every), log_dir, run_dir
        self._probe, self._writer = None, None
        self.history = []

    def _get_probe(self):
        import tensorflow as tf

        from infozoo.probe.probe import Probe
        if self._probe is None or self._probe.model is not self.model:
            self._probe = Probe(self.model, strategy=tf.distribute.get_strategy(),
                                settings=self.settings)
        return self._probe

    def on_epoch_end(self, epoch, logs=None):
        if not self.every or (epoch + 1) % self.every:
            return
        probe = self._get_probe()
        n = len(self.x) - len(self.x) % probe.replicas
        result = probe(self.x[:n])
        result["epoch"] = epoch + 1
        self.history.append(result)
        self.write(result, epoch)   # TensorBoard step: the 0-based epoch, as Keras' scalars

    def write(self, result, step):
        import tensorflow as tf

        from infozoo.viz import plots
        if self.run_dir:
            with open(os.path.join(self.run_dir, "probe_history.jsonl"), "a") as f:
                f.write(json.dumps(result) + "\n")
        if not self.log_dir:
            return
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default():
            for r in result["layers"]:
                tag = f"{r['index']:02d}_{r['name']}"
                for key in ("S", "I_XT", "I_TXhat", "dh_bits"):
                    if r[key] is not None:
                        tf.summary.scalar(f"probe/{key}/{tag}", r[key], step=step)
                for name, e in r.get("estimates", {}).items():
                    for key, v in e.items():
                        if v is not None:
                            tf.summary.scalar(f"probe/{name}/{key}/{tag}", v["value"],
                                              step=step)
            if result["S_X"] is not None:
                tf.summary.scalar("probe/I_X_Xhat", result["I_X_Xhat"], step=step)
                tf.summary.scalar("probe/S_X", result["S_X"], step=step)
        plots.write_plots(result, None, "probe", f"epoch {step}", writer=self._writer,
                          step=step)
        self._writer.flush()
