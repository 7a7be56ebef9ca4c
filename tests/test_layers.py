"""The invariant suite: every registered invertible layer, the same checks."""
import numpy as np
import pytest
import tensorflow as tf

from conftest import perturb
from infozoo.layers import LAYER_REGISTRY, AffineCoupling, Flow, HaarDownsampling, Reshape
from infozoo.layers import FixedPermutation, Householder, Inverted, Split, Squeeze
from infozoo.layers import ActNorm, AdditiveCoupling, GLOWCoupling, InvertibleConv1x1, RNVPCoupling
from infozoo.layers import MaskedAutoregressive, RQSplineCoupling
from infozoo.nets.subnets import ConvSubnet, DenseSubnet
from infozoo.testing import (check_config_round_trip, check_gradients, check_invertible,
                             check_logdet, check_mixed_policy, check_round_trip)

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
    "RQSplineCoupling": (lambda dt: RQSplineCoupling(DenseSubnet(7), bins=4, bound=2.5,
                                                     dtype=dt), (5,)),
    "RQSplineCoupling_conv_cond": (lambda dt: RQSplineCoupling(ConvSubnet(5, 1), bins=3,
                                                               cond_shape=(2,), dtype=dt),
                                   (3, 3, 3), (2,)),
    "MaskedAutoregressive": (lambda dt: MaskedAutoregressive((9, 8), clamp=1.5, dtype=dt), (4,)),
    "MaskedAutoregressive_reverse_cond": (lambda dt: MaskedAutoregressive(
        7, activation="tanh", order="reverse", cond_shape=(3,), dtype=dt), (2, 2, 3), (3,)),
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
    check_round_trip(layer, x, c, scale=scale)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_logdet_matches_autodiff_jacobian(name):
    layer, x, c = _make(name, dtype="float64", batch=3)
    # a non-trivial Jacobian is tested wherever the layer has weights that change the volume
    check_logdet(layer, x, c, nontrivial=bool(layer.trainable_variables) and not
                 VOLUME_PRESERVING.intersection(name.split("_")))


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_gradients_finite(name):
    check_gradients(*_make(name))


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_config_round_trip(name):
    check_config_round_trip(*_make(name))   # through JSON, as a .keras file stores it


def test_haar_is_orthonormal_and_orders_low_pass_first():
    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    y, _ = HaarDownsampling().forward(x)
    np.testing.assert_allclose(np.sum(y.numpy() ** 2), np.sum(x ** 2), rtol=1e-6)
    # the first channel is the 2x2 block mean times 2
    np.testing.assert_allclose(y[0, 0, 0, 0], (0 + 1 + 4 + 5) / 2.0)
    # every channel against the definition, with C = 2 input channels (the blocks' order)
    x = np.random.RandomState(0).rand(2, 4, 6, 2).astype("float32")
    a, b, c, d = x[:, 0::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 0::2], x[:, 1::2, 1::2]
    ref = np.concatenate([a + b + c + d, a - b + c - d, a + b - c - d, a - b - c + d], -1) / 2
    y, _ = HaarDownsampling().forward(x)
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(HaarDownsampling().inverse(y)[0], x, rtol=1e-6, atol=1e-6)


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


@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("policy", sorted(MIXED))
def test_round_trip_and_logdet_under_mixed_policy(name, policy):
    """Under a mixed policy the subnets run in bf16/fp16, the layer's own arithmetic in
    float32: the round trip is float32-exact (the inverse recomputes every subnet on the
    same input half) and the log-det matches the float32 autodiff Jacobian."""
    layer, x, c = _make(name, dtype=policy, batch=2)
    assert layer.compute_dtype == "float32" and x.dtype == np.float32
    # all-float32 layers have no Jacobian to check here; flows are made of the layers checked
    # one by one (saves time; test_check_invertible_on_registered_layers checks a flow's)
    subnets = check_mixed_policy(layer, x, c, policy, jacobian=not name.startswith("Flow"))
    if any(k in name for k in ("Coupling", "Flow")):
        assert subnets, "a coupling without subnets was tested"


@pytest.mark.parametrize("name", ["RNVPCoupling_cond", "Flow_multiscale"])
def test_check_invertible_on_registered_layers(name):
    """The public harness (float64 and mixed-policy copies made from the layer's config) on a
    conditional coupling and a multi-scale flow, the flow's mixed-policy Jacobian included."""
    check_invertible(*_make(name))


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_masked_autoregressive_is_autoregressive_and_starts_as_identity(order):
    layer = MaskedAutoregressive((10, 6), order=order, dtype="float64")
    x = tf.constant(np.random.RandomState(0).normal(size=(3, 5)))
    y, ld = layer.forward(x)            # fresh: the last MADE layer is zero, the identity
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(ld, np.zeros(3))
    perturb(layer.trainable_variables, 0.5)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y, _ = layer.forward(x)
    jac = tape.batch_jacobian(y, x).numpy()   # dy_i / dx_j
    upper = np.triu(np.ones((5, 5)), 1).astype(bool)
    zero = upper if order == "forward" else upper.T   # y_i depends on x_j, j <= i, only
    assert np.abs(jac[:, zero]).max() == 0.0
    assert np.abs(jac[:, ~zero & ~np.eye(5, dtype=bool)]).max() > 1e-3   # and does depend


def test_spline_coupling_starts_as_identity_and_bounds_its_interval():
    layer = RQSplineCoupling(DenseSubnet(6), bins=5, bound=2.0)
    x = np.random.RandomState(0).normal(0, 2, (6, 4)).astype("float32")
    y, ld = layer.forward(x)
    np.testing.assert_allclose(y, x, atol=1e-6)
    np.testing.assert_allclose(ld, np.zeros(6), atol=1e-5)
    perturb(layer.trainable_variables, 0.5)
    y, _ = layer.forward(x)
    outside = np.abs(x) > 2.0          # identity outside [-bound, bound]
    np.testing.assert_array_equal(y.numpy()[outside], x[outside])
    assert np.abs(y.numpy()[~outside] - x[~outside]).max() > 1e-3
    assert np.all(np.abs(y.numpy()[~outside]) <= 2.0 + 1e-6)
    with pytest.raises(ValueError, match="bins"):
        RQSplineCoupling("dense", bins=1)


@pytest.mark.parametrize("slope", [0.0, 0.1, 1.0])
def test_leaky_relu_gradient_from_output_equals_the_op(slope):
    """nets.subnets.leaky_relu differentiates through its output (so oneDNN fuses it into
    the convolution); its gradient, pfor Jacobian and forward-mode JVP equal the plain
    op's exactly (the same select on the same sign), 0 included."""
    from infozoo.nets.subnets import leaky_relu
    x = tf.constant(np.concatenate([np.random.RandomState(0).randn(3, 5), np.zeros((3, 1))],
                                   1).astype("float32"))
    fns = {"ours": lambda v: leaky_relu(2.0 * v, slope),
           "op": lambda v: tf.nn.leaky_relu(2.0 * v, alpha=slope)}
    out = {}
    for name, fn in fns.items():
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = fn(x)
            s = tf.reduce_sum(y * tf.range(6.0))
        jac = tape.batch_jacobian(y, x, experimental_use_pfor=True)
        with tf.autodiff.ForwardAccumulator(x, tf.ones_like(x)) as acc:
            yf = fn(x)
        out[name] = [y, tape.gradient(s, x), jac, acc.jvp(yf)]
    for a, b in zip(out["ours"], out["op"]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
