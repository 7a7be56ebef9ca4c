"""The Python API: build a zoo model with its config's defaults, train it as the CLI does.

``build`` and ``config_for`` resolve a zoo config exactly as ``infozoo train`` does
(:func:`infozoo.settings.config.resolve`: common defaults, the YAML, its ``datasets:`` section,
then the arguments); ``fit`` is a thin layer over :func:`infozoo.run.train.run`, so a run
started from Python has the CLI's run directory: checkpoints and resume, image grids,
TensorBoard logs, ``metrics.json`` and the SavedModel export. See ``docs/api.md``.
"""
import os

import numpy as np

from infozoo.data import catalog
from infozoo.settings import config as config_lib
from infozoo.util.io import atomic_path


def dataset_for_shape(name, input_shape):
    """The dataset whose section of zoo config ``name`` fits images of ``input_shape``:
    the config's own dataset if its shape matches, else the first ``datasets:`` entry of
    the YAML, else the first built-in dataset of that shape; None if there is none."""
    shape = tuple(int(s) for s in input_shape)
    raw = config_lib.load_zoo(name)
    default = raw.get("data", {}).get("dataset", config_lib.DATA["dataset"].default)
    for cand in [default, *raw.get("datasets", {}), *catalog.DATASETS]:
        if catalog.shape_of(cand) == shape:
            return cand
    return None


def _plain(v):
    """Plain Python values (Keras wraps lists held by layers in ``TrackedList``)."""
    if isinstance(v, (list, tuple)):
        return [_plain(i) for i in v]
    if isinstance(v, dict):
        return {k: _plain(i) for k, i in v.items()}
    return v


def _model_overrides(model_args):
    return {f"model_args.{k}": _plain(v) for k, v in model_args.items()}


def config_for(name, input_shape=None, dataset=None, **model_args):
    """The resolved config (``infozoo train NAME --dry-run``) with ``model_args`` set,
    plus ``input_shape``: a :class:`~infozoo.settings.run_config.RunConfig` (``cfg.train.lr``,
    ``cfg.model_args["bottleneck"]``; ``cfg.to_dict()`` is the plain dict of ``config.yaml``). ``dataset`` picks the YAML's ``datasets:`` section; without it,
    ``input_shape`` picks the dataset of that shape (:func:`dataset_for_shape`).
    Unknown names, keys or values raise :class:`infozoo.settings.config.ConfigError` (a ValueError)."""
    if input_shape is not None:
        input_shape = tuple(int(s) for s in input_shape)
    if dataset is None and input_shape is not None:
        dataset = dataset_for_shape(name, input_shape)
    overrides = _model_overrides(model_args)
    if dataset is not None:
        overrides["data.dataset"] = dataset
    cfg = config_lib.resolve(name, overrides)
    shape = input_shape or catalog.shape_of(cfg.data.dataset)
    if shape is None:
        raise config_lib.ConfigError(f"cannot tell the image shape of dataset "
                                     f"{cfg.data.dataset!r}: pass input_shape=")
    return cfg.replace(input_shape=tuple(int(s) for s in shape))


def build(name, input_shape=None, dataset=None, **model_args):
    """A model of zoo config ``name`` (``infozoo list``) with its defaults and ``model_args``.

    ``infozoo.build("pie", eps=0.1)`` is the PIE of ``zoo_configs/pie.yaml`` for MNIST;
    ``input_shape=(8, 8, 1)`` or ``dataset="digits"`` uses the YAML's digits section. A
    model registered without a zoo config (a plug-in) is built from its class defaults."""
    from infozoo.settings import registry
    if name not in config_lib.zoo_names():
        try:
            cls = registry.get_model_class(name)
        except KeyError:
            raise config_lib.ConfigError(
                f"unknown model {name!r}; zoo configs: {', '.join(config_lib.zoo_names())}; "
                f"registered models: {', '.join(registry.model_names())}") from None
        shape = input_shape or catalog.shape_of(dataset) or (28, 28, 1)
        return cls(input_shape=tuple(shape), **model_args)
    from infozoo.run.factory import build_model
    cfg = config_for(name, input_shape, dataset, **model_args)
    return build_model(cfg, cfg.input_shape)


def _args_of(model, zoo):
    """``model_args`` of zoo config ``zoo`` that rebuild ``model`` exactly; ValueError if
    the model has settings the config cannot carry."""
    from infozoo.settings import registry
    raw = config_lib.load_zoo(zoo)
    if raw.get("model", zoo) != model.registry_name:
        raise ValueError(f"zoo config {zoo!r} builds model {raw.get('model', zoo)!r}, not "
                         f"{model.registry_name!r}")
    conf = model.get_config()
    args = {k: conf[k] for k in config_lib.resolve(zoo).model_args if k in conf}
    cls = registry.get_model_class(model.registry_name)
    probe = cls(input_shape=model.image_shape,
                **config_lib.resolve(zoo, _model_overrides(args)).to_dict()["model_args"])
    skip = {"name", "trainable", "dtype", "input_range"}
    other = probe.get_config()
    diff = sorted(k for k in set(conf) | set(other) if k not in skip and conf.get(k) != other.get(k))
    if diff:
        raise ValueError(f"{type(model).__name__} has settings zoo config {zoo!r} does not carry: "
                         + ", ".join(f"{k}={conf.get(k)!r} (config gives {other.get(k)!r})"
                                     for k in diff)
                         + "; train with infozoo.fit(name, ...) and those model_args, or "
                           "with keras' model.fit")
    return args


def _write_arrays(arrays, run_dir):
    """Checked ``(x_train, y_train, x_test, y_test)`` -> ``run_dir/data/arrays.npz``; returns
    the data directory and the paths this call created (to remove if the start fails). A run
    that already trained on other arrays is refused (its data would change under it)."""
    from infozoo.run import rundir as runs
    runs.check_target(run_dir, "run_dir")  # never into a user's own directory
    d = os.path.join(run_dir, "data")
    path = os.path.join(d, "arrays.npz")
    names = ("x_train", "y_train", "x_test", "y_test")
    if os.path.isfile(path) and runs.is_run_dir(run_dir):
        with np.load(path) as f:
            same = all(k in f and np.array_equal(f[k], a) for k, a in zip(names, arrays))
        if same:
            return d, []
        raise ValueError(f"{run_dir} is a run that trained on other arrays ({path}): pass the "
                         f"same data= to resume it, or give a new run_dir")
    created = [p for p in (run_dir, d, path, os.path.join(run_dir, runs.LOCK),
                           os.path.join(run_dir, runs.RUN_MARKER)) if not os.path.exists(p)]
    os.makedirs(d, exist_ok=True)
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **dict(zip(names, arrays)))
    runs.mark(run_dir)
    return d, created


def _remove_created(paths, run_dir):
    """After a failed start: removes what ``_write_arrays`` (and the start) created, unless
    a run began there (then its data must stay for the resume)."""
    from infozoo.run import rundir as runs
    if runs.is_run_dir(run_dir):
        return
    for p in reversed(paths):  # files first, then the directories, if empty
        try:
            os.rmdir(p) if os.path.isdir(p) else os.remove(p)
        except OSError:
            pass


def fit(model_or_name, run_dir, data=None, dataset=None, zoo=None, verbose=1, **settings):
    """Trains as ``infozoo train`` does, in ``run_dir`` (an existing run resumes).

    ``model_or_name``: a zoo config name (``"pie"``), or a model built by :func:`build` or
    a model class of a zoo config (its settings go into the run's config; it gets the
    trained weights). ``data``: optional ``(x_train, y_train, x_test, y_test)`` arrays,
    images in ``[0, 1]`` (labels may be None), stored under ``run_dir/data``; otherwise
    ``dataset`` (default: the config's, or the one of the model's input shape).
    ``settings``: any config key, bare or ``section.key`` (``epochs=2``, ``eps=0.3``,
    ``train.lr=1e-4``). ``zoo``: the zoo config of a model whose registry name is not
    one (e.g. ``"classic-deep"``). Returns the run's metrics (``metrics.json``).
    """
    from infozoo.run import train
    overrides = dict(settings)
    model = None if isinstance(model_or_name, str) else model_or_name
    if model is None:
        zoo = model_or_name
    else:
        zoo = zoo or getattr(model, "registry_name", None)
        if zoo not in config_lib.zoo_names():
            raise ValueError(f"{type(model).__name__} has no zoo config ({zoo!r}); pass zoo=, "
                             f"or train it with keras' model.fit")
        overrides.update(_model_overrides(_args_of(model, zoo)))
    created = []
    if data is not None:
        from infozoo.data.loaders import check_arrays
        arrays = check_arrays(data)
        shape = arrays[0].shape[1:]
        dataset = dataset or dataset_for_shape(zoo, shape)
        if dataset is None:
            raise ValueError(f"data=: no dataset section of zoo config {zoo!r} is for images "
                             f"of shape {list(shape)}: pass dataset=NAME to pick the section "
                             f"to use (the images' shape is taken from data=)")
        spec = catalog.find(dataset)
        if spec is not None and spec.generated:
            raise ValueError(f"{spec.name} is generated, not read from arrays: pass "
                             f"dataset='{spec.name}' without data=, or reshape your points")
        overrides["data.data_dir"], created = _write_arrays(arrays, run_dir)
    elif dataset is None and model is not None:
        dataset = dataset_for_shape(zoo, model.image_shape)
        if dataset is None:
            raise ValueError(f"no built-in dataset has images of shape {list(model.image_shape)}:"
                             f" pass data=(x_train, y_train, x_test, y_test)")
    if dataset is not None:
        overrides["data.dataset"] = dataset
    try:
        metrics = train.run(zoo, overrides, run_dir, verbose=verbose)
    except BaseException:
        _remove_created(created, run_dir)
        raise
    if model is not None:
        trained = load_run(run_dir)
        if tuple(trained.image_shape) != tuple(model.image_shape):
            raise ValueError(f"the run trained on images {list(trained.image_shape)}, the model "
                             f"takes {list(model.image_shape)}")
        model.set_weights(trained.get_weights())
    return metrics


def load_run(run_dir):
    """The trained model of a run directory (its export, else its last checkpoint)."""
    from infozoo.evaluation.evaluate import load_run_model
    return load_run_model(run_dir)[1]
