"""One registry of models by name. Importing this module does not import TensorFlow.

A model joins the registry by the :func:`register_model` decorator when its module
is imported. :func:`model_names`/:func:`get_model_class` first import every module
of the ``infozoo.models`` package (found on disk, no fixed list) and every module
named by an entry point of the group ``infozoo.models`` (a user's package declares
``[options.entry_points] infozoo.models = mymodel = mypackage.mymodel`` in its
``setup.cfg``), so installed plug-in models are known to the CLI as well.
"""
import importlib
import importlib.util
import pkgutil

ENTRY_POINT_GROUP = "infozoo.models"

_MODELS = {}
_loaded = False


def register_model(name):
    """Class decorator: registers a ``ZooModel`` under ``name`` and for Keras serialisation."""
    def deco(cls):
        import keras
        cls = keras.saving.register_keras_serializable(package="infozoo")(cls)
        cls.registry_name = name
        if name in _MODELS and _MODELS[name] is not cls:
            raise ValueError(f"model name {name!r} is registered twice "
                             f"({_MODELS[name].__module__} and {cls.__module__})")
        _MODELS[name] = cls
        return cls
    return deco


def builtin_modules():
    """Names of every module of the ``infozoo.models`` package (found on disk: the package
    itself, which derives its names from this registry, is not imported here)."""
    path = importlib.util.find_spec("infozoo.models").submodule_search_locations
    return sorted(f"infozoo.models.{m.name}" for m in pkgutil.iter_modules(path))


def plugin_entry_points():
    from importlib.metadata import entry_points
    return list(entry_points(group=ENTRY_POINT_GROUP))


def _load_all():
    global _loaded
    if _loaded:
        return
    for mod in builtin_modules():
        importlib.import_module(mod)
    for ep in plugin_entry_points():
        try:
            ep.load()
        except Exception as e:  # noqa: BLE001  (a broken plug-in must say which one it is)
            raise ImportError(f"infozoo plug-in {ep.name!r} ({ep.value}, entry point group "
                              f"{ENTRY_POINT_GROUP!r}) failed to import: "
                              f"{type(e).__name__}: {e}") from e
    _loaded = True


def get_model_class(name):
    _load_all()
    if name not in _MODELS:
        raise KeyError(f"unknown model {name!r}; registered models: {', '.join(sorted(_MODELS))}")
    return _MODELS[name]


def model_names():
    _load_all()
    return sorted(_MODELS)

