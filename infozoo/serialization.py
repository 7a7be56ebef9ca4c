"""``import infozoo`` makes ``keras.saving.load_model`` find every infozoo class.

Keras 3 finds a saved custom class only by its registered name (``"infozoo>PIE"``)
in ``keras.src.saving.object_registration.GLOBAL_CUSTOM_OBJECTS``; it never imports
the module recorded in the file (it does that only for ``keras.*`` modules). Yet
``import infozoo`` must not import TensorFlow (``infozoo --help`` stays instant).
So registration is lazy: once Keras is imported, its registry dict is swapped for
:class:`LazyRegistry`, which imports every infozoo model and layer the first time
Keras asks for an ``infozoo>...`` name it does not hold. If Keras is imported after
``infozoo``, a one-shot import hook does the swap right after Keras' own import.
No TensorFlow or infozoo module is imported by the swap itself.
"""
import importlib.abc
import importlib.util
import sys
import warnings

PREFIX = "infozoo>"


def register_keras_objects():
    """Imports every module of infozoo that registers Keras-serialisable classes
    (all layers, all models of ``infozoo.models`` and of installed plug-ins)."""
    import infozoo.layers  # noqa: F401
    from infozoo import registry
    registry.model_names()


class LazyRegistry(dict):
    """Keras' global custom-object dict; a miss on ``infozoo>...`` registers infozoo."""

    _loading = False

    def _fill(self, key):
        if (isinstance(key, str) and key.startswith(PREFIX) and not dict.__contains__(self, key)
                and not LazyRegistry._loading):
            LazyRegistry._loading = True
            try:
                register_keras_objects()
            except Exception as e:  # noqa: BLE001  (Keras then reports the class as missing)
                warnings.warn(f"infozoo could not register its Keras classes: "
                              f"{type(e).__name__}: {e}", stacklevel=3)
            finally:
                LazyRegistry._loading = False

    def __contains__(self, key):
        self._fill(key)
        return dict.__contains__(self, key)

    def __getitem__(self, key):
        self._fill(key)
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        self._fill(key)
        return dict.get(self, key, default)


def _swap():
    reg = sys.modules.get("keras.src.saving.object_registration")
    if reg is None:
        reg = importlib.import_module("keras.src.saving.object_registration")
    if not isinstance(reg.GLOBAL_CUSTOM_OBJECTS, LazyRegistry):
        reg.GLOBAL_CUSTOM_OBJECTS = LazyRegistry(reg.GLOBAL_CUSTOM_OBJECTS)


class _AfterKerasImport(importlib.abc.MetaPathFinder):
    """One-shot finder: lets Keras import as usual, then calls :func:`_swap`."""

    def find_spec(self, name, path=None, target=None):
        if name != "keras":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_then_swap(module):
            exec_module(module)
            try:
                _swap()
            except Exception as e:  # noqa: BLE001  (never break `import keras`)
                warnings.warn(f"infozoo could not hook Keras' registry: {e}", stacklevel=2)

        loader.exec_module = exec_then_swap
        return spec


def install():
    """Swaps Keras' registry now if Keras is imported, else when it is."""
    if "keras" in sys.modules and hasattr(sys.modules["keras"], "saving"):
        _swap()
    elif not any(isinstance(f, _AfterKerasImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterKerasImport())
