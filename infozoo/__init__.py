"""infozoo: invertible and information-theoretic autoencoders (Keras 3 / TensorFlow).

Importing ``infozoo`` does not import TensorFlow; ``infozoo.models`` and
``infozoo.layers`` do. The Python API (``docs/api.md``):

- ``infozoo.build(name, **model_args)``: a model with its zoo config's defaults;
- ``infozoo.fit(model_or_name, run_dir=..., ...)``: training with the CLI's
  checkpoints, resume, images, TensorBoard and export;
- ``infozoo.from_preset(name)``: a trained model by name (``infozoo.presets.available()``);
- ``from infozoo.models import INN, PIE, IPAE, VIMAE, VAE, Classic``;
- ``import infozoo.models`` registers every infozoo class with Keras (by its name
  ``"infozoo>ClassName"``), so ``keras.saving.load_model("x.keras")`` finds them;
  ``infozoo.custom_objects()`` gives them as a dict (``keras.saving.custom_object_scope``).

The folders and what each holds: ``docs/architecture.md``.
"""
__version__ = "0.1.0"

_API = {"build": "infozoo.api", "fit": "infozoo.api", "config_for": "infozoo.api",
        "load_run": "infozoo.api", "from_preset": "infozoo.presets",
        "custom_objects": "infozoo.models", "register_keras_objects": "infozoo.models"}


_SUBMODULES = ("api", "cli", "data", "distribute", "evaluation", "hparams", "layers", "losses",
               "models", "nets", "presets", "probe", "run", "settings", "testing", "util", "viz")


def __getattr__(name):  # the API on first use, so `import infozoo` stays free of TensorFlow
    import importlib
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"infozoo.{name}")
    raise AttributeError(f"module 'infozoo' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_API) + list(_SUBMODULES))
