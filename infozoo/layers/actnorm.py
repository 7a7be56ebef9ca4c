"""Activation normalisation (Glow, Kingma & Dhariwal 2018, §3.1, Table 1).

#### Mathematical Details

Per channel (the last axis) ``y = (x + b) * exp(log_s)``, with log-det
``H * W * sum(log_s)`` per example (the number of positions times the sum; a
flat input has one position). Inverse: ``x = y * exp(-log_s) - b``.

Data-dependent initialisation (§3.1): on the first ``forward`` batch, ``b =
-mean(x)`` and ``log_s = -log(std(x) + 1e-6)`` per channel, so that batch
comes out with zero mean and unit variance per channel. Whether this has
happened is the non-trainable variable ``initialized`` (0 or 1), saved with the
model's weights, so a reloaded model is never initialised again. ``inverse`` never
initialises. Inside a ``tf.function`` the flag is read when the function is
traced: a layer that is already initialised traces no initialisation at all,
an uninitialised one traces a ``tf.cond`` on the flag.
"""
import keras
import tensorflow as tf

from infozoo.layers.base import Invertible, register_layer


def _positions(x):
    """Number of positions per example (product of the axes between batch and channels)."""
    return tf.cast(tf.reduce_prod(tf.shape(x)[1:-1]), x.dtype)


@register_layer
class ActNorm(Invertible):
    """Per-channel affine map with data-dependent initialisation (``data_init``)."""

    def __init__(self, data_init=True, **kwargs):
        super().__init__(**kwargs)
        self.data_init = bool(data_init)

    def build(self, input_shape):
        n = int(input_shape[-1])
        self.bias = self.add_weight(name="bias", shape=(n,), initializer="zeros")
        self.log_scale = self.add_weight(name="log_scale", shape=(n,), initializer="zeros")
        self.initialized = self.add_weight(
            name="initialized", shape=(), trainable=False,
            initializer="zeros" if self.data_init else "ones")

    @staticmethod
    def _moments(x):
        """Per-channel mean and variance of the *global* batch (synchronised over replicas)."""
        return keras.ops.moments(x, axes=list(range(len(x.shape) - 1)), synchronized=True)

    def initialize(self, x, moments=None):
        """Sets ``b``, ``log_s`` from the batch ``x`` and the flag (eager or in a graph)."""
        x = tf.convert_to_tensor(x, self.compute_dtype)
        if not self.built:
            self.build(tuple(x.shape))
        mean, var = moments if moments is not None else self._moments(x)
        self.bias.assign(tf.cast(-mean, self.bias.dtype))
        self.log_scale.assign(tf.cast(-tf.math.log(tf.sqrt(var) + tf.constant(1e-6, x.dtype)),
                                      self.log_scale.dtype))
        self.initialized.assign(tf.ones((), self.initialized.dtype))
        return tf.constant(True)

    def _maybe_initialize(self, x):
        with tf.init_scope():   # the flag's value now, even while a tf.function is traced
            done = bool(keras.ops.convert_to_numpy(self.initialized) > 0)
        if done:
            return
        if tf.executing_eagerly():
            self.initialize(x)
        else:
            # the moments' all-reduce cannot sit inside tf.cond under a strategy
            m = self._moments(tf.convert_to_tensor(x, self.compute_dtype))
            tf.cond(self.initialized > 0, lambda: tf.constant(False),
                    lambda: self.initialize(x, m))

    def _forward(self, x):
        if self.data_init:
            self._maybe_initialize(x)
        b, ls = tf.cast(self.bias, x.dtype), tf.cast(self.log_scale, x.dtype)
        ld = _positions(x) * tf.reduce_sum(ls)
        return (x + b) * tf.exp(ls), tf.fill([tf.shape(x)[0]], ld)

    def _inverse(self, y):
        b, ls = tf.cast(self.bias, y.dtype), tf.cast(self.log_scale, y.dtype)
        ld = -_positions(y) * tf.reduce_sum(ls)
        return y * tf.exp(-ls) - b, tf.fill([tf.shape(y)[0]], ld)

    def get_config(self):
        return {**super().get_config(), "data_init": self.data_init}
