"""``infozoo eval``: test metrics of a run as one JSON object."""
import os

import numpy as np

from infozoo.data import loaders as data_lib
from infozoo.run import factory


def evaluate_model(model, x_test, batch_size=500, run_dir=None, writer=None, step=0, **data):
    """Means of every loss term on ``x_test``, reconstruction L1 and MSE, model extras.

    With ``run_dir``, the model's evaluator (``model.evaluator()``) adds its metrics and
    :func:`infozoo.evaluation.report.write_report` writes its figures and tables; ``data``
    (``y_test``, ``x_train``, ``y_train``, ``dataset``) goes to the evaluator (e.g. the
    linear probe on codes needs labels)."""
    from infozoo.util.batching import batched

    def terms(x):
        out = {k: np.asarray(v, np.float64) for k, v in model.loss_terms(x).items()}
        err = (np.asarray(model.reconstruct(x), np.float64) - x).reshape(len(x), -1)
        out["test_l1"], out["test_mse"] = np.abs(err).mean(1), (err ** 2).mean(1)
        return out
    per_example = batched(terms, x_test, batch_size)
    # a term that is the objective under another name (a density model's ``nll``) is
    # reported once, as ``test_loss``
    same = set(getattr(model, "same_as_loss", ()))
    out = {("test_" + k if not k.startswith("test_") else k): float(np.mean(v))
           for k, v in per_example.items() if k not in same}
    out["test_examples"] = len(x_test)
    if run_dir is not None:
        from infozoo.evaluation.report import write_report
        report = model.evaluator(batch_size=batch_size)(x_test, **data)
        # one figure per quantity: a metric the loss-term pass above already measured (a
        # density model's test_bits_per_dim, the same pass as its test_loss) is
        # not replaced by the evaluator's own estimate (another draw of the dequantisation
        # noise gave 467.34 beside test_loss 467.08 for one PIE run)
        out.update({k: v for k, v in report.metrics.items() if k not in out})
        write_report(report, run_dir, writer, step)
    return out


def load_run_model(run_dir):
    """``(cfg, model)`` of a run with its newest weights (see ``infozoo.run.factory.load_model``)."""
    cfg, model, _ = factory.load_model(run_dir)
    return cfg, model


def evaluate_run(run_dir, data_dir=None, test_size=None, recompute_bn=False):
    """Test metrics of a run's newest weights; ``weights`` in the result says which.

    ``recompute_bn``: first set the batch-norm moving statistics to those of the final
    weights on the run's training split (:func:`infozoo.nets.batch_norm.recompute_statistics`,
    at the run's batch size; the weights on disk are not changed); ``bn_recomputed`` in the
    result says so. Writes TensorBoard images under ``RUN_DIR/logs/eval`` where the run
    directory is writable (a read-only run is evaluated all the same)."""
    import tensorflow as tf
    cfg, model, weights = factory.load_model(run_dir)
    d = cfg.data
    xtr, ytr, xte, yte = data_lib.load_arrays(d.dataset, data_dir or d.data_dir,
                                              d.train_size, test_size or d.test_size)
    data_lib.check_images(xte, model.image_shape, "test data")
    recomputed = None
    if recompute_bn:
        from infozoo.nets.batch_norm import recompute_statistics
        fit_x = data_lib.hold_out(xtr, ytr, d.val_size)[0]  # the rows it trained on
        bs = cfg.train.batch_size
        layers = recompute_statistics(model, fit_x, bs)
        if not layers:
            raise ValueError(f"--recompute-bn: the {cfg.zoo} model of {run_dir} has no "
                             f"batch-norm layer; evaluate it without the flag")
        recomputed = {"layers": layers, "images": (len(fit_x) // bs) * bs, "batch_size": bs}
    writable = os.access(run_dir, os.W_OK)
    writer = (tf.summary.create_file_writer(os.path.join(run_dir, "logs", "eval"))
              if writable else None)
    out = evaluate_model(model, xte, cfg.train.eval_batch_size,
                         run_dir if writable else None, writer, cfg.train.epochs - 1,
                         y_test=yte, x_train=xtr, y_train=ytr, dataset=d.dataset)
    out["params"] = model.count_params_trainable()
    out["run_dir"] = run_dir
    out["dataset"] = d.dataset
    out["weights"] = {k: weights[k] for k in ("source", "path", "epoch", "step", "global_step")}
    if recomputed:
        out["bn_recomputed"] = recomputed
    return out
