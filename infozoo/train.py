"""``infozoo train``: Keras ``fit`` with resumable checkpoints, TensorBoard, images, export."""
import json
import os
import time
import warnings

import numpy as np

from infozoo import config as config_lib
from infozoo import data as data_lib
from infozoo import tb

class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def build_model(cfg, input_shape):
    """The registered model of ``cfg`` for images of ``input_shape``; bad args -> ConfigError."""
    from infozoo.registry import get_model_class
    cls = get_model_class(cfg["model"])
    try:
        return cls(input_shape=tuple(input_shape), **cfg["model_args"])
    except (ValueError, TypeError) as e:
        raise config_lib.ConfigError(f"bad model_args for {cfg['zoo']}: {e}") from None


def make_optimizer(cfg):
    import keras
    t = cfg["train"]
    return keras.optimizers.Adam(learning_rate=t["lr"], beta_1=t["beta1"],
                                 weight_decay=t["weight_decay"] or None)


def compile_model(model, cfg):
    model.compile(optimizer=make_optimizer(cfg), jit_compile=bool(cfg["train"]["jit_compile"]))
    model.optimizer.build(model.trainable_variables)
    return model


def restore_weights(model, weights_path):
    try:
        model.load_weights(weights_path)
    except Exception as e:  # noqa: BLE001  (h5py/Keras raise many kinds on corrupt files)
        raise RuntimeError(f"cannot load checkpoint {weights_path} ({type(e).__name__}: {e}). "
                           f"The file is corrupt or from another config: delete "
                           f"{os.path.dirname(weights_path)} to start over, or use another "
                           f"--run-dir") from None


def explicit_dataset(overrides):
    return any(k in ("dataset", "data.dataset", "data_dir", "data.data_dir") and v is not None
               for k, v in overrides.items())


def load_data(cfg, overrides):
    """Arrays for ``cfg``; an unavailable dataset the user did not ask for falls back to ``digits``.

    Returns the (possibly re-resolved) config and the arrays. The fallback is
    recorded in ``data.dataset`` so the run's config says what was used.
    """
    d = cfg["data"]
    try:
        arrays = data_lib.load_arrays(d["dataset"], d["data_dir"], d["train_size"], d["test_size"])
    except data_lib.DatasetUnavailable as e:
        if explicit_dataset(overrides) or d["data_dir"] or d["dataset"] == "digits":
            raise
        msg = f"{e}\nFalling back to --dataset digits (scikit-learn's 8x8 digits)."
        warnings.warn(msg, stacklevel=2)
        cfg = config_lib.resolve(cfg["zoo"], {**overrides, "data.dataset": "digits"})
        d = cfg["data"]
        arrays = data_lib.load_arrays("digits", None, d["train_size"], d["test_size"])
    return cfg, arrays


def _check_resume(run_dir, cfg):
    path = os.path.join(run_dir, "config.yaml")
    if not os.path.isfile(path):
        return
    old = config_lib.load(path)
    for key in ("model", "model_args"):
        if old.get(key) != cfg.get(key):
            raise config_lib.ConfigError(
                f"--run-dir {run_dir} holds a run with different {key} ({old.get(key)} vs "
                f"{cfg.get(key)}); use another --run-dir, or the same settings to resume")
    if old["data"]["dataset"] != cfg["data"]["dataset"]:
        raise config_lib.ConfigError(
            f"--run-dir {run_dir} was trained on {old['data']['dataset']!r}, not "
            f"{cfg['data']['dataset']!r}; use another --run-dir")


def lr_at(cfg, epoch):
    """Learning rate for 0-based ``epoch``: dropped by ``lr_factor`` at each 1-based epoch in lr_drops."""
    t = cfg["train"]
    n = sum(1 for d in t["lr_drops"] if epoch + 1 >= d)
    return float(t["lr"] * t["lr_factor"] ** n)


def run(zoo, overrides, run_dir, verbose=1):
    """Trains (or resumes) zoo config ``zoo`` with ``overrides`` in ``run_dir``; returns metrics."""
    from infozoo import distribute
    cfg = config_lib.resolve(zoo, overrides)
    t = cfg["train"]
    distribute.configure_cpu_replicas(t["cpu_replicas"] if t["strategy"] == "mirrored" else 1)
    import keras
    import tensorflow as tf

    from infozoo import callbacks as cb
    from infozoo import evaluate, export

    os.makedirs(run_dir, exist_ok=True)
    cfg, (xtr, ytr, xte, yte) = load_data(cfg, overrides)
    t = cfg["train"]
    _check_resume(run_dir, cfg)
    data_lib.check_images(xtr)
    data_lib.check_images(xte, xtr.shape[1:], "test data")
    cfg["input_shape"] = [int(s) for s in xtr.shape[1:]]
    config_lib.save(cfg, os.path.join(run_dir, "config.yaml"))
    tb.log_run(run_dir, cfg)  # HParams session start, config text

    keras.utils.set_random_seed(int(t["seed"]))
    tf.config.experimental.enable_op_determinism()
    strategy = distribute.make_strategy(t["strategy"], t["cpu_replicas"])
    batch = int(t["batch_size"])
    if len(xtr) < batch:
        raise config_lib.ConfigError(f"train.batch_size {batch} is larger than the training set "
                                     f"({len(xtr)} examples): lower --batch-size")
    if batch % strategy.num_replicas_in_sync:
        raise config_lib.ConfigError(f"train.batch_size {batch} does not split evenly over "
                                     f"{strategy.num_replicas_in_sync} replicas")
    steps = len(xtr) // batch

    with strategy.scope():
        model = compile_model(build_model(cfg, xtr.shape[1:]), cfg)
    state = cb.checkpoint_state(run_dir)
    epoch0, step0 = 0, 0
    if state:
        restore_weights(model, state["weights_path"])
        epoch0, step0 = state["epoch"], state["step"]
        print(f"Resuming {run_dir} at epoch {epoch0 + 1}, step {step0} "
              f"(global step {state['global_step']})", flush=True)
    n_params = model.count_params_trainable()
    print(f"{cfg['zoo']} ({cfg['model']}) on {cfg['data']['dataset']}: "
          f"{len(xtr)} train / {len(xte)} test images of shape {xtr.shape[1:]}, "
          f"{n_params:,} trainable parameters, {strategy.num_replicas_in_sync} replica(s)",
          flush=True)

    logs_dir = os.path.join(run_dir, "logs")
    writer = tf.summary.create_file_writer(os.path.join(logs_dir, "images"))
    x_vis = xte[:8]
    nan = cb.NaNStop()
    ckpt = cb.RunCheckpoint(run_dir, t["checkpoint_every"], steps, epoch0, step0)
    speed = cb.Throughput(batch)
    callbacks = [
        nan, ckpt, speed,
        keras.callbacks.LearningRateScheduler(lambda e, lr: lr_at(cfg, e)),
        keras.callbacks.TensorBoard(log_dir=logs_dir, update_freq="epoch"),
        keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=True),
        cb.ImageGrids(run_dir, x_vis, writer, t["image_every"]),
    ]
    if t["probe_every"]:
        from infozoo.probe.callback import ProbeCallback
        callbacks.append(ProbeCallback(xte[:512], t["probe_every"],
                                       os.path.join(logs_dir, "probe"), run_dir))
    test_ds = data_lib.eval_pipeline(xte, t["eval_batch_size"])
    start = time.time()
    segments = []
    if epoch0 < t["epochs"] and step0:
        segments.append((epoch0, epoch0 + 1, steps - step0, epoch0 * steps + step0))
        epoch0 += 1
    if epoch0 < t["epochs"]:
        segments.append((epoch0, t["epochs"], steps, epoch0 * steps))
    for first, last, spe, skip in segments:
        ds = data_lib.train_pipeline(xtr, batch, t["seed"], cfg["data"]["shuffle_buffer"], skip)
        model.fit(ds, initial_epoch=first, epochs=last, steps_per_epoch=spe,
                  validation_data=test_ds, callbacks=callbacks, verbose=verbose)
        if nan.where:
            good = cb.checkpoint_state(run_dir)
            kept = (f"the last good checkpoint (epoch {good['epoch']}, step {good['step']}) is "
                    f"kept in {os.path.join(run_dir, cb.CKPT_DIR)}" if good else
                    "no checkpoint was written before it")
            raise TrainingDiverged(
                f"the loss became NaN or infinite at epoch {nan.where[0] + 1}, batch "
                f"{nan.where[1] + 1}; {kept}. Lower --lr, or check the data, then run again "
                f"with the same --run-dir to resume from that checkpoint.")
    train_seconds = time.time() - start

    # Final evaluation and export from a single-device copy of the trained weights.
    final = build_model(cfg, xtr.shape[1:])
    final.set_weights(model.get_weights())
    cb.write_images(final, x_vis, run_dir, writer, t["epochs"])
    metrics = evaluate.evaluate_model(final, xte, t["eval_batch_size"], run_dir, writer,
                                      t["epochs"], y_test=yte, x_train=xtr, y_train=ytr,
                                      dataset=cfg["data"]["dataset"])
    metrics.update(params=n_params, wall_time_s=round(train_seconds, 2),
                   images_per_s=round(speed.images_per_second, 2),
                   replicas=strategy.num_replicas_in_sync, dataset=cfg["data"]["dataset"],
                   train_size=int(len(xtr)), epochs=int(t["epochs"]))
    prev = os.path.join(run_dir, "metrics.json")
    if os.path.isfile(prev) and not segments:
        with open(prev) as f:  # nothing trained this time: keep the recorded speed figures
            old = json.load(f)
        for k in ("wall_time_s", "images_per_s"):
            metrics[k] = old.get(k, metrics[k])
    with open(prev, "w") as f:
        json.dump(metrics, f, indent=2)
    tb.log_run(run_dir, cfg, metrics, step=int(t["epochs"]))  # test metrics, HParams end
    export.export_model(final, os.path.join(run_dir, "export"))
    writer.close()
    if verbose:
        print(json.dumps(metrics, indent=2))
        print(f"Run directory: {run_dir} (SavedModel in {os.path.join(run_dir, 'export')})")
    return metrics
