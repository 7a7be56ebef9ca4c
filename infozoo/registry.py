"""One registry of models by name. Importing this module does not import TensorFlow."""
import importlib

_MODELS = {}
_MODEL_MODULES = ("inn", "classic", "pie", "ipae", "vae", "vimae", "glow")


def register_model(name):
    """Class decorator: registers a ``ZooModel`` under ``name`` and for Keras serialisation."""
    def deco(cls):
        import keras
        cls = keras.saving.register_keras_serializable(package="infozoo")(cls)
        cls.registry_name = name
        if name in _MODELS and _MODELS[name] is not cls:
            raise ValueError(f"model name {name!r} is registered twice")
        _MODELS[name] = cls
        return cls
    return deco


def _load_all():
    for mod in _MODEL_MODULES:
        importlib.import_module(f"infozoo.models.{mod}")


def get_model_class(name):
    _load_all()
    if name not in _MODELS:
        raise KeyError(f"unknown model {name!r}; registered models: {', '.join(sorted(_MODELS))}")
    return _MODELS[name]


def model_names():
    _load_all()
    return sorted(_MODELS)
