"""The TFP adapter against TFP's own behaviours: copy, batch shape, caches, log-dets,
tf.function with a dynamic batch, and trainable variables that are the flow's."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from conftest import perturb
from infozoo.layers import (ActNorm, Flow, GLOWCoupling, InvertibleConv1x1, Reshape, RNVPCoupling,
                            Split, Squeeze)
from infozoo.layers.bijector import LayerBijector, as_bijector
from infozoo.nets.subnets import ConvSubnet, DenseSubnet

tfd = tfp.distributions
SHAPE = (4, 4, 1)


def _flow(dt="float32", cond=None, seed=0):
    flow = Flow([Squeeze(dtype=dt), ActNorm(data_init=False, dtype=dt),
                 InvertibleConv1x1(seed=1, dtype=dt),
                 GLOWCoupling(ConvSubnet(5, 1), cond_shape=cond, dtype=dt),
                 Split(2, 4, g="zero", eps=1.0, dtype=dt),
                 Reshape((2, 2, 2), (-1,), dtype=dt),
                 RNVPCoupling(DenseSubnet(6), cond_shape=cond, dtype=dt)], dtype=dt)
    flow.build((None, *SHAPE))
    perturb(flow.trainable_variables, 0.2, seed)
    return flow


def _x(n, seed=1, dt="float32"):
    return np.random.RandomState(seed).normal(size=(n, *SHAPE)).astype(dt)


def _dist(flow, **kw):
    return tfd.TransformedDistribution(
        tfd.Sample(tfd.Normal(tf.constant(0.0, flow.compute_dtype), 1.0), [16]),
        as_bijector(flow, SHAPE, **kw))


def test_copy_and_batch_shape():
    flow = _flow()
    bij = as_bijector(flow, SHAPE)
    twin = bij.copy()
    assert isinstance(twin, LayerBijector) and twin.layer is flow
    x = _x(3)
    np.testing.assert_allclose(twin.inverse(tf.identity(x)), bij.inverse(tf.identity(x)))
    encoder = bij.copy(generative=False)
    np.testing.assert_allclose(encoder.forward(tf.identity(x)), flow.forward(x)[0])
    assert bij.experimental_batch_shape() == tf.TensorShape([])
    assert bij.experimental_batch_shape_tensor().numpy().tolist() == []
    dist = _dist(flow)
    assert dist.batch_shape == tf.TensorShape([]) and dist.event_shape == SHAPE
    assert dist.copy().log_prob(x).shape == (3,)


def test_round_trips_through_tf_identity_break_the_cache():
    flow = _flow()
    bij = as_bijector(flow, SHAPE)
    z = np.random.RandomState(2).normal(size=(5, 16)).astype("float32")
    x = bij.forward(tf.identity(z))
    np.testing.assert_allclose(bij.inverse(tf.identity(x)), z, rtol=1e-5, atol=1e-5)
    xs = _x(5)
    np.testing.assert_allclose(bij.forward(tf.identity(bij.inverse(tf.identity(xs)))), xs,
                               rtol=1e-5, atol=1e-5)
    fldj = bij.forward_log_det_jacobian(tf.identity(z), 1)
    ildj = bij.inverse_log_det_jacobian(tf.identity(x), 3)
    np.testing.assert_allclose(fldj, -ildj, rtol=1e-5, atol=1e-5)


def test_log_det_matches_autodiff_in_float64():
    flow = _flow("float64")
    bij = as_bijector(flow, SHAPE)
    z = tf.constant(np.random.RandomState(3).normal(size=(3, 16)))
    with tf.GradientTape() as tape:
        tape.watch(z)
        x = tf.reshape(bij.forward(z), [3, -1])
    jac = tape.batch_jacobian(x, z).numpy()
    fldj = bij.forward_log_det_jacobian(tf.identity(z), 1).numpy()
    np.testing.assert_allclose(fldj, np.linalg.slogdet(jac)[1], rtol=1e-10, atol=1e-10)
    assert np.abs(fldj).max() > 1e-2
    # the density: standard-normal split parts make the flow's own log_prob the same
    xs = _x(4, dt="float64")
    np.testing.assert_allclose(_dist(flow).log_prob(tf.identity(xs)), flow.log_prob(xs),
                               rtol=1e-12)


def test_under_tf_function_with_a_dynamic_batch_and_sample_shapes():
    flow = _flow()
    dist = _dist(flow)
    lp = tf.function(dist.log_prob,
                     input_signature=[tf.TensorSpec([None, *SHAPE], tf.float32)])
    for n in (1, 6):
        x = _x(n, seed=n)
        np.testing.assert_allclose(lp(x), dist.log_prob(tf.identity(x)), rtol=1e-5, atol=1e-4)
    x = _x(6).reshape(2, 3, *SHAPE)                    # extra sample dimensions
    assert dist.log_prob(x).shape == (2, 3)
    s = tf.function(lambda: dist.sample([2, 3], seed=4))()
    assert s.shape == (2, 3, *SHAPE) and np.all(np.isfinite(s))


@pytest.mark.slow  # trains
def test_trainable_variables_are_the_flows_and_train_it():
    flow = _flow()
    dist = _dist(flow)
    ours = {id(v.value) for v in flow.trainable_variables}
    assert {id(v) for v in dist.trainable_variables} == ours
    assert {id(v) for v in dist.bijector.trainable_variables} == ours
    assert len(dist.bijector.variables) == len(flow.variables) > len(ours)  # LU perm, signs
    x = _x(32, seed=5) * 0.3 + 1.0
    before = [v.numpy().copy() for v in flow.trainable_variables]
    nll0 = -float(tf.reduce_mean(dist.log_prob(x)))
    for _ in range(20):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(dist.log_prob(x))
        grads = tape.gradient(loss, dist.trainable_variables)
        assert all(g is not None for g in grads)
        for v, g in zip(dist.trainable_variables, grads):
            v.assign_sub(0.02 * g)
    assert -float(tf.reduce_mean(dist.log_prob(x))) < nll0 - 0.5
    assert any(not np.allclose(b, v.numpy()) for b, v in zip(before, flow.trainable_variables))


def test_refusals_and_conditions():
    with pytest.raises(ValueError, match="drops information"):
        as_bijector(Split(2, 4), (4,))
    flow = _flow(cond=(3,))
    with pytest.raises(ValueError, match="condition=c"):
        as_bijector(flow, SHAPE)
    c = np.eye(3, dtype="float32")[[0, 1, 2, 1]]
    x = _x(4)
    dist = _dist(flow, condition=c)
    np.testing.assert_allclose(dist.log_prob(tf.identity(x)), flow.log_prob(x, c), rtol=1e-5,
                               atol=1e-4)
    other = dist.bijector.copy(condition=c[::-1])
    assert np.abs(other.inverse(tf.identity(x)) - dist.bijector.inverse(tf.identity(x))).max() > 1e-4
    with pytest.raises(ValueError, match="takes no condition"):
        as_bijector(_flow(), SHAPE, condition=c)
