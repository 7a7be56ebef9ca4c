"""The invariant suite: every registered invertible layer, the same checks."""
import numpy as np
import pytest
import tensorflow as tf

from conftest import perturb
from infozoo.layers import LAYER_REGISTRY, AffineCoupling, Flow, HaarDownsampling, Reshape
from infozoo.layers import FixedPermutation, Householder, Inverted, Split, Squeeze

# name -> (factory(dtype), per-example input shape). Every registered layer must be here.
FACTORIES = {
    "AffineCoupling": (lambda dt: AffineCoupling("conv", hidden=6, kernel_size=3, clamp=1.0,
                                                 dtype=dt), (4, 4, 3)),
    "AffineCoupling_dense": (lambda dt: AffineCoupling("dense", hidden=7, separate_st=True,
                                                       clamp=2.0, dtype=dt), (5,)),
    "HaarDownsampling": (lambda dt: HaarDownsampling(dtype=dt), (4, 4, 2)),
    "Squeeze": (lambda dt: Squeeze(dtype=dt), (4, 4, 2)),
    "Reshape": (lambda dt: Reshape((2, 2, 3), (-1,), dtype=dt), (2, 2, 3)),
    "FixedPermutation": (lambda dt: FixedPermutation(seed=3, dtype=dt), (6,)),
    "Inverted": (lambda dt: Inverted(HaarDownsampling(dtype=dt), dtype=dt), (2, 2, 8)),
    "Householder": (lambda dt: Householder(reflections=3, seed=1, dtype=dt), (3, 3, 4)),
    "Flow": (lambda dt: Flow([HaarDownsampling(dtype=dt),
                              AffineCoupling("conv", hidden=5, dtype=dt),
                              Reshape((2, 2, 4), (-1,), dtype=dt),
                              AffineCoupling("dense", hidden=5, dtype=dt)], dtype=dt),
             (4, 4, 1)),
}
# Layers that drop information have their own tests (tests/test_pie.py for Split).
NOT_BIJECTIVE = {"Split"}


def test_every_registered_layer_is_in_the_suite():
    missing = set(LAYER_REGISTRY) - {k.split("_")[0] for k in FACTORIES} - NOT_BIJECTIVE
    assert not missing, f"add these layers to FACTORIES: {sorted(missing)}"
    assert Split.bijective is False


def _make(name, dtype="float32", batch=5, seed=0, scale=1.0):
    factory, shape = FACTORIES[name]
    layer = factory(dtype)
    layer.build((None, *shape))
    perturb(layer.trainable_variables, 0.2, seed)
    x = np.random.RandomState(seed + 1).normal(0, scale, (batch, *shape)).astype(dtype)
    return layer, x


@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_round_trip(name, scale):
    layer, x = _make(name, scale=scale)
    y, ld_f = layer.forward(x)
    x_back, ld_i = layer.inverse(tf.identity(y))
    np.testing.assert_allclose(x_back, x, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(ld_f, -layer.inverse(y)[1], rtol=1e-5, atol=1e-5)
    # and the other way: forward(inverse(y)) = y
    y2 = np.random.RandomState(7).normal(0, scale, y.shape).astype("float32")
    x2, _ = layer.inverse(y2)
    np.testing.assert_allclose(layer.forward(tf.identity(x2))[0], y2, rtol=1e-5,
                               atol=1e-5 * scale)
    assert ld_f.shape == (x.shape[0],)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_logdet_matches_autodiff_jacobian(name):
    layer, x = _make(name, dtype="float64", batch=3)
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y, ld = layer.forward(x)
        y_flat = tf.reshape(y, [x.shape[0], -1])
    jac = tape.batch_jacobian(y_flat, x)
    jac = tf.reshape(jac, [x.shape[0], y_flat.shape[1], -1]).numpy()
    sign, logabs = np.linalg.slogdet(jac)
    assert np.all(sign != 0)
    np.testing.assert_allclose(ld.numpy(), logabs, rtol=1e-8, atol=1e-8)
    if layer.trainable_variables:  # a non-trivial Jacobian was tested
        assert np.abs(logabs).max() > 1e-3 or name == "Householder"


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_gradients_finite(name):
    layer, x = _make(name)
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y, ld = layer.forward(x)
        x_back, _ = layer.inverse(y)
        loss = tf.reduce_mean(y ** 2) - tf.reduce_mean(ld) + tf.reduce_mean(x_back)
    targets = [x] + list(layer.trainable_variables)  # the input too, for layers without weights
    grads = tape.gradient(loss, targets)
    for v, g in zip(targets, grads):
        assert g is not None, f"no gradient for {getattr(v, 'path', 'the input')}"
        assert np.all(np.isfinite(g)), f"non-finite gradient for {getattr(v, 'path', 'input')}"


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_config_round_trip(name):
    import keras
    layer, x = _make(name)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    if not clone.built:
        clone.build((None, *x.shape[1:]))
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone.forward(x)[0], layer.forward(x)[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(clone.inverse(layer.forward(x)[0])[0], x, rtol=1e-5, atol=1e-5)


def test_haar_is_orthonormal_and_orders_low_pass_first():
    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    y, _ = HaarDownsampling().forward(x)
    np.testing.assert_allclose(np.sum(y.numpy() ** 2), np.sum(x ** 2), rtol=1e-6)
    # the first channel is the 2x2 block mean times 2
    np.testing.assert_allclose(y[0, 0, 0, 0], (0 + 1 + 4 + 5) / 2.0)


def test_soft_clamp_bounds_the_scale():
    layer = AffineCoupling("dense", hidden=4, clamp=1.0)
    layer.build((None, 4))
    perturb(layer.trainable_variables, 50.0)
    x = np.random.RandomState(0).normal(0, 100, (8, 4)).astype("float32")
    _, ld = layer.forward(x)
    assert np.all(np.abs(ld) <= 4.0 + 1e-5)  # 4 features, |log s| < clamp = 1 each


def test_tfp_transformed_distribution_matches_layer_logdets():
    import tensorflow_probability as tfp
    from infozoo.layers.bijector import as_bijector
    tfd = tfp.distributions
    flow, x = _make("Flow", batch=4)
    base = tfd.Sample(tfd.Normal(0.0, 1.0), flow.compute_output_shape((None, 4, 4, 1))[1:])
    dist = tfd.TransformedDistribution(base, as_bijector(flow, (4, 4, 1)))
    z, ld = flow.forward(x)
    expected = base.log_prob(z) + ld
    np.testing.assert_allclose(dist.log_prob(tf.identity(x)), expected, rtol=1e-5, atol=1e-4)
    # sampling runs the layer inverse; forward of a sample gives back the base draw
    s = dist.sample(3, seed=1)
    assert s.shape == (3, 4, 4, 1) and np.all(np.isfinite(s))
    # the non-generative direction maps data to latent
    bij = as_bijector(flow, (4, 4, 1), generative=False)
    np.testing.assert_allclose(bij.forward(tf.identity(x)), z, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(tf.identity(x), 3), ld,
                               rtol=1e-5, atol=1e-5)
