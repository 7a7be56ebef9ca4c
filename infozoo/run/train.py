"""``infozoo train``: Keras ``fit`` with resumable checkpoints, TensorBoard, images, export.

Three steps: :func:`prepare` (config, data, model, resume checks, run directory),
:func:`fit` (the training segments) and :func:`finalise` (test metrics and the
export from a single-device copy of the newest weights). What survives what is
in docs/cli.md ("What survives what").
"""
import json
import os
import sys
import time
from dataclasses import dataclass, field

from infozoo.data import loaders as data_lib
from infozoo.run import factory
from infozoo.run import rundir as runs
from infozoo.run import tensorboard as tb
from infozoo.run.factory import build_model, compile_model, make_optimizer
from infozoo.settings import config as config_lib
from infozoo.settings.run_config import RunConfig
from infozoo.util.io import atomic_write, move


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class WorkerLost(RuntimeError):
    """Multi-worker: a peer died or stopped answering; rerun the cluster to resume."""


def explicit_dataset(overrides):
    return any(k in ("dataset", "data.dataset") and v is not None for k, v in overrides.items())


def load_data(cfg, overrides):
    """Arrays for ``cfg``; an unavailable dataset the user did not ask for falls back to ``digits``.

    Returns the (possibly re-resolved) config and the arrays. The fallback is
    recorded in ``data.dataset`` so the run's config says what was used.
    """
    d = cfg.data
    if d.data_dir and not explicit_dataset(overrides):
        raise config_lib.ConfigError(
            f"--data-dir {d.data_dir} needs --dataset NAME to say what the files hold "
            f"(e.g. --dataset fashion_mnist): the name picks the zoo config's dataset section "
            f"and is recorded in the run")
    try:
        arrays = data_lib.load_arrays(d.dataset, d.data_dir, d.train_size, d.test_size)
    except data_lib.DatasetUnavailable as e:
        if explicit_dataset(overrides) or d.data_dir or d.dataset == "digits":
            raise
        print(f"Note: {str(e).split('. Use')[0]}; falling back to --dataset digits "
              f"(scikit-learn's 8x8 digits, no download).", file=sys.stderr, flush=True)
        cfg = config_lib.resolve(cfg.zoo, {**overrides, "data.dataset": "digits"})
        d = cfg.data
        arrays = data_lib.load_arrays("digits", None, d.train_size, d.test_size)
    return cfg, arrays


def lr_at(cfg, epoch):
    """Learning rate for 0-based ``epoch``: dropped by ``lr_factor`` at each 1-based epoch in lr_drops."""
    t = cfg.train
    n = sum(1 for d in t.lr_drops if epoch + 1 >= d)
    return float(t.lr * t.lr_factor ** n)


@dataclass
class Run:
    """Everything :func:`fit` and :func:`finalise` need, made by :func:`prepare`."""
    cfg: RunConfig
    run_dir: str
    arrays: tuple
    strategy: object
    model: object
    steps: int
    epoch0: int = 0
    step0: int = 0
    lock: object = None
    notes: list = field(default_factory=list)
    #: multiworker: only the chief writes ``run_dir``; the others write to ``out_dir``
    chief: bool = True
    out_dir: str = None
    #: the validation split held out of the training set (``data.val_size``), or None
    x_val: object = None

    def __post_init__(self):
        self.out_dir = self.out_dir or self.run_dir


def prepare(zoo, overrides, run_dir):
    """Resolves the config, loads the data, builds (and restores) the model, locks the run
    directory and records the segment. Nothing is written before every check has passed."""
    from infozoo.distribute import strategy as distribute
    from infozoo.distribute import cluster
    cfg = config_lib.resolve(zoo, overrides)
    t = cfg.train
    distribute.configure_cpu_replicas(t.cpu_replicas if t.strategy == "mirrored" else 1)
    import keras
    import tensorflow as tf

    if t.strategy == "multiworker":  # the strategy first, before any other TF work
        strategy = distribute.make_strategy(t.strategy, t.cpu_replicas)
        if not cluster.is_chief():  # writes nothing in run_dir, takes no lock
            out_dir = cluster.writable_dir(run_dir)
            try:
                return _prepare_locked(cfg, overrides, run_dir, None, keras, tf, strategy,
                                       out_dir)
            except BaseException:
                cluster.cleanup(out_dir, run_dir)
                raise
    else:
        strategy = None
    fresh = not runs.is_ours(run_dir)
    created = runs.prepare_dir(run_dir)
    lock = runs.Lock(run_dir)
    try:
        lock.acquire()
        return _prepare_locked(cfg, overrides, run_dir, lock, keras, tf, strategy)
    except BaseException:
        held = lock.fd is not None
        lock.release()
        if fresh and held and not runs.is_ours(run_dir):  # a failed start leaves no trace
            try:
                os.remove(lock.path)
            except OSError:
                pass
            if created:
                runs.remove_if_empty(run_dir)
        raise


def _prepare_locked(cfg, overrides, run_dir, lock, keras, tf, strategy=None, out_dir=None):
    """``out_dir`` set: a non-chief worker, which only reads ``run_dir`` (the checkpoint)."""
    from infozoo.distribute import strategy as distribute
    chief = out_dir is None
    from infozoo.run import precision
    cfg, (xtr, ytr, xte, yte) = load_data(cfg, overrides)
    try:  # the validation split (early stopping) is held out of the training set
        xtr, ytr, xval = data_lib.hold_out(xtr, ytr, cfg.data.val_size)
    except ValueError as e:
        raise config_lib.ConfigError(str(e)) from None
    # auto -> the precision used, which config.yaml records
    cfg = cfg.with_train(precision=precision.resolve(cfg.train.precision))
    t = cfg.train
    data_lib.check_images(xtr)
    data_lib.check_images(xte, xtr.shape[1:], "test data")
    cfg = cfg.replace(input_shape=xtr.shape[1:])
    old = runs.previous_config(run_dir) if chief else None
    changed = runs.check_resume(old, cfg, run_dir) if old else {}
    filled = list(old.filled) if old else []

    keras.utils.set_random_seed(t.seed)
    tf.config.experimental.enable_op_determinism()
    strategy = strategy or distribute.make_strategy(t.strategy, t.cpu_replicas)
    batch = t.batch_size
    if len(xtr) < batch:
        raise config_lib.ConfigError(f"train.batch_size {batch} is larger than the training set "
                                     f"({len(xtr)} examples): lower --batch-size")
    if batch % strategy.num_replicas_in_sync:
        raise config_lib.ConfigError(f"train.batch_size {batch} does not split evenly over "
                                     f"{strategy.num_replicas_in_sync} replicas")
    steps = len(xtr) // batch

    with strategy.scope():
        model = compile_model(build_model(cfg, cfg.input_shape), cfg)
    state = runs.checkpoint_state(run_dir)
    run = Run(cfg, run_dir, (xtr, ytr, xte, yte), strategy, model, steps, lock=lock,
              chief=chief, out_dir=out_dir, x_val=xval)
    if state is not None:
        if not 0 <= state.step < steps:
            raise RuntimeError(f"checkpoint of {run_dir} is at step {state.step} of an epoch "
                               f"of {steps} steps: the run's batch size or training set has "
                               f"changed; resume with the run's settings ({runs.CONFIG})")
        done = state.epoch + (state.step > 0)
        if t.epochs < done:
            steps_note = f" and {state.step} steps" if state.step else ""
            raise config_lib.ConfigError(
                f"--epochs {t.epochs}: the run in {run_dir} has trained {state.epoch} "
                f"epoch(s){steps_note} already; give --epochs {done} or more (--epochs {done} "
                f"only re-evaluates and re-exports), or use another --run-dir")
        used = factory.restore_checkpoint(model, run_dir, rewrite=chief)  # the newest readable
        diverged = runs.checkpoint_state(run_dir).diverged
        run.epoch0, run.step0 = used.epoch, used.step
        print(f"Resuming {run_dir} at epoch {run.epoch0 + 1}, step {run.step0} "
              f"(global step {used.global_step})", flush=True)
        if diverged:
            with strategy.scope():
                model.compile(optimizer=make_optimizer(cfg), jit_compile=t.jit_compile)
                model.optimizer.build(model.trainable_variables)
            run.notes.append(
                f"The previous segment stopped on a NaN loss at epoch {diverged['epoch']}"
                f", batch {diverged['batch']}: the weights of the last good checkpoint "
                f"are kept, the optimizer state (Adam moments) starts afresh, lr {t.lr}.")
    for k, (a, b) in changed.items():
        run.notes.append(f"{k} changed on resume: {a!r} -> {b!r} (recorded in "
                         f"{runs.SEGMENTS})")
    if filled:
        run.notes.append(f"{runs.CONFIG} now lists {len(filled)} setting(s) the run's config "
                         f"left implicit, at the declared default the run used: "
                         f"{', '.join(filled)} (the old config stays in {runs.SEGMENTS})")
    for note in run.notes:
        print(note, flush=True)
    if chief:
        runs.record_segment(run_dir, cfg, run.epoch0, run.step0, changed, filled)
        tb.log_run(run_dir, cfg)  # HParams session start, config text
    return run


def fit(run, verbose=1):
    """Trains the remaining segments; returns ``(train_seconds, images_per_s, trained)``."""
    import keras
    import tensorflow as tf

    from infozoo.run import callbacks as cb
    from infozoo.distribute import strategy as distribute
    from infozoo.distribute import cluster
    cfg, run_dir, t = run.cfg, run.out_dir, run.cfg.train  # where this process writes
    xtr, _, xte, _ = run.arrays
    batch = t.batch_size
    n_params = run.model.count_params_trainable()
    print(f"{cfg.zoo} ({cfg.model}) on {cfg.data.dataset}: "
          f"{len(xtr)} train / {len(xte)} test images of shape {xtr.shape[1:]}, "
          f"{n_params:,} trainable parameters, {run.strategy.num_replicas_in_sync} replica(s)",
          flush=True)
    logs_dir = os.path.join(run_dir, "logs")
    writer = tf.summary.create_file_writer(os.path.join(logs_dir, "images"))
    nan = cb.NaNStop()
    speed = cb.Throughput(batch)
    # before RunCheckpoint: an epoch's val_loss is on disk before its checkpoint
    stop = [cb.EarlyStop(run.out_dir, t.early_stop_patience, t.early_stop_min_delta,
                         run.epoch0, run.run_dir)] if t.early_stop_patience else []
    callbacks = [
        nan, *stop, cb.RunCheckpoint(run_dir, t.checkpoint_every, run.steps, run.epoch0, run.step0),
        speed,
        keras.callbacks.LearningRateScheduler(lambda e, lr: lr_at(cfg, e)),
        keras.callbacks.TensorBoard(log_dir=logs_dir, update_freq="epoch"),
        cb.FiniteCSVLogger(os.path.join(run_dir, "history.csv"), append=True),
        cb.ImageGrids(run_dir, xte[:8], writer, t.image_every),
        cb.RunProgbar(t.epochs),
    ]
    if t.probe_every:
        from infozoo.probe.callback import ProbeCallback
        callbacks.append(ProbeCallback(xte[:512], t.probe_every,
                                       os.path.join(logs_dir, "probe"), run_dir))
    x_val = xte if run.x_val is None else run.x_val  # val_*: the held-out split if there is one
    test_ds = distribute.distribute_batches(
        run.strategy, lambda: data_lib.eval_pipeline(x_val, t.eval_batch_size))
    start = time.time()
    segments = []
    epoch0 = run.epoch0
    if stop and stop[0].stopped:  # stopped early before the kill: nothing left to train
        epoch0 = t.epochs
    if epoch0 < t.epochs and run.step0:
        segments.append((epoch0, epoch0 + 1, run.steps - run.step0,
                         epoch0 * run.steps + run.step0))
        epoch0 += 1
    if epoch0 < t.epochs:
        segments.append((epoch0, t.epochs, run.steps, epoch0 * run.steps))
    for first, last, spe, skip in segments:
        ds = distribute.distribute_batches(run.strategy, lambda skip=skip: data_lib.train_pipeline(
            xtr, batch, t.seed, cfg.data.shuffle_buffer, skip))
        try:
            with run.strategy.scope():  # callbacks (the probe) then run under the strategy
                run.model.fit(ds, initial_epoch=first, epochs=last, steps_per_epoch=spe,
                              shuffle=False, validation_data=test_ds, callbacks=callbacks,
                              verbose=verbose)
        except Exception as e:  # noqa: BLE001  (re-raised unless a peer was lost)
            if not (t.strategy == "multiworker" and cluster.is_lost_worker_error(e)):
                raise
            writer.close()
            _worker_lost(run, e)
        if nan.where:
            writer.close()
            _diverged(run, nan.where)
    writer.close()
    return time.time() - start, speed.images_per_second, bool(segments)


def _worker_lost(run, e):
    from infozoo.distribute import cluster
    good = runs.checkpoint_state(run.run_dir)
    where = (f"from the last checkpoint (epoch {good.epoch + 1}, step {good.step})"
             if good is not None else "from the start (no checkpoint was written yet)")
    raise WorkerLost(
        f"lost contact with another worker of the cluster ({type(e).__name__}: "
        f"{cluster.error_summary(e)}). Training cannot go on with a worker missing: start "
        f"every worker again with the same --run-dir to resume {where}.") from None


def _diverged(run, where):
    """Keeps the newest *confirmed* checkpoint (``callbacks.RunCheckpoint``) as the one the
    next segment resumes from, and says which; none: the run starts over."""
    epoch, batch = where
    lr = run.cfg.train.lr
    records = runs.checkpoint_records(runs.checkpoint_state(run.run_dir))
    good = next((i for i, r in enumerate(records) if r.confirmed), None)
    path = os.path.join(run.run_dir, runs.CKPT_DIR, "state.json")
    if good is not None and run.chief:
        g = records[good]
        state = runs.checkpoint_state(run.run_dir).data
        skipped = ""
        if good:
            skipped = (f" (the newer {', '.join(r.weights for r in records[:good])} came "
                       f"after the loss had begun to explode and will not be used)")
            state = {**g.entry(), "older": [r.entry() for r in records[good + 1:]],
                     **{k: state[k] for k in ("best_loss", "first_loss") if k in state}}
        state = {**state, "diverged": {"epoch": epoch + 1, "batch": batch + 1, "lr": lr}}
        runs.write_checkpoint_state(run.run_dir, state)
        kept = (f"the last good checkpoint {g.weights} (epoch {g.epoch}, step "
                f"{g.step}) is kept in {os.path.join(run.run_dir, runs.CKPT_DIR)}"
                f"{skipped}. Lower --lr (e.g. --lr {lr / 10:g}) and run the same command "
                f"again: it resumes from that checkpoint with a fresh optimizer state")
    elif records and run.chief:
        move(path, f"{path}.diverged")  # the ruined checkpoints stay, unused
        kept = (f"every checkpoint was written after the loss had begun to explode "
                f"(their record is kept as {path}.diverged). Lower --lr (e.g. --lr "
                f"{lr / 10:g}) and run the same command again: the run starts over")
    else:
        kept = ("no checkpoint was written before it. Lower --lr (or check the data) and run "
                "the same command again: the run starts over")
    raise TrainingDiverged(f"the loss became NaN or infinite at epoch {epoch + 1}, batch "
                           f"{batch + 1}; {kept}.")


def finalise(run, train_seconds, images_per_s, trained, verbose=1):
    """Test metrics and export from a single-device copy of the newest weights (the chief;
    another worker of a multi-worker run returns ``{"chief": False}``)."""
    import tensorflow as tf

    if not run.chief:
        return {"chief": False, "replicas": run.strategy.num_replicas_in_sync}
    from infozoo.run import callbacks as cb
    from infozoo.evaluation import evaluate
    from infozoo.run import export
    cfg, run_dir, t = run.cfg, run.run_dir, run.cfg.train
    xtr, ytr, xte, yte = run.arrays
    weights = runs.checkpoint_state(run_dir)
    final = build_model(cfg, cfg.input_shape)
    final.set_weights(run.model.get_weights())
    writer = tf.summary.create_file_writer(os.path.join(run_dir, "logs", "images"))
    # one TensorBoard step convention: Keras logs epoch scalars at the 0-based epoch index,
    # so everything after the last epoch (images, test metrics, HParams end) is at epochs - 1
    last = t.epochs - 1
    cb.write_images(final, xte[:8], run_dir, writer, last)
    mode = t.evaluate   # --evaluate: the test budget of tiny runs
    metrics = {} if mode == "none" else evaluate.evaluate_model(
        final, xte, t.eval_batch_size, run_dir if mode == "full" else None, writer,
        last, y_test=yte, x_train=xtr, y_train=ytr, dataset=cfg.data.dataset)
    metrics.update(params=run.model.count_params_trainable(), wall_time_s=round(train_seconds, 2),
                   images_per_s=round(images_per_s, 2) if cb.finite(images_per_s) else None,
                   replicas=run.strategy.num_replicas_in_sync, dataset=cfg.data.dataset,
                   train_size=int(len(xtr)), epochs=t.epochs,
                   weights_epoch=weights.epoch if weights is not None else None,
                   weights_step=weights.step if weights is not None else None,
                   val_size=cfg.data.val_size)
    if t.early_stop_patience:
        es = cb.EarlyStop.read(run_dir)
        metrics.update(early_stop_epoch=es.get("stopped_epoch"), best_epoch=es.get("best_epoch"),
                       best_val_loss=es.get("best_val_loss"))
    prev = os.path.join(run_dir, "metrics.json")
    if os.path.isfile(prev) and not trained:
        with open(prev) as f:  # nothing trained this time: keep the recorded speed figures
            old = json.load(f)
        for k in ("wall_time_s", "images_per_s"):
            metrics[k] = old.get(k, metrics[k])
    atomic_write(prev, json.dumps(metrics, indent=2))
    tb.log_run(run_dir, cfg, metrics, step=last)  # test metrics, HParams end
    if t.export:   # --no-export: tiny runs and sweeps skip the SavedModel
        export.export_model(final, os.path.join(run_dir, runs.EXPORT_DIR),
                            None if weights is None else weights.newest.entry(), run_dir,
                            export.input_range_of(cfg))
    writer.close()
    if verbose:
        print(json.dumps(metrics, indent=2))
        print(f"Run directory: {run_dir}" + (f" (SavedModel in {os.path.join(run_dir, 'export')})"
                                             if t.export else " (not exported)"))
    return metrics


def run(zoo, overrides, run_dir, verbose=1):
    """Trains (or resumes) zoo config ``zoo`` with ``overrides`` in ``run_dir``; returns metrics."""
    from infozoo.distribute import cluster
    r = prepare(zoo, overrides, run_dir)
    try:
        seconds, speed, trained = fit(r, verbose)
        return finalise(r, seconds, speed, trained, verbose)
    finally:
        if r.lock is not None:
            r.lock.release()
        cluster.cleanup(r.out_dir, r.run_dir)
