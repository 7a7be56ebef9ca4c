"""infozoo.testing, the harness plug-in authors run: it passes a correct user layer and fails
one whose log-det has the wrong sign, and check_model passes a zoo model."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from infozoo.layers.base import Invertible, sum_except_batch
from infozoo.testing import check_invertible, check_model


@keras.saving.register_keras_serializable(package="infozoo_test_user")
class ElementwiseAffine(Invertible):
    """A user's layer: ``y = x * exp(a) + b`` per feature, log-det ``sum(a)`` (times
    ``sign``, -1 for the deliberately wrong one)."""

    def __init__(self, sign=1.0, **kwargs):
        super().__init__(**kwargs)
        self.sign = sign

    def build(self, input_shape):
        self.a = self.add_weight(name="a", shape=input_shape[1:], initializer="zeros")
        self.b = self.add_weight(name="b", shape=input_shape[1:], initializer="zeros")

    def _forward(self, x):
        ld = sum_except_batch(tf.broadcast_to(self.a, tf.shape(x)))
        return x * tf.exp(self.a) + self.b, self.sign * ld

    def _inverse(self, y):
        ld = sum_except_batch(tf.broadcast_to(self.a, tf.shape(y)))
        return (y - self.b) * tf.exp(-self.a), -self.sign * ld

    def get_config(self):
        return {**super().get_config(), "sign": self.sign}


def _user_layer(sign):
    layer = ElementwiseAffine(sign)
    layer.build((None, 6))
    rng = np.random.RandomState(0)
    for v in layer.trainable_variables:  # away from the identity, whose log-det is 0
        v.assign(rng.normal(0, 0.3, v.shape))
    return layer, rng.normal(size=(5, 6)).astype("float32")


def test_a_correct_user_layer_passes():
    check_invertible(*_user_layer(1.0))


def test_a_wrong_logdet_sign_fails():
    layer, x = _user_layer(-1.0)
    with pytest.raises(AssertionError, match="autodiff Jacobian"):
        check_invertible(layer, x)


def test_check_model_passes_a_zoo_model(tmp_path):
    from conftest import perturb
    from tiny import SHAPE, make
    keras.utils.set_random_seed(0)
    m = make("inn")
    perturb(m.trainable_variables, 0.05)
    check_model(m, np.random.RandomState(0).rand(4, *SHAPE).astype("float32"), tmp_path)
