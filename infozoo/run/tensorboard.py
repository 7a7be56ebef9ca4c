"""TensorBoard records of a run beyond Keras' own: HParams, the resolved config, test metrics.

:func:`log_run` is called by ``infozoo.run.train.run`` twice: at the start (the HParams
session start with every scalar config value, and the resolved config as text) and at
the end with the final test metrics (``test/<name>`` scalars and the HParams session
end). Everything goes to ``RUN_DIR/logs`` (Keras writes ``logs/train`` and
``logs/validation`` beside it), so ``tensorboard --logdir runs`` shows every run as one
row of the HParams dashboard, its hyperparameters against its test metrics.
"""
import os

TEXT_TAG = "config"


#: config keys that say how a run is executed or logged, not what is trained: no HParams
NOT_HPARAMS = {"data.data_dir", "data.test_size", "data.shuffle_buffer",
               "train.checkpoint_every", "train.image_every", "train.probe_every",
               "train.eval_batch_size", "train.jit_compile", "train.strategy",
               "train.cpu_replicas"}
#: metrics.json entries that describe the run rather than measure it: not logged as metrics
DESCRIPTION = {"train_size", "epochs", "weights_epoch", "weights_step", "replicas"}


def hparams_of(cfg):
    """``{"model_args.eps": 0.1, "train.lr": 0.001, ...}``: every hyperparameter of RunConfig
    ``cfg`` as a scalar HParam (lists become strings, None is left out; ``NOT_HPARAMS`` are
    not)."""
    d = cfg.to_dict()  # lists as lists: their text is config.yaml's
    out = {"zoo": str(d["zoo"]), "model": str(d["model"])}
    for section in ("data", "model_args", "train"):
        for k, v in d[section].items():
            if v is None or f"{section}.{k}" in NOT_HPARAMS:
                continue
            out[f"{section}.{k}"] = v if isinstance(v, (bool, int, float, str)) else str(v)
    if d.get("input_shape"):
        out["input_shape"] = str(d["input_shape"])
    return out


def trial_id(run_dir):
    """One HParams trial per run: the run directory's absolute path (a sweep's runs
    ``OUT/<setting>/seed=<s>`` share their base names, which TensorBoard would merge)."""
    return os.path.realpath(run_dir)


def scalar_metrics(metrics):
    """The numeric entries of ``metrics`` (bools, strings and the run's ``DESCRIPTION``,
    e.g. ``weights_step`` or ``epochs``, are left out)."""
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in DESCRIPTION}


def log_run(run_dir, cfg, metrics=None, step=0):
    """At the start (``metrics`` None): HParams session start and the config as text. At the
    end: ``test/<name>`` scalars of the test metrics in ``metrics`` (``run/<name>`` for the
    others: params, wall time...) at ``step`` and the HParams session end."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp
    from tensorboard.plugins.hparams import api_pb2
    from tensorboard.plugins.hparams import summary as hp_summary

    from infozoo.settings import config as config_lib
    writer = tf.summary.create_file_writer(os.path.join(run_dir, "logs"))
    with writer.as_default():
        if metrics is None:
            hp.hparams(hparams_of(cfg), trial_id=trial_id(run_dir))
            text = "\n".join("    " + line for line in config_lib.dump(cfg).splitlines())
            tf.summary.text(TEXT_TAG, text, step=step)
        else:
            for k, v in scalar_metrics(metrics).items():   # test_l1 -> test/test_l1,
                group = "test" if k.startswith("test") else "run"  # params -> run/params
                tf.summary.scalar(f"{group}/{k}", v, step=step)
            pb = hp_summary.session_end_pb(api_pb2.STATUS_SUCCESS)
            tf.summary.experimental.write_raw_pb(pb.SerializeToString(), step=step)
    writer.close()
