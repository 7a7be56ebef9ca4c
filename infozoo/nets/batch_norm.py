"""Batch normalisation that trains with TensorFlow's fused kernel on one replica.

Keras 3's ``BatchNormalization`` on TensorFlow computes the batch moments and the
normalisation as separate ``Mean``/``Sub``/``Square``/``Mul`` ops over an upcast float32
copy of its input (8-12 % of the op time of the VIMAE paper's WAE/DCGAN nets, and more
under bf16, where the convolutions are fast: docs/performance.md). This
``BatchNormalization`` is that layer (same weights, names, config and inference path)
whose training pass on NHWC feature maps, when the batch is not split over replicas, is one ``FusedBatchNormV3``
(oneDNN's batch norm, bf16 in and out with float32 statistics) and whose gradient is one
``FusedBatchNormGradV3``. Under a strategy with several replicas the synchronised Keras
path is kept, so that data-parallel training still sees the global batch's moments.

The moving statistics follow Keras' rule exactly: the fused kernel returns the
Bessel-corrected batch variance, which is scaled back by ``(m - 1) / m`` (``m`` rows per
channel) before the update ``moving = momentum * moving + (1 - momentum) * batch``.
"""
import keras
import tensorflow as tf


def _one_replica():
    ctx = tf.distribute.get_replica_context()
    return ctx is None or ctx.num_replicas_in_sync == 1


@keras.saving.register_keras_serializable(package="infozoo")
class BatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` with a fused training pass (module docstring).

    It keeps Keras' class name because Keras stores a layer's weights in a ``.keras`` file
    under the snake-cased class name (``batch_normalization``): so files written with
    Keras' layer load into this one and the other way round (tests/test_saved_files.py).
    """

    def _fusable(self, inputs, training, mask):
        return (training and self.trainable and mask is None and not self.renorm
                and len(inputs.shape) == 4 and self.axis in (-1, 3)
                and self.scale and self.center and inputs.dtype != tf.float64
                and _one_replica())

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        empty = tf.constant([], tf.float32)
        y, mean, var, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=inputs, scale=tf.cast(self.gamma, tf.float32),
            offset=tf.cast(self.beta, tf.float32), mean=empty, variance=empty,
            epsilon=float(self.epsilon), exponential_avg_factor=1.0, data_format="NHWC",
            is_training=True)
        shape = tf.shape(inputs)
        m = tf.cast(shape[0] * shape[1] * shape[2], tf.float32)
        var = var * (m - 1.0) / tf.maximum(m, 1.0)
        self.moving_mean.assign(self.moving_mean * self.momentum
                                + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum
                                    + var * (1.0 - self.momentum))
        return tf.cast(y, self.compute_dtype)


def recompute_statistics(model, x, batch_size, forward=None):
    """Sets every ``keras.layers.BatchNormalization`` of ``model`` to the statistics of its
    current weights on ``x``: the mean of the batch moments over the full batches of
    ``batch_size`` rows (momentum ``i / (i + 1)`` at batch ``i`` is a running mean), each
    batch run in training mode by ``forward(batch)`` (default: ``model.loss_terms(batch,
    training=True)``, as in training). The moving averages a run evaluates with otherwise
    still hold ``momentum ** steps`` of their initial values (0.99^50 = 61 % after 50 steps),
    so a short run's test figures measure that lag as much as its weights
    (``docs/performance.md``; fvcore's PreciseBN does the same). Only the moving statistics
    change. Returns the number of layers; one replica (call it outside a strategy's run)."""
    if len(x) < batch_size:
        raise ValueError(f"recomputing batch-norm statistics needs at least one full batch of "
                         f"{batch_size} rows; got {len(x)}")
    forward = forward or (lambda b: model.loss_terms(b, training=True))
    bns = [layer for layer in model._flatten_layers()
           if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in bns]
    try:
        for i, s in enumerate(range(0, len(x) - batch_size + 1, batch_size)):
            for layer in bns:
                layer.momentum = i / (i + 1.0)
            forward(x[s:s + batch_size])
    finally:
        for layer, m in zip(bns, momenta):
            layer.momentum = m
    return len(bns)
