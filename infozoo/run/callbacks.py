"""Training callbacks: atomic resumable checkpoints, NaN stop, image grids, throughput,
a CSV log without diverged rows, a progress bar that counts the run's epochs, resumable
early stopping on a validation split."""
import json
import math
import os
import time

import keras
import numpy as np

from infozoo.viz.images import reconstruction_rows, write_grid

from infozoo.run import rundir as runs
from infozoo.util.io import atomic_write


def exploding(loss, best, first):
    """True if a finite batch ``loss`` is far above the run's best (ten times the loss scale
    past it): the weights that produced it are finite but ruined (e.g. one Adam step at lr
    1e3 moves every weight to +-1000)."""
    if not finite(loss):
        return True
    if best is None or not finite(best):
        return False
    scale = max(abs(best), abs(first) if finite(first) else 0.0, 1e-6)
    return float(loss) > float(best) + 10.0 * scale


def all_finite(variables):
    """True if every value of every variable is finite (weights and optimizer state)."""
    import numpy as np
    for v in variables:
        a = np.asarray(v)
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            return False
    return True


def finite(x):
    """True if ``x`` is a finite number (False for None, strings, NaN, inf)."""
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


#: checkpoints kept (the newest is the one resumed from; older ones are a safety margin)
KEEP = 3


class RunCheckpoint(keras.callbacks.Callback):
    """Saves weights and optimizer state every ``every`` steps and at each epoch end.

    A checkpoint is written only while the loss and every weight and optimizer
    variable are finite. Weights go to a new file first, then ``state.json`` is
    replaced atomically, then all but the newest ``KEEP`` files are removed: a
    kill at any moment leaves a consistent checkpoint.

    A checkpoint is *confirmed* good by the next batch: its loss (computed with the saved
    weights) must be finite and not exploding (``exploding``: far above the run's best
    batch loss). After a NaN stop the run resumes from the newest confirmed checkpoint, so
    finite but ruined weights (one Adam step at lr 1e3) are never kept as "good".
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
        state = runs.checkpoint_state(run_dir) if os.path.isfile(
            os.path.join(self.dir, "state.json")) else None
        #: the run's lowest and first batch losses (carried over resumes in state.json)
        self.best = state.best_loss if state is not None else None
        self.first = state.first_loss if state is not None else None
        self.pending = None  # the newest checkpoint's file, until the next batch confirms it
        self._mean = None

    def on_epoch_begin(self, epoch, logs=None):
        self._mean = None  # Keras' loss tracker restarts its running mean each epoch
        if epoch != self.epoch:
            self.epoch, self.step = epoch, 0

    def on_train_batch_end(self, batch, logs=None):
        mean = (logs or {}).get("loss", 0.0)
        if logs and not finite(mean):
            self.healthy = False
            return
        mean = float(mean)
        loss = mean if self._mean is None else (batch + 1) * mean - batch * self._mean
        self._mean = mean
        bad = exploding(loss, self.best, self.first)
        if self.pending is not None:
            if not bad:
                self._confirm(self.pending)
            self.pending = None
        if not bad:
            self.first = loss if self.first is None else self.first
            self.best = loss if self.best is None else min(self.best, loss)
        self.step += 1
        if self.step % self.every == 0 and self.step < self.steps_per_epoch:
            self.save(self.epoch, self.step)

    def on_epoch_end(self, epoch, logs=None):
        if self.healthy and not (logs and not finite(logs.get("loss", 0.0))):
            self.save(epoch + 1, 0)
            self.epoch, self.step = epoch + 1, 0

    def _confirm(self, name):
        state = runs.checkpoint_state(self.run_dir)
        if state is not None and state.weights == name:
            runs.write_checkpoint_state(self.run_dir, state.updated(
                confirmed=True, best_loss=self.best, first_loss=self.first))

    def save(self, epoch, step):
        if not self.healthy:
            return
        if not all_finite(self.model.weights + list(self.model.optimizer.variables)):
            self.healthy = False  # the loss was finite, but a weight or moment is not
            return
        gstep = epoch * self.steps_per_epoch + step
        name = f"ckpt-{gstep:09d}.weights.h5"
        self.model.save_weights(os.path.join(self.dir, name))
        old = runs.checkpoint_state(self.run_dir) if os.path.isfile(
            os.path.join(self.dir, "state.json")) else None
        fields = ("epoch", "step", "global_step", "weights", "confirmed")
        older = ([{k: old.data[k] for k in fields if k in old.data}]
                 + [{k: o[k] for k in fields if k in o} for o in old.data.get("older", [])]
                 if old is not None and old.weights != name else [])
        older = older[:self.keep - 1]
        runs.write_checkpoint_state(self.run_dir, {
            "epoch": epoch, "step": step, "global_step": gstep, "weights": name,
            "confirmed": False, "best_loss": self.best, "first_loss": self.first,
            "older": older})
        self.pending = name
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
        if logs and not finite(logs.get("loss", 0.0)):
            return  # a diverged model's pictures must not replace the good ones
        if self.every and (epoch + 1) % self.every == 0:
            # TensorBoard step = the 0-based epoch index, as Keras' epoch_* scalars
            write_images(self.model, self.x_vis, self.run_dir, self.writer, epoch)


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
        if logs and not finite(logs.get("loss", 0.0)):
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


class EarlyStop(keras.callbacks.Callback):
    """Stops when ``val_loss`` (on the validation split held out of the training set, never
    the test set) has not improved by more than ``min_delta`` for ``patience`` epochs.

    Resumable exactly: each epoch's ``val_loss`` goes to ``early_stop.json`` in the run
    directory before that epoch's checkpoint is written (this callback runs before
    :class:`RunCheckpoint`), and a resumed run drops the entries of epochs it trains again,
    so its state after a kill at any moment equals that of an uninterrupted run.
    ``stopped_epoch`` (1-based, the last epoch trained) and ``best_epoch`` go to metrics.json.
    """

    FILE = "early_stop.json"

    def __init__(self, run_dir, patience, min_delta=0.0, epoch0=0, source_dir=None):
        """``source_dir``: where the state is read on resume (a multi-worker run's other
        workers write to a scratch ``run_dir`` but resume from the chief's)."""
        super().__init__()
        self.path = os.path.join(run_dir, self.FILE)
        self.patience, self.min_delta = int(patience), float(min_delta)
        old = self.read(source_dir or run_dir).get("val_loss", [])
        self.history = list(old)[:int(epoch0)]

    @classmethod
    def read(cls, run_dir):
        path = os.path.join(run_dir, cls.FILE)
        if not os.path.isfile(path):
            return {}
        with open(path) as f:
            return json.load(f)

    def state(self):
        """``best_epoch``, ``stopped_epoch`` (None while training should go on), 1-based."""
        best, best_i, stopped = math.inf, None, None
        for i, v in enumerate(self.history):
            if v < best - self.min_delta:
                best, best_i = v, i
            elif best_i is not None and i - best_i >= self.patience:
                stopped = i + 1
                break
        return {"best_epoch": None if best_i is None else best_i + 1,
                "best_val_loss": None if best_i is None else best,
                "stopped_epoch": stopped, "patience": self.patience,
                "min_delta": self.min_delta, "val_loss": self.history}

    @property
    def stopped(self):
        return self.state()["stopped_epoch"] is not None

    def on_epoch_end(self, epoch, logs=None):
        v = (logs or {}).get("val_loss")
        if v is None or not finite(v):
            return  # a diverged epoch: NaNStop ends the run, no checkpoint follows
        self.history = self.history[:epoch] + [float(v)]
        atomic_write(self.path, json.dumps(self.state(), indent=1))
        if self.stopped:
            self.model.stop_training = True
