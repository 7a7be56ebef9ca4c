"""The model zoo: ``from infozoo.models import INN, PIE, IPAE, VIMAE, VAE, Classic``, and
``FlowModel`` (a Keras model around your own ``Flow``).

Every model registered by ``@register_model`` in a module of this package is importable here
by its class name (derived from the one registry, ``infozoo.registry``; nothing to keep in
step by hand), with the short names ``INN`` and ``Classic``, and so are ``ZooModel``,
``register_model`` and the shared bases (``StochasticAutoencoder``). Names are imported on
first use (each model module imports TensorFlow).
"""
#: short names of the documented imports
ALIASES = {"INN": "INNAutoencoder", "Classic": "ClassicAutoencoder"}


def _public():
    """``{name: object}``: the registered models of this package, their ``ZooModel`` bases,
    the aliases, ``register_model`` and ``FlowModel``."""
    from infozoo import registry
    from infozoo.models.base import ZooModel
    from infozoo.models.flow_model import FlowModel
    out = {"ZooModel": ZooModel, "register_model": registry.register_model,
           "FlowModel": FlowModel}
    for name in registry.model_names():
        for cls in registry.get_model_class(name).__mro__:
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
