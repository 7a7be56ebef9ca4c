"""The model zoo: ``from infozoo.models import INN, PIE, IPAE, VIMAE, VAE, Classic``, and
``FlowModel`` (a Keras model around your own ``Flow``).

Every model registered by ``@register_model`` in a module of this package is importable here
by its class name (derived from the one registry, ``infozoo.settings.registry``; nothing to
keep in step by hand), with the short names ``INN`` and ``Classic``, and so are ``ZooModel``,
``register_model`` and the shared bases (``StochasticAutoencoder``).

``import infozoo.models`` imports every model module of this package and ``infozoo.layers``,
so every infozoo class is registered with Keras (``register_keras_serializable``, by its name
``"infozoo>ClassName"``): ``keras.saving.load_model`` then loads any infozoo ``.keras`` file.
A plug-in's models register when its own module is imported.
"""
import importlib as _importlib

from infozoo.settings import registry as _registry

_importlib.import_module("infozoo.layers")  # the layer classes a saved flow names
for _module in _registry.builtin_modules():
    _importlib.import_module(_module)


def custom_objects():
    """``{"infozoo>ClassName": class}`` for every infozoo Keras class (layers, models, and the
    models of installed plug-ins), for ``keras.saving.custom_object_scope(...)`` or
    ``keras.saving.load_model(path, custom_objects=...)``. The classes are registered with
    Keras' documented ``register_keras_serializable(package="infozoo")``."""
    import keras
    register_keras_objects()
    return {k: v for k, v in keras.saving.get_custom_objects().items()
            if k.startswith("infozoo>")}


def register_keras_objects():
    """Registers the models of installed plug-ins too (``import infozoo.models`` registers
    infozoo's own layers and models)."""
    _registry.model_names()


#: short names of the documented imports
ALIASES = {"INN": "INNAutoencoder", "Classic": "ClassicAutoencoder"}


def _public():
    """``{name: object}``: the registered models of this package, their ``ZooModel`` bases,
    the aliases, ``register_model`` and ``FlowModel``."""
    from infozoo.models.base import ZooModel
    from infozoo.models.flow_model import FlowModel
    out = {"ZooModel": ZooModel, "register_model": _registry.register_model,
           "FlowModel": FlowModel}
    for name in _registry.model_names():
        for cls in _registry.get_model_class(name).__mro__:
            if (isinstance(cls, type) and issubclass(cls, ZooModel)
                    and cls.__module__.startswith(__name__ + ".")):
                out.setdefault(cls.__name__, cls)
    out.update({alias: out[target] for alias, target in ALIASES.items() if target in out})
    return out


def __getattr__(name):
    if name.startswith("__") and name != "__all__":
        raise AttributeError(name)
    public = _public()
    if name == "__all__":
        return sorted(public)
    if name in public:
        return public[name]
    raise AttributeError(f"module 'infozoo.models' has no attribute {name!r}; models: "
                         f"{', '.join(sorted(public))}")


def __dir__():
    return sorted(list(globals()) + list(_public()))
