"""ActNorm's data-dependent initialisation, the LU 1x1 convolution, and the multi-scale Flow."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import perturb
from infozoo.layers import (ActNorm, Flow, GLOWCoupling, InvertibleConv1x1, Reshape, Split,
                            Squeeze)
from infozoo.nets.subnets import ConvSubnet, DenseSubnet


@keras.saving.register_keras_serializable(package="tests")
class _Holder(keras.Model):
    """A minimal model owning one ActNorm, for the .keras round trip."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.an = ActNorm()
        self.an.build((None, 3, 3, 4))
        self.built = True

    def call(self, x):
        return self.an.forward(x)[0]


def _batch(seed, shape=(16, 3, 3, 4), loc=2.0, scale=3.0):
    return np.random.RandomState(seed).normal(loc, scale, shape).astype("float32")


@pytest.mark.parametrize("graph", [False, True])
def test_actnorm_initialises_on_the_first_batch_only(graph):
    layer = ActNorm()
    layer.build((None, 3, 3, 4))
    fwd = tf.function(layer.forward) if graph else layer.forward
    x = _batch(0)
    y, ld = fwd(x)
    y = y.numpy()
    np.testing.assert_allclose(y.mean((0, 1, 2)), np.zeros(4), atol=1e-5)
    np.testing.assert_allclose(y.std((0, 1, 2)), np.ones(4), rtol=1e-4)
    assert float(layer.initialized.numpy()) == 1.0
    # log-det = positions * sum(log_s) = -9 * sum(log std)
    np.testing.assert_allclose(ld, np.full(16, -9 * np.log(x.std((0, 1, 2))).sum()), rtol=1e-4)
    b = layer.bias.numpy().copy()
    y2 = fwd(_batch(1, loc=-5.0)).__getitem__(0).numpy()   # not re-initialised
    np.testing.assert_array_equal(layer.bias.numpy(), b)
    assert abs(y2.mean()) > 1.0


def test_actnorm_init_is_saved_with_the_model(tmp_path):
    m = _Holder()
    m(_batch(2))                                            # initialises
    path = str(tmp_path / "m.keras")
    m.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert float(loaded.an.initialized.numpy()) == 1.0
    x = _batch(3, loc=-7.0, scale=0.1)                      # would re-initialise very differently
    np.testing.assert_allclose(loaded(x), m(x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(loaded.an.bias.numpy(), m.an.bias.numpy())


def test_actnorm_trains_inside_fit_and_initialises_there():
    layer = ActNorm()
    layer.build((None, 5))

    class M(keras.Model):
        def __init__(self):
            super().__init__()
            self.an = layer

        def call(self, x):
            return self.an.forward(x)[0]

    m = M()
    m.compile(optimizer="sgd", loss="mse")
    x = np.random.RandomState(0).normal(3.0, 2.0, (32, 5)).astype("float32")
    m.fit(x, np.zeros_like(x), epochs=1, batch_size=32, verbose=0)
    assert float(layer.initialized.numpy()) == 1.0
    np.testing.assert_allclose(layer.bias.numpy(), -x.mean(0), rtol=0.05, atol=0.05)


def test_lu_conv_starts_as_a_rotation_and_keeps_its_factorisation():
    layer = InvertibleConv1x1(seed=5, dtype="float64")
    layer.build((None, 2, 2, 6))
    w = layer.matrix().numpy()
    np.testing.assert_allclose(w @ w.T, np.eye(6), atol=1e-12)
    assert np.abs(w - np.eye(6)).max() > 0.1
    perturb(layer.trainable_variables, 0.5, seed=1)
    p, lower, upper = (t.numpy() for t in layer._factors(tf.float64))
    assert np.allclose(np.diag(lower), 1) and np.allclose(np.triu(lower, 1), 0)
    assert np.allclose(np.tril(upper, -1), 0)
    np.testing.assert_array_equal(p @ p.T, np.eye(6))
    w = layer.matrix().numpy()
    x = np.random.RandomState(2).normal(size=(3, 2, 2, 6))
    y, ld = layer.forward(x)
    np.testing.assert_allclose(y.numpy(), x @ w.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ld.numpy(), 4 * np.linalg.slogdet(w)[1], rtol=1e-12)
    assert set(v.name for v in layer.non_trainable_variables) == {"perm", "sign_s"}
