"""The invariant suite: every registered invertible layer, the same checks."""
import numpy as np
import pytest
import tensorflow as tf

from conftest import perturb
from infozoo.layers import LAYER_REGISTRY, AffineCoupling, Flow, HaarDownsampling, Reshape
from infozoo.layers import FixedPermutation, Householder, Inverted, Split, Squeeze
from infozoo.layers import ActNorm, AdditiveCoupling, GLOWCoupling, InvertibleConv1x1, RNVPCoupling
from infozoo.nets.subnets import ConvSubnet, DenseSubnet

# name -> (factory(dtype), per-example input shape[, per-example condition shape]).
# Every registered layer must be here; names ending in "_cond" run with a condition c.
FACTORIES = {
    "GLOWCoupling": (lambda dt: GLOWCoupling(ConvSubnet(6, 1), clamp=1.5, dtype=dt), (4, 4, 3)),
    "GLOWCoupling_cond": (lambda dt: GLOWCoupling(ConvSubnet(6, 1), cond_shape=(2,), dtype=dt),
                          (4, 4, 3), (2,)),
    "RNVPCoupling": (lambda dt: RNVPCoupling(DenseSubnet(7), clamp=2.0, dtype=dt), (5,)),
    "RNVPCoupling_cond": (lambda dt: RNVPCoupling(
        DenseSubnet(7), cond_shape=(4,), cond_net=DenseSubnet(5), cond_channels=3, dtype=dt),
        (5,), (4,)),
    # data_init=False: random weights from perturb(); the data-dependent init is tested below
    "ActNorm": (lambda dt: ActNorm(data_init=False, dtype=dt), (3, 3, 4)),
    "ActNorm_flat": (lambda dt: ActNorm(data_init=False, dtype=dt), (5,)),
    "InvertibleConv1x1": (lambda dt: InvertibleConv1x1(seed=2, dtype=dt), (3, 3, 4)),
    "InvertibleConv1x1_flat": (lambda dt: InvertibleConv1x1(seed=3, dtype=dt), (6,)),
    "AdditiveCoupling": (lambda dt: AdditiveCoupling(DenseSubnet(6), dtype=dt), (4,)),
    "AdditiveCoupling_cond": (lambda dt: AdditiveCoupling(ConvSubnet(4, 1), cond_shape=(3, 3, 2),
                                                          dtype=dt), (3, 3, 4), (3, 3, 2)),
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
    # multi-scale: the split parts are outputs, so the flow is a bijection onto [z, r_1, r_2]
    "Flow_multiscale": (lambda dt: Flow([
        Squeeze(dtype=dt), ActNorm(data_init=False, dtype=dt), InvertibleConv1x1(dtype=dt),
        GLOWCoupling(ConvSubnet(4, 1), dtype=dt), Split(2, 4, eps=0.5, hidden=3, dtype=dt),
        Reshape((2, 2, 2), (-1,), dtype=dt), RNVPCoupling(DenseSubnet(5), dtype=dt),
        Split(3, 8, g="zero", eps=1.0, dtype=dt)], dtype=dt), (4, 4, 1)),
    "Flow_multiscale_cond": (lambda dt: Flow([
        Squeeze(dtype=dt), GLOWCoupling(ConvSubnet(4, 1), cond_shape=(2,), dtype=dt),
        Split(2, 4, g="zero", eps=1.0, dtype=dt),
        AdditiveCoupling(ConvSubnet(3, 1), cond_shape=(2,), dtype=dt)], dtype=dt),
        (4, 4, 1), (2,)),
    "Flow_cond": (lambda dt: Flow([HaarDownsampling(dtype=dt),
                                   GLOWCoupling("conv", hidden=5, cond_shape=(3,), dtype=dt),
                                   Reshape((2, 2, 4), (-1,), dtype=dt),
                                   RNVPCoupling("dense", hidden=5, dtype=dt),
                                   AdditiveCoupling("dense", hidden=4, cond_shape=(3,), dtype=dt)],
                                  dtype=dt), (4, 4, 1), (3,)),
}
# Layers that drop information have their own tests (tests/test_pie.py for Split).
NOT_BIJECTIVE = {"Split"}
# layers whose log-det is 0 by construction
VOLUME_PRESERVING = {"Householder", "AdditiveCoupling"}


def test_every_registered_layer_is_in_the_suite():
    missing = set(LAYER_REGISTRY) - {k.split("_")[0] for k in FACTORIES} - NOT_BIJECTIVE
    assert not missing, f"add these layers to FACTORIES: {sorted(missing)}"
    # the layers left out are exactly the registered ones that say they drop information
    assert NOT_BIJECTIVE == {n for n, cls in LAYER_REGISTRY.items() if not cls.bijective}


def _make(name, dtype="float32", batch=5, seed=0, scale=1.0):
    """``(layer, x, c)``: the layer built with random weights, an input batch, its condition."""
    factory, shape, *cond = FACTORIES[name]
    layer = factory(dtype)
    layer.build((None, *shape))
    perturb(layer.trainable_variables, 0.2, seed)
    rng = np.random.RandomState(seed + 1)
    dtype = layer.compute_dtype   # float32 under a mixed policy
    x = rng.normal(0, scale, (batch, *shape)).astype(dtype)
    c = rng.normal(0, 1, (batch, *cond[0])).astype(dtype) if cond else None
    assert layer.conditional == bool(cond)
    return layer, x, c


@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_round_trip(name, scale):
    layer, x, c = _make(name, scale=scale)
    y, ld_f = layer.forward(x, c)
    x_back, ld_i = layer.inverse(tf.identity(y), c)
    np.testing.assert_allclose(x_back, x, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(ld_f, -layer.inverse(y, c)[1], rtol=1e-5, atol=1e-5)
    # and the other way: forward(inverse(y)) = y
    y2 = np.random.RandomState(7).normal(0, scale, y.shape).astype("float32")
    x2, _ = layer.inverse(y2, c)
    np.testing.assert_allclose(layer.forward(tf.identity(x2), c)[0], y2, rtol=1e-5,
                               atol=1e-5 * scale)
    assert ld_f.shape == (x.shape[0],)
    if c is not None:  # the condition changes the map, and is required
        assert np.abs(layer.forward(x, c[::-1])[0] - y).max() > 1e-4
        with pytest.raises(ValueError, match="conditional"):
            layer.forward(x)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_logdet_matches_autodiff_jacobian(name):
    layer, x, c = _make(name, dtype="float64", batch=3)
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y, ld = layer.forward(x, c)
        y_flat = tf.reshape(y, [x.shape[0], -1])
    jac = tape.batch_jacobian(y_flat, x)
    jac = tf.reshape(jac, [x.shape[0], y_flat.shape[1], -1]).numpy()
    sign, logabs = np.linalg.slogdet(jac)
    assert np.all(sign != 0)
    np.testing.assert_allclose(ld.numpy(), logabs, rtol=1e-8, atol=1e-8)
    if layer.trainable_variables and not VOLUME_PRESERVING.intersection(name.split("_")):
        assert np.abs(logabs).max() > 1e-3  # a non-trivial Jacobian was tested
    # the inverse's log-det against autodiff too (y held fixed)
    y = tf.constant(y.numpy())
    with tf.GradientTape() as tape:
        tape.watch(y)
        xb, ld_i = layer.inverse(y, c)
        xb_flat = tf.reshape(xb, [x.shape[0], -1])
    jac = tf.reshape(tape.batch_jacobian(xb_flat, y), [x.shape[0], xb_flat.shape[1], -1])
    np.testing.assert_allclose(ld_i.numpy(), np.linalg.slogdet(jac.numpy())[1],
                               rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_gradients_finite(name):
    layer, x, c = _make(name)
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y, ld = layer.forward(x, c)
        x_back, _ = layer.inverse(y, c)
        loss = tf.reduce_mean(y ** 2) - tf.reduce_mean(ld) + tf.reduce_mean(x_back)
        if getattr(layer, "multiscale", False):  # the split priors' g enter the density only
            loss += tf.reduce_mean(layer.log_prob(x, c))
    targets = [x] + list(layer.trainable_variables)  # the input too, for layers without weights
    grads = tape.gradient(loss, targets)
    for v, g in zip(targets, grads):
        assert g is not None, f"no gradient for {getattr(v, 'path', 'the input')}"
        assert np.all(np.isfinite(g)), f"non-finite gradient for {getattr(v, 'path', 'input')}"


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_config_round_trip(name):
    import json

    import keras
    layer, x, c = _make(name)
    # through JSON, as a .keras file stores it
    cfg = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    clone = keras.saving.deserialize_keras_object(cfg)
    if not clone.built:
        clone.build((None, *x.shape[1:]))
    assert len(clone.weights) == len(layer.weights)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone.forward(x, c)[0], layer.forward(x, c)[0], rtol=1e-6,
                               atol=1e-6)
    np.testing.assert_allclose(clone.inverse(layer.forward(x, c)[0], c)[0], x, rtol=1e-5,
                               atol=1e-5)


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
    flow, x, _ = _make("Flow", batch=4)
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


# -- subnet constructors, conditions, float64 ---------------------------------------------
def test_any_callable_is_a_subnet_constructor_and_starts_as_identity():
    import keras

    def tiny_mlp(input_shape, output_channels):   # a plain function, no dtype/name keywords
        return keras.Sequential([keras.layers.Dense(8, activation="tanh"),
                                 keras.layers.Dense(output_channels)])

    layer = RNVPCoupling(tiny_mlp, clamp=1.0)
    x = np.random.RandomState(0).normal(size=(4, 6)).astype("float32")
    y, ld = layer.forward(x)          # built here: the template zeroes each last layer
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(ld, np.zeros(4))
    assert all(np.any(v.numpy() != 0) for v in layer.s1.layers[0].trainable_variables[:1])
    perturb(layer.trainable_variables, 0.3)
    y, ld = layer.forward(x)
    np.testing.assert_allclose(layer.inverse(y)[0], x, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="subnet constructor"):
        GLOWCoupling(lambda shape, n: "not a layer").build((None, 4))
    with pytest.raises(ValueError, match="unknown subnet kind"):
        GLOWCoupling("lstm")


def test_vector_condition_is_broadcast_over_positions():
    layer = GLOWCoupling(ConvSubnet(4, 1), cond_shape=(2,))
    layer.build((None, 3, 3, 4))
    perturb(layer.trainable_variables, 0.3)
    x = np.random.RandomState(1).normal(size=(2, 3, 3, 4)).astype("float32")
    c = np.array([[1.0, 0.0], [0.0, 1.0]], "float32")
    spatial = np.broadcast_to(c[:, None, None, :], (2, 3, 3, 2))
    ref = GLOWCoupling(ConvSubnet(4, 1), cond_shape=(3, 3, 2))
    ref.build((None, 3, 3, 4))
    ref.set_weights(layer.get_weights())
    np.testing.assert_allclose(layer.forward(x, c)[0], ref.forward(x, spatial)[0], rtol=1e-6)
    with pytest.raises(ValueError, match="takes no condition"):
        Householder(2).forward(x, c)
    with pytest.raises(ValueError, match="cond_shape"):
        GLOWCoupling("conv", cond_shape=(2, 2, 2)).build((None, 3, 3, 4))


def _leaky(a):
    return np.where(a > 0, a, 0.1 * a)


def test_float64_coupling_is_float64_throughout():
    """Against a numpy float64 reference of eqs. 1-2: float32 activations (or a float32
    round trip of any constant) would leave errors of ~1e-8, far above 1e-13."""
    layer = GLOWCoupling(DenseSubnet(7, 1, "leaky_relu"), clamp=1.3, dtype="float64")
    layer.build((None, 5))
    perturb(layer.trainable_variables, 0.7, seed=2)
    assert {l.compute_dtype for n in (layer.net1, layer.net2) for l in n.layers} == {"float64"}
    x = np.random.RandomState(3).normal(size=(4, 5))

    def st(net, u, n):
        (w1, b1), (w2, b2) = [l.get_weights() for l in net.layers if l.weights]
        out = _leaky(u @ w1 + b1) @ w2 + b2
        s = 1.3 * (2 / np.pi) * np.arctan(out[:, :n] / 1.3)
        return s, out[:, n:]

    x1, x2 = x[:, :2], x[:, 2:]
    s2, t2 = st(layer.net2, x2, 2)
    y1 = x1 * np.exp(s2) + t2
    s1, t1 = st(layer.net1, y1, 3)
    y2 = x2 * np.exp(s1) + t1
    y, ld = layer.forward(x)
    assert y.dtype == tf.float64
    np.testing.assert_allclose(y.numpy(), np.concatenate([y1, y2], 1), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(ld.numpy(), s1.sum(1) + s2.sum(1), rtol=1e-13, atol=1e-13)


def test_float64_split_prior_uses_exact_eps():
    import math
    layer = Split(2, 5, eps=0.1, g="zero", dtype="float64")
    x = np.random.RandomState(4).normal(size=(3, 5))
    lp = layer.split_forward(x)[2].numpy()
    r = x[:, 2:]
    ref = (-0.5 * r ** 2 / 0.01 - math.log(0.1) - 0.5 * math.log(2 * math.pi)).sum(1)
    np.testing.assert_allclose(lp, ref, rtol=1e-14)


# -- mixed precision: the same invariants under Keras' mixed policies ----------------------
MIXED = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}
EPS = {"bfloat16": 2.0 ** -7, "float16": 2.0 ** -10}   # machine epsilons (8 and 11 bits)


@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("policy", sorted(MIXED))
def test_round_trip_and_logdet_under_mixed_policy(name, policy):
    """Under a mixed policy the subnets run in bf16/fp16, the layer's own arithmetic in
    float32: the round trip is float32-exact (the inverse recomputes every subnet on the
    same input half) and the log-det matches the float32 autodiff Jacobian."""
    layer, x, c = _make(name, dtype=policy, batch=2)
    assert layer.compute_dtype == "float32" and x.dtype == np.float32
    subnets = [l for l in layer._flatten_layers(include_self=False)   # leaves with weights
               if l.trainable_variables and not hasattr(l, "forward")
               and not l._flatten_layers(include_self=False)]
    for net in subnets:  # the plain networks inside really compute in the low precision
        assert net.compute_dtype == MIXED[policy], (net.name, net.compute_dtype)
    if any(k in name for k in ("Coupling", "Flow")):
        assert subnets, "a coupling without subnets was tested"
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y, ld = layer.forward(x, c)
        y_flat = tf.reshape(y, [x.shape[0], -1])
    assert y.dtype == tf.float32 and ld.dtype == tf.float32
    x_back, ld_i = layer.inverse(tf.identity(y), c)
    # exact up to float32 rounding: the inverse recomputes every subnet on the same input
    np.testing.assert_allclose(x_back, x, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ld, -ld_i, rtol=1e-5, atol=1e-5)
    if not subnets or name.startswith("Flow"):
        return   # all-float32 layers, and flows of the layers checked one by one (saves time)
    jac = tape.batch_jacobian(y_flat, x)
    jac = tf.reshape(jac, [x.shape[0], y_flat.shape[1], -1]).numpy().astype("float64")
    # The log-det is the float32 sum of the applied log-scales. Autodiff's Jacobian goes
    # through the subnets' low-precision backward pass: its off-diagonal blocks (which
    # cancel in the exact determinant) carry relative errors of the low dtype's eps, so
    # slogdet agrees to ~eps * (1 + |log-det|) (bf16: 2^-7, fp16: 2^-10).
    eps = EPS[MIXED[policy]]
    np.testing.assert_allclose(ld.numpy(), np.linalg.slogdet(jac)[1], rtol=eps, atol=eps)
