"""Training callbacks: atomic resumable checkpoints, NaN stop, image grids, throughput."""
import json
import math
import os
import time

import keras
import numpy as np

from infozoo.images import reconstruction_rows, write_grid

CKPT_DIR = "checkpoints"


def checkpoint_state(run_dir):
    """The state of the last good checkpoint, or None: ``{"epoch", "step", "global_step", "weights"}``."""
    path = os.path.join(run_dir, CKPT_DIR, "state.json")
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            state = json.load(f)
        weights = os.path.join(run_dir, CKPT_DIR, state["weights"])
    except (ValueError, KeyError, OSError) as e:
        raise RuntimeError(f"checkpoint state {path} is corrupt ({e}); delete {path} to start "
                           f"over, or use another --run-dir") from None
    if not os.path.isfile(weights):
        raise RuntimeError(f"checkpoint {weights} named in {path} is missing; delete {path} "
                           f"to start over, or use another --run-dir")
    state["weights_path"] = weights
    return state


class RunCheckpoint(keras.callbacks.Callback):
    """Saves weights and optimizer state every ``every`` steps and at each epoch end.

    Weights go to a new file first, then ``state.json`` is replaced atomically,
    then older files are removed: a kill at any moment leaves one consistent
    checkpoint. Nothing is saved once the loss is not finite.
    """

    def __init__(self, run_dir, every, steps_per_epoch, epoch=0, step=0):
        super().__init__()
        self.dir = os.path.join(run_dir, CKPT_DIR)
        os.makedirs(self.dir, exist_ok=True)
        self.every, self.steps_per_epoch = int(every), int(steps_per_epoch)
        self.epoch, self.step = int(epoch), int(step)
        self.healthy = True

    def on_epoch_begin(self, epoch, logs=None):
        if epoch != self.epoch:
            self.epoch, self.step = epoch, 0

    def on_train_batch_end(self, batch, logs=None):
        if logs and not math.isfinite(float(logs.get("loss", 0.0))):
            self.healthy = False
            return
        self.step += 1
        if self.step % self.every == 0 and self.step < self.steps_per_epoch:
            self.save(self.epoch, self.step)

    def on_epoch_end(self, epoch, logs=None):
        if self.healthy and not (logs and not math.isfinite(float(logs.get("loss", 0.0)))):
            self.save(epoch + 1, 0)
            self.epoch, self.step = epoch + 1, 0

    def save(self, epoch, step):
        if not self.healthy:
            return
        gstep = epoch * self.steps_per_epoch + step
        name = f"ckpt-{gstep:09d}.weights.h5"
        self.model.save_weights(os.path.join(self.dir, name))
        state = {"epoch": epoch, "step": step, "global_step": gstep, "weights": name}
        tmp = os.path.join(self.dir, "state.json.tmp")
        with open(tmp, "w") as f:
            json.dump(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(self.dir, "state.json"))
        for old in os.listdir(self.dir):
            if old.startswith("ckpt-") and old != name:
                os.remove(os.path.join(self.dir, old))


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
        if self.every and (epoch + 1) % self.every == 0:
            write_images(self.model, self.x_vis, self.run_dir, self.writer, epoch + 1)


def write_images(model, x_vis, run_dir, writer=None, step=0):
    x_hat = np.asarray(model.reconstruct(x_vis))
    paths = [write_grid(run_dir, "reconstructions", reconstruction_rows(x_vis, x_hat),
                        step, writer)]
    if model.can_sample:
        s = np.asarray(model.sample(2 * len(x_vis), 1.0))
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
