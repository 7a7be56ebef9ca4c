"""Orthogonal mixing by Householder reflections (PIE paper §4.3, eq. 19).

#### Mathematical Details

One reflection is ``H(v) = I - 2 v v^T / (v^T v)`` (eq. 19): symmetric,
orthogonal and its own inverse, ``det H = -1``. The layer holds ``K`` trainable
vectors ``v_1 .. v_K`` (random-normal initialised) and applies

    forward:  y = H(v_K) ... H(v_2) H(v_1) x
    inverse:  x = H(v_1) H(v_2) ... H(v_K) y

to the **last axis** of its input, so the same class is PIE's invertible
"1x1 convolution" on the channels of an NHWC tensor and its invertible linear
map on the features of a ``[B, D]`` tensor. The reflections are applied
directly, ``x - 2 (x . v) v / (v . v)``, in ``O(K D)`` per vector; the matrix is
never formed (``matrix()`` builds it for tests). ``|det| = 1``, so the log-det is
0 in both directions.

Guard against ``v -> 0``: a vector with ``v . v <= min_norm_sq`` is treated as
the identity (its reflection is skipped), which keeps the layer exactly
orthogonal; adding an epsilon to ``v . v`` instead would make the map slightly
non-orthogonal and the log-det slightly non-zero. With random-normal
initialisation ``v . v`` is about ``D``, and because ``H(v)`` does not depend on
the scale of ``v`` the gradient is orthogonal to ``v``, so plain gradient steps
never shrink ``v`` (weight decay does: keep it small).

#### References

Householder (1958), Unitary triangularization of a nonsymmetric matrix.
Tomczak & Welling (2016), Improving VAEs using Householder flow.
"""
import keras
import tensorflow as tf

from infozoo.layers.base import Invertible, register_layer, zero_logdet


@register_layer
class Householder(Invertible):
    """Product of ``reflections`` Householder reflections on the last axis (log-det 0)."""

    def __init__(self, reflections=3, min_norm_sq=1e-12, seed=None, **kwargs):
        super().__init__(**kwargs)
        if int(reflections) < 1:
            raise ValueError(f"reflections must be >= 1, got {reflections}")
        self.reflections = int(reflections)
        self.min_norm_sq = float(min_norm_sq)
        self.seed = seed

    def build(self, input_shape):
        n = int(input_shape[-1])
        self.v = self.add_weight(
            name="v", shape=(self.reflections, n), trainable=True,
            initializer=keras.initializers.RandomNormal(stddev=1.0, seed=self.seed))

    def _coefficients(self, dtype):
        """``(v, 2 / (v . v))`` with the coefficient 0 (identity) where ``v . v`` is tiny."""
        v = tf.cast(self.v, dtype)
        vv = tf.reduce_sum(v * v, axis=1)
        safe = tf.maximum(vv, tf.constant(self.min_norm_sq, dtype))
        coef = tf.where(vv > self.min_norm_sq, 2.0 / safe, tf.zeros_like(vv))
        return v, coef

    @staticmethod
    def _reflect(x, v_k, c_k):
        return x - c_k * tf.reduce_sum(x * v_k, axis=-1, keepdims=True) * v_k

    def _forward(self, x):
        v, coef = self._coefficients(x.dtype)
        for k in range(self.reflections):
            x = self._reflect(x, v[k], coef[k])
        return x, zero_logdet(x)

    def _inverse(self, y):
        v, coef = self._coefficients(y.dtype)
        for k in reversed(range(self.reflections)):
            y = self._reflect(y, v[k], coef[k])
        return y, zero_logdet(y)

    def matrix(self):
        """The ``[D, D]`` matrix ``W`` with ``forward(x) = x @ W`` for row vectors ``x``."""
        n = int(self.v.shape[-1])
        return self._forward(tf.eye(n, dtype=self.compute_dtype))[0]

    def get_config(self):
        return {**super().get_config(), "reflections": self.reflections,
                "min_norm_sq": self.min_norm_sq, "seed": self.seed}
