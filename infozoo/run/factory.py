"""The model factory: a run config's model, optimizer and compile, and a run's model with its
newest readable weights (checkpoint or export). The run directory's layout and records are
:mod:`infozoo.run.rundir`'s."""
import os
import sys

from infozoo.run.rundir import (CKPT_DIR, EXPORT_DIR, checkpoint_records, checkpoint_state,
                                export_info, is_live, read_config, write_checkpoint_state)
from infozoo.settings import config as config_lib


def model_kwargs(cls, cfg):
    """The keyword arguments of ``cls`` for RunConfig ``cfg``: its ``model_args`` (lists as
    lists, as ``config.yaml`` holds them), plus each hyperparameter a run setting passes
    (:attr:`~infozoo.settings.hparams.HParam.passed_by`): ``seed = train.seed`` for a model
    whose random draws (noise, dequantisation, reparameterisation) take a seed, so a run's
    seed sets its weights, its data order and its draws alike."""
    plain = cfg.to_dict()
    args = plain["model_args"]
    for p in getattr(cls, "hparams", None) or ():
        if p.passed_by is not None and p.name not in args:
            section, key = p.passed_by.split(".", 1)
            args[p.name] = plain[section][key]
    return args


def build_model(cfg, input_shape):
    """The registered model of RunConfig ``cfg`` for images of ``input_shape``; bad args ->
    ConfigError."""
    from infozoo.run.precision import policy_scope, resolve
    from infozoo.settings.registry import get_model_class
    from infozoo.data.inputs import PIXELS, range_of_dataset
    cls = get_model_class(cfg.model)
    kwargs = model_kwargs(cls, cfg)
    input_range = range_of_dataset(cfg.data.dataset)
    if input_range != PIXELS:  # toy25: points, not pixels
        kwargs["input_range"] = input_range
    try:
        # layers take the dtype policy in force when they are made (train.precision)
        with policy_scope(resolve(cfg.train.precision)):
            return cls(input_shape=tuple(input_shape), **kwargs)
    except (ValueError, TypeError) as e:
        raise config_lib.ConfigError(f"bad model_args for {cfg.zoo}: {e}") from None
    except Exception as e:  # noqa: BLE001  (TF raises ResourceExhausted etc. for absurd sizes)
        raise config_lib.ConfigError(f"cannot build {cfg.zoo} with these model_args "
                                     f"({type(e).__name__}: {str(e).splitlines()[0][:300]})"
                                     ) from None


def make_optimizer(cfg):
    import keras
    from infozoo.run.precision import resolve
    t = cfg.train
    opt = keras.optimizers.Adam(learning_rate=t.lr, beta_1=t.beta1, beta_2=t.beta2,
                                epsilon=t.adam_epsilon, weight_decay=t.weight_decay or None)
    if resolve(t.precision) == "mixed_float16":
        # float16 gradients underflow: dynamic loss scaling (bfloat16 has float32's range)
        opt = keras.optimizers.LossScaleOptimizer(opt)
    return opt


def compile_model(model, cfg):
    model.compile(optimizer=make_optimizer(cfg), jit_compile=cfg.train.jit_compile)
    model.optimizer.build(model.trainable_variables)
    return model


def restore_weights(model, weights_path):
    try:
        model.load_weights(weights_path)
    except Exception as e:  # noqa: BLE001  (h5py/Keras raise many kinds on corrupt files)
        raise RuntimeError(f"cannot load checkpoint {weights_path} ({type(e).__name__}: "
                           f"{_first_line(e)}): the file is corrupt or from another config"
                           ) from None


def _first_line(e):
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def restore_checkpoint(model, run_dir, verbose=True, rewrite=True):
    """Restores the newest readable checkpoint of ``run_dir`` into ``model``; returns its
    :class:`~infozoo.run.rundir.CheckpointRecord` or None when the run has none.

    A newest checkpoint that cannot be read (truncated, missing) falls back to the older
    ones the run keeps, named on stderr; ``state.json`` then names the one used (with
    ``rewrite``: not on a multi-worker run's other workers, which write nothing). A
    RuntimeError only when none can be read."""
    records = checkpoint_records(checkpoint_state(run_dir))
    errors = []
    for i, r in enumerate(records):
        try:
            if not os.path.isfile(r.weights_path):
                raise RuntimeError(f"{r.weights_path} is missing")
            restore_weights(model, r.weights_path)
        except RuntimeError as e:
            errors.append(str(e))
            if verbose:
                print(f"Warning: {e}; trying the older checkpoint", file=sys.stderr, flush=True)
            continue
        if i and rewrite:
            state = checkpoint_state(run_dir)
            older = [{k: o[k] for k in ("epoch", "step", "global_step", "weights", "confirmed")
                      if k in o} for o in state.data.get("older", [])[i:]]
            write_checkpoint_state(run_dir, {**{k: v for k, v in r.entry().items()
                                                if v is not None}, "older": older})
            if verbose:
                print(f"Using the older checkpoint {r.weights_path} (epoch {r.epoch}, "
                      f"step {r.step})", file=sys.stderr, flush=True)
        return r
    if not records:
        return None
    d = os.path.join(run_dir, CKPT_DIR)
    raise RuntimeError("no checkpoint of " + run_dir + " can be read:\n  " + "\n  ".join(errors)
                       + f"\nNothing was changed. To start the run over, move the checkpoints "
                         f"aside (mv {d} {d}.broken) and run the same command again")


def load_model(run_dir, verbose=True, attempts=5):
    """``(cfg, model, weights)``: the run's RunConfig and model with its newest readable
    weights.

    ``weights`` says which: ``{"source": "checkpoint" | "export", "path", "epoch", "step",
    "global_step"}``. Candidates, newest first: every checkpoint the run keeps and its
    export; one that cannot be read is named on stderr and the next is tried. While
    another process trains in the run (it holds the lock and rotates its checkpoints), a
    checkpoint that vanished between reading ``state.json`` and loading it is a race, not a
    fault: the state is read again (``attempts`` times).
    """
    import time
    cfg = read_config(run_dir)
    for attempt in range(attempts):
        candidates, errors = [], []
        try:
            records = checkpoint_records(checkpoint_state(run_dir))
        except RuntimeError as e:
            records = []
            errors.append(str(e))
            if verbose:
                print(f"Warning: {e}", file=sys.stderr, flush=True)
        candidates += [{"source": "checkpoint", "path": r.weights_path, "epoch": r.epoch,
                        "step": r.step, "global_step": r.global_step} for r in records]
        keras_file = os.path.join(run_dir, EXPORT_DIR, "model.keras")
        if os.path.isfile(keras_file):
            info = export_info(os.path.join(run_dir, EXPORT_DIR)) or {}
            candidates.append({"source": "export", "path": keras_file,
                               "epoch": info.get("epoch"), "step": info.get("step"),
                               "global_step": info.get("global_step", -1)})
        candidates.sort(key=lambda c: -1 if c["global_step"] is None else c["global_step"],
                        reverse=True)
        raced = False
        for c in candidates:
            if c["source"] == "checkpoint" and not os.path.isfile(c["path"]):
                raced = raced or is_live(run_dir)
                errors.append(f"{c['path']} is missing")
                continue
            try:
                model = _load_candidate(cfg, c)
            except (RuntimeError, ValueError, OSError) as e:
                raced = raced or (c["source"] == "checkpoint" and is_live(run_dir)
                                  and not os.path.isfile(c["path"]))
                errors.append(f"{c['path']}: {e}")
                if verbose:
                    print(f"Warning: cannot read {c['path']} ({e}); trying the next newest "
                          f"weights", file=sys.stderr, flush=True)
                continue
            return cfg, model, c
        if not raced:
            break
        time.sleep(0.5 * (attempt + 1))
    if not errors:
        raise FileNotFoundError(f"{run_dir} has no checkpoint and no export yet")
    if is_live(run_dir):
        raise RuntimeError(f"{run_dir} is training and replaced its checkpoints while they were "
                           f"read ({attempts} tries): run the command again, or after the "
                           f"training ends")
    raise RuntimeError(f"no readable weights in {run_dir}: " + "; ".join(errors)
                       + ". Nothing was changed.")


def _load_candidate(cfg, c):
    if c["source"] == "checkpoint":
        model = compile_model(build_model(cfg, cfg.input_shape), cfg)
        restore_weights(model, c["path"])
        return model
    import keras

    import infozoo.settings.registry as registry
    registry.get_model_class(cfg.model)  # registers the class with Keras
    try:
        return keras.saving.load_model(c["path"], compile=False)
    except Exception as e:  # noqa: BLE001  (zip/h5/Keras errors on a truncated file)
        raise RuntimeError(f"{type(e).__name__}: {str(e).splitlines()[0][:200]}") from None
