"""Training callbacks: atomic resumable checkpoints, NaN stop, image grids, throughput,
a CSV log without diverged rows, a progress bar that counts the run's epochs."""
import math
import os
import time

import keras
import numpy as np

from infozoo.images import reconstruction_rows, write_grid

from infozoo import runs

#: checkpoints kept (the newest is the one resumed from; older ones are a safety margin)
KEEP = 3


class RunCheckpoint(keras.callbacks.Callback):
    """Saves weights and optimizer state every ``every`` steps and at each epoch end.

    A checkpoint is written only while the loss and every weight and optimizer
    variable are finite. Weights go to a new file first, then ``state.json`` is
    replaced atomically, then all but the newest ``KEEP`` files are removed: a
    kill at any moment leaves a consistent checkpoint.
    """

    def __init__(self, run_dir, every, steps_per_epoch, epoch=0, step=0, keep=KEEP):
        super().__init__()
        self.run_dir = run_dir
        self.dir = os.path.join(run_dir, runs.CKPT_DIR)
        os.makedirs(self.dir, exist_ok=True)
        self.every, self.steps_per_epoch = int(every), int(steps_per_epoch)
        self.epoch, self.step = int(epoch), int(step)
        self.keep = int(keep)
        self.healthy = True

    def on_epoch_begin(self, epoch, logs=None):
        if epoch != self.epoch:
            self.epoch, self.step = epoch, 0

    def on_train_batch_end(self, batch, logs=None):
        if logs and not runs.finite(logs.get("loss", 0.0)):
            self.healthy = False
            return
        self.step += 1
        if self.step % self.every == 0 and self.step < self.steps_per_epoch:
            self.save(self.epoch, self.step)

    def on_epoch_end(self, epoch, logs=None):
        if self.healthy and not (logs and not runs.finite(logs.get("loss", 0.0))):
            self.save(epoch + 1, 0)
            self.epoch, self.step = epoch + 1, 0

    def save(self, epoch, step):
        if not self.healthy:
            return
        if not runs.all_finite(self.model.weights + list(self.model.optimizer.variables)):
            self.healthy = False  # the loss was finite, but a weight or moment is not
            return
        gstep = epoch * self.steps_per_epoch + step
        name = f"ckpt-{gstep:09d}.weights.h5"
        self.model.save_weights(os.path.join(self.dir, name))
        old = runs.checkpoint_state(self.run_dir) if os.path.isfile(
            os.path.join(self.dir, "state.json")) else None
        older = ([{k: old[k] for k in ("epoch", "step", "global_step", "weights")}]
                 + old.get("older", []) if old and old["weights"] != name else [])
        older = older[:self.keep - 1]
        runs.write_checkpoint_state(self.run_dir, {
            "epoch": epoch, "step": step, "global_step": gstep, "weights": name,
            "older": older})
        keep = {name} | {o["weights"] for o in older}
        for f in os.listdir(self.dir):
            if f.startswith("ckpt-") and f.endswith(".weights.h5") and f not in keep:
                os.remove(os.path.join(self.dir, f))


class NaNStop(keras.callbacks.Callback):
    """Stops training at the first non-finite loss and remembers where."""

    def __init__(self):
        super().__init__()
        self.where = None
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)) and self.where is None:
            self.where = (self.epoch, batch)
            self.model.stop_training = True


class ImageGrids(keras.callbacks.Callback):
    """Input / reconstruction / difference grids (and samples) each ``every`` epochs."""

    def __init__(self, run_dir, x_vis, writer, every=1):
        super().__init__()
        self.run_dir, self.x_vis, self.writer, self.every = run_dir, x_vis, writer, int(every)

    def on_epoch_end(self, epoch, logs=None):
        if logs and not runs.finite(logs.get("loss", 0.0)):
            return  # a diverged model's pictures must not replace the good ones
        if self.every and (epoch + 1) % self.every == 0:
            write_images(self.model, self.x_vis, self.run_dir, self.writer, epoch + 1)


def write_images(model, x_vis, run_dir, writer=None, step=0):
    x_hat = np.asarray(model.reconstruct(x_vis))
    paths = [write_grid(run_dir, "reconstructions", reconstruction_rows(x_vis, x_hat),
                        step, writer)]
    if model.can_sample:
        s = np.asarray(model.sample(2 * len(x_vis), 1.0, seed=next(model.sample_seeds())))
        paths.append(write_grid(run_dir, "samples", [s[:len(x_vis)], s[len(x_vis):]],
                                step, writer))
    return paths


class Throughput(keras.callbacks.Callback):
    """Images per second over training batches, the first (tracing) batch excluded."""

    def __init__(self, batch_size):
        super().__init__()
        self.batch_size, self.images, self.seconds = batch_size, 0, 0.0
        self._t = None
        self._first = True

    def on_train_batch_begin(self, batch, logs=None):
        self._t = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self._first:
            self._first = False
            return
        self.seconds += time.perf_counter() - self._t
        self.images += self.batch_size

    @property
    def images_per_second(self):
        return self.images / self.seconds if self.seconds else float("nan")


class FiniteCSVLogger(keras.callbacks.CSVLogger):
    """``history.csv`` rows for finished epochs with a finite loss only."""

    def on_epoch_end(self, epoch, logs=None):
        if logs and not runs.finite(logs.get("loss", 0.0)):
            return
        super().on_epoch_end(epoch, logs)


class RunProgbar(keras.callbacks.ProgbarLogger):
    """Keras' progress bar, counting epochs against the run's total ("Epoch 3/4")
    when training resumes in the middle of an epoch (a separate ``fit`` call)."""

    def __init__(self, total_epochs):
        super().__init__()
        self.total_epochs = int(total_epochs)

    def set_params(self, params):
        super().set_params(params)
        self.epochs = self.total_epochs
