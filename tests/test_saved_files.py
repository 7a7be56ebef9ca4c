"""`.keras` files written by release 0.1.0 (main at e70d79b) keep loading and computing the same.

tests/data/release-0.1.0-<model>.keras are tiny models (tests/tiny.py) with weights perturbed
by ``perturb(m.trainable_variables, seed=1)``; release-0.1.0.npz holds the input batch ``x``
(3 images, ``RandomState(0).uniform``) and what that release's ``encode``/``reconstruct``
returned (``<model>_z``, ``<model>_r``), written on an AMD EPYC (avx512_bf16) by::

    m = make(name); perturb(m.trainable_variables, seed=1); m.save(path)

Keras finds the classes by their registered ``"infozoo>Name"``, not by module path, so moving
modules does not break these files; renaming a registered class or a config key would.
"""
import os

import keras
import numpy as np
import pytest

import infozoo.models  # noqa: F401  (registers infozoo's classes for Keras)

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


@pytest.mark.parametrize("name", ["glow", "inn", "pie", "vimae"])
def test_a_keras_file_of_release_0_1_0_loads_and_computes_the_same(name):
    want = np.load(os.path.join(DATA, "release-0.1.0.npz"))
    m = keras.saving.load_model(os.path.join(DATA, f"release-0.1.0-{name}.keras"), compile=False)
    assert m.registry_name == name
    # float32 on another CPU: oneDNN may order sums differently (~1e-6 relative per layer)
    np.testing.assert_allclose(m.encode(want["x"]), want[f"{name}_z"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(m.reconstruct(want["x"]), want[f"{name}_r"], rtol=1e-5,
                               atol=1e-5)
