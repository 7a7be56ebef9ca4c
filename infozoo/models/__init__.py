"""The model zoo: ``from infozoo.models import INN, PIE, IPAE, VIMAE, VAE, Classic``, and
``FlowModel`` (a Keras model around your own ``Flow``).

Names are imported on first use (each model module imports TensorFlow). Every
model is also in the registry by its zoo name (``infozoo.registry``).
"""
_NAMES = {
    "INN": ("inn", "INNAutoencoder"), "INNAutoencoder": ("inn", "INNAutoencoder"),
    "INNVAE": ("inn", "INNVAE"),
    "Classic": ("classic", "ClassicAutoencoder"),
    "ClassicAutoencoder": ("classic", "ClassicAutoencoder"),
    "PIE": ("pie", "PIE"), "IPAE": ("ipae", "IPAE"), "VAE": ("vae", "VAE"),
    "VIMAE": ("vimae", "VIMAE"),
    "ZooModel": ("base", "ZooModel"), "register_model": ("base", "register_model"),
    "StochasticAutoencoder": ("stochastic", "StochasticAutoencoder"),
    "FlowModel": ("flow_model", "FlowModel"),
}
__all__ = sorted(_NAMES)


def __getattr__(name):
    if name in _NAMES:
        import importlib
        mod, attr = _NAMES[name]
        return getattr(importlib.import_module(f"infozoo.models.{mod}"), attr)
    raise AttributeError(f"module 'infozoo.models' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
