"""The plain networks' building blocks agree with the Keras layers they stand in for."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from infozoo.nets.batch_norm import BatchNormalization


def _pair(shape, dtype):
    layers = [keras.layers.BatchNormalization(momentum=0.9, dtype=dtype),
              BatchNormalization(momentum=0.9, dtype=dtype)]
    for layer in layers:
        layer.build(shape)
        layer.gamma.assign(np.linspace(0.5, 2.0, shape[-1]))
        layer.beta.assign(np.linspace(-0.3, 0.3, shape[-1]))
    return layers


def _train_pass(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        w = tf.constant(np.random.RandomState(1).randn(*x.shape), tf.float32)
        loss = tf.reduce_sum(tf.cast(y, tf.float32) * w)
    grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
    return [tf.cast(v, tf.float32).numpy() for v in
            [y, *grads, layer.moving_mean, layer.moving_variance]]


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_fused_batch_norm_equals_keras_batch_norm(policy):
    """Outputs, gradients (input, gamma, beta) and moving statistics of one training pass,
    then the inference pass. float32: both compute in float32, so they differ by sums taken
    in another order (rtol 1e-5 of the largest entry). bf16: both round a float32 result to
    bf16 (relative step 2^-8), so an entry may differ by one bf16 step of its value."""
    x = np.random.RandomState(0).randn(16, 6, 6, 5).astype("float32") * 3 + 1
    ref, ours = _pair(x.shape, policy)
    xt = tf.constant(x, ref.compute_dtype)
    a, b = _train_pass(ref, xt), _train_pass(ours, xt)
    tol = 1e-5 if policy == "float32" else 2.0 ** -7
    for name, u, v in zip(["y", "dx", "dgamma", "dbeta", "moving_mean", "moving_var"], a, b):
        np.testing.assert_allclose(v, u, rtol=tol, atol=tol * np.abs(u).max(), err_msg=name)
    np.testing.assert_allclose(ours(xt, training=False).numpy().astype("float32"),
                               ref(xt, training=False).numpy().astype("float32"),
                               rtol=tol, atol=tol)
    # the fused kernel ran (the Bessel correction undone: moving variance is Keras')
    assert isinstance(ours, keras.layers.BatchNormalization)
    assert ours._fusable(xt, True, None) and not ours._fusable(xt, False, None)


def test_fused_batch_norm_keeps_keras_config_and_weights():
    layer = BatchNormalization(momentum=0.9, synchronized=True, name="bn")
    layer.build((None, 4, 4, 3))
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(clone) is BatchNormalization and clone.get_config() == layer.get_config()
    assert [w.path for w in layer.weights] == ["bn/gamma", "bn/beta", "bn/moving_mean",
                                                "bn/moving_variance"]


@pytest.mark.parametrize("bn", [BatchNormalization, keras.layers.BatchNormalization])
def test_recompute_statistics_is_the_mean_of_the_batch_moments(bn):
    """After recompute_statistics the moving mean and variance are the averages over the full
    batches of each batch's mean and (biased) variance of the layer's input: computed here
    from the convolution's output directly. A trailing partial batch is not used."""
    from infozoo.nets.batch_norm import recompute_statistics
    keras.utils.set_random_seed(0)
    conv = keras.layers.Conv2D(3, 3)
    norm = bn(momentum=0.99)
    net = keras.Sequential([keras.Input((6, 6, 2)), conv, norm])
    x = np.random.RandomState(0).randn(4 * 8 + 5, 6, 6, 2).astype("float32") * 2 + 1
    n = recompute_statistics(net, x, 8, forward=lambda b: net(b, training=True))
    h = np.asarray(conv(x[:32]), np.float64).reshape(4, 8 * 4 * 4, 3)  # 4 full batches
    mean, var = h.mean(1).mean(0), h.var(1).mean(0)
    assert n == 1 and norm.momentum == 0.99
    # float32 moments of 128 rows per channel: relative error ~1e-6
    np.testing.assert_allclose(np.asarray(norm.moving_mean), mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(norm.moving_variance), var, rtol=1e-4)
    with pytest.raises(ValueError, match="at least one full batch"):
        recompute_statistics(net, x[:5], 8, forward=lambda b: net(b, training=True))
