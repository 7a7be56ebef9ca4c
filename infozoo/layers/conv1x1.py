"""Invertible 1x1 convolution, LU-parametrised (Glow, Kingma & Dhariwal 2018, §3.2).

#### Mathematical Details

On the last axis (the channels of ``[B, H, W, C]``, or the features of
``[B, D]``), ``y = W x`` at every position with (Glow eq. 10)

    W = P L (U + diag(sign(s) * exp(log|s|)))

``P`` a fixed permutation, ``L`` unit lower triangular (trainable strict lower
part), ``U`` strictly upper triangular (trainable), ``log|s|`` trainable and
``sign(s)`` fixed. ``W`` is initialised as a random rotation (QR of a Gaussian
matrix drawn from ``seed``) and its LU decomposition (scipy). Log-det:
``H * W * sum(log|s|)`` per example. The inverse applies
``W^-1 = (U + diag s)^-1 L^-1 P^T`` by two triangular solves, never a general
matrix inverse. ``P`` and ``sign(s)`` are non-trainable variables, so they are
saved with the model.
"""
import numpy as np
import scipy.linalg
import tensorflow as tf

from infozoo.layers.base import Invertible, register_layer


@register_layer
class InvertibleConv1x1(Invertible):
    """LU-decomposed learned invertible 1x1 convolution (channel mixing)."""

    def __init__(self, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.seed = int(seed)

    def build(self, input_shape):
        n = int(input_shape[-1])
        q = np.linalg.qr(np.random.RandomState(self.seed).randn(n, n))[0]
        p, lower, upper = scipy.linalg.lu(q)
        s = np.diag(upper)
        self.perm = self.add_weight(name="perm", shape=(n, n), trainable=False,
                                    initializer="zeros")
        self.sign_s = self.add_weight(name="sign_s", shape=(n,), trainable=False,
                                      initializer="zeros")
        self.lower = self.add_weight(name="lower", shape=(n, n), initializer="zeros")
        self.upper = self.add_weight(name="upper", shape=(n, n), initializer="zeros")
        self.log_s = self.add_weight(name="log_s", shape=(n,), initializer="zeros")
        for var, value in ((self.perm, p), (self.sign_s, np.sign(s)), (self.lower, lower),
                           (self.upper, np.triu(upper, 1)), (self.log_s, np.log(np.abs(s)))):
            var.assign(value.astype(var.dtype))
        self._l_mask = np.tril(np.ones((n, n)), -1)
        self._u_mask = np.triu(np.ones((n, n)), 1)

    def _factors(self, dtype):
        """``(P, L, U + diag(s))`` in ``dtype``."""
        n = int(self.log_s.shape[0])
        eye = tf.eye(n, dtype=dtype)
        lower = tf.cast(self.lower, dtype) * tf.constant(self._l_mask, dtype) + eye
        s = tf.cast(self.sign_s, dtype) * tf.exp(tf.cast(self.log_s, dtype))
        upper = tf.cast(self.upper, dtype) * tf.constant(self._u_mask, dtype) + tf.linalg.diag(s)
        return tf.cast(self.perm, dtype), lower, upper

    def matrix(self, dtype=None):
        """``W`` with ``forward(x) = x @ W^T`` on the last axis."""
        p, lower, upper = self._factors(dtype or self.compute_dtype)
        return p @ lower @ upper

    def _logdet(self, x):
        n_pos = tf.cast(tf.reduce_prod(tf.shape(x)[1:-1]), x.dtype)
        return tf.fill([tf.shape(x)[0]], n_pos * tf.reduce_sum(tf.cast(self.log_s, x.dtype)))

    def _forward(self, x):
        return tf.matmul(x, self.matrix(x.dtype), transpose_b=True), self._logdet(x)

    def _inverse(self, y):
        p, lower, upper = self._factors(y.dtype)
        n = int(self.log_s.shape[0])
        # W^-1 = U^-1 L^-1 P^T, applied as y @ W^-T
        l_inv = tf.linalg.triangular_solve(lower, tf.eye(n, dtype=y.dtype), lower=True)
        w_inv = tf.linalg.triangular_solve(upper, l_inv @ tf.transpose(p), lower=False)
        return tf.matmul(y, w_inv, transpose_b=True), -self._logdet(y)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
