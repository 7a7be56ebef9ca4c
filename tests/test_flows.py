"""ActNorm's data-dependent initialisation, the LU 1x1 convolution, and the multi-scale Flow."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import perturb
from infozoo.layers import (ActNorm, Flow, GLOWCoupling, InvertibleConv1x1, Reshape, Split,
                            Squeeze)
from infozoo.nets.subnets import ConvSubnet, DenseSubnet


@keras.saving.register_keras_serializable(package="tests")
class _Holder(keras.Model):
    """A minimal model owning one ActNorm, for the .keras round trip."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.an = ActNorm()
        self.an.build((None, 3, 3, 4))
        self.built = True

    def call(self, x):
        return self.an.forward(x)[0]


def _batch(seed, shape=(16, 3, 3, 4), loc=2.0, scale=3.0):
    return np.random.RandomState(seed).normal(loc, scale, shape).astype("float32")


@pytest.mark.parametrize("graph", [False, True])
def test_actnorm_initialises_on_the_first_batch_only(graph):
    layer = ActNorm()
    layer.build((None, 3, 3, 4))
    fwd = tf.function(layer.forward) if graph else layer.forward
    x = _batch(0)
    y, ld = fwd(x)
    y = y.numpy()
    np.testing.assert_allclose(y.mean((0, 1, 2)), np.zeros(4), atol=1e-5)
    np.testing.assert_allclose(y.std((0, 1, 2)), np.ones(4), rtol=1e-4)
    assert float(layer.initialized.numpy()) == 1.0
    # log-det = positions * sum(log_s) = -9 * sum(log std)
    np.testing.assert_allclose(ld, np.full(16, -9 * np.log(x.std((0, 1, 2))).sum()), rtol=1e-4)
    b = layer.bias.numpy().copy()
    y2 = fwd(_batch(1, loc=-5.0)).__getitem__(0).numpy()   # not re-initialised
    np.testing.assert_array_equal(layer.bias.numpy(), b)
    assert abs(y2.mean()) > 1.0


def test_actnorm_init_is_saved_with_the_model(tmp_path):
    m = _Holder()
    m(_batch(2))                                            # initialises
    path = str(tmp_path / "m.keras")
    m.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert float(loaded.an.initialized.numpy()) == 1.0
    x = _batch(3, loc=-7.0, scale=0.1)                      # would re-initialise very differently
    np.testing.assert_allclose(loaded(x), m(x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(loaded.an.bias.numpy(), m.an.bias.numpy())


@pytest.mark.slow  # trains
def test_actnorm_trains_inside_fit_and_initialises_there():
    layer = ActNorm()
    layer.build((None, 5))

    class M(keras.Model):
        def __init__(self):
            super().__init__()
            self.an = layer

        def call(self, x):
            return self.an.forward(x)[0]

    m = M()
    m.compile(optimizer="sgd", loss="mse")
    x = np.random.RandomState(0).normal(3.0, 2.0, (32, 5)).astype("float32")
    m.fit(x, np.zeros_like(x), epochs=1, batch_size=32, verbose=0)
    assert float(layer.initialized.numpy()) == 1.0
    # the step's loss mean(y^2) has d/db_j = 2 exp(log_s_j) mean_i(y_ij) / 5 = 0 at the
    # initialised b = -mean(x) (each channel of y has mean 0), so SGD leaves b there: only
    # log_s moves. The bound is float32 rounding of the mean (|mean| ~3: 3e-7 relative)
    np.testing.assert_allclose(layer.bias.numpy(), -x.mean(0), rtol=1e-5, atol=1e-5)


def test_lu_conv_starts_as_a_rotation_and_keeps_its_factorisation():
    layer = InvertibleConv1x1(seed=5, dtype="float64")
    layer.build((None, 2, 2, 6))
    w = layer.matrix().numpy()
    np.testing.assert_allclose(w @ w.T, np.eye(6), atol=1e-12)
    assert np.abs(w - np.eye(6)).max() > 0.1
    perturb(layer.trainable_variables, 0.5, seed=1)
    p, lower, upper = (t.numpy() for t in layer._factors(tf.float64))
    assert np.allclose(np.diag(lower), 1) and np.allclose(np.triu(lower, 1), 0)
    assert np.allclose(np.tril(upper, -1), 0)
    np.testing.assert_array_equal(p @ p.T, np.eye(6))
    w = layer.matrix().numpy()
    x = np.random.RandomState(2).normal(size=(3, 2, 2, 6))
    y, ld = layer.forward(x)
    np.testing.assert_allclose(y.numpy(), x @ w.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ld.numpy(), 4 * np.linalg.slogdet(w)[1], rtol=1e-12)
    assert set(v.name for v in layer.non_trainable_variables) == {"perm", "sign_s"}


# -- the multi-scale Flow ---------------------------------------------------------------
def _glow_like(dt="float64", g="zero", eps=1.0, cond=None):
    return Flow([Squeeze(dtype=dt), ActNorm(dtype=dt), InvertibleConv1x1(seed=1, dtype=dt),
                 GLOWCoupling(ConvSubnet(6, 1), cond_shape=cond, dtype=dt),
                 Split(2, 4, g=g, eps=eps, hidden=4, dtype=dt),
                 Squeeze(dtype=dt), ActNorm(dtype=dt), InvertibleConv1x1(seed=2, dtype=dt),
                 GLOWCoupling(ConvSubnet(6, 1), cond_shape=cond, dtype=dt),
                 Split(4, 8, g=g, eps=eps, hidden=4, dtype=dt),
                 Reshape((1, 1, 4), (-1,), dtype=dt),
                 GLOWCoupling(DenseSubnet(6), cond_shape=cond, dtype=dt)], dtype=dt)


def _images(n, seed=0, dt="float64"):
    return np.random.RandomState(seed).rand(n, 4, 4, 1).astype(dt)


def test_multiscale_flow_is_a_bijection_with_the_change_of_variables_density():
    flow = _glow_like()
    x = _images(3)
    flow.forward(_images(8, seed=9))                       # ActNorm's data-dependent init
    perturb([v for v in flow.trainable_variables if "bias" not in v.path
             and "log_scale" not in v.path], 0.3, seed=1)
    assert flow.multiscale and flow.bijective
    assert flow.z_shape == (4,) and flow.r_shapes == [(2, 2, 2), (1, 1, 4)]
    assert flow.compute_output_shape((None, 4, 4, 1)) == (None, 16)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        v, ld = flow.forward(xt)
    jac = tape.batch_jacobian(v, xt).numpy().reshape(3, 16, 16)
    np.testing.assert_allclose(ld.numpy(), np.linalg.slogdet(jac)[1], rtol=1e-9, atol=1e-9)
    assert np.abs(ld.numpy()).max() > 1e-2
    x_back, ld_inv = flow.inverse(tf.identity(v))
    np.testing.assert_allclose(x_back.numpy(), x, atol=1e-12)
    np.testing.assert_allclose(ld_inv.numpy(), -ld.numpy(), atol=1e-10)
    # the parts, kept apart, are v cut up; g = 0, eps = 1: every part standard normal
    z, rs, ld2 = flow.forward_factored(x)
    np.testing.assert_array_equal(flow.flatten_parts(z, rs).numpy(), v.numpy())
    expected = (-0.5 * v.numpy() ** 2 - 0.5 * math.log(2 * math.pi)).sum(1) + ld.numpy()
    np.testing.assert_allclose(flow.log_prob(x).numpy(), expected, rtol=1e-12)
    t = flow.log_prob_terms(x)
    np.testing.assert_allclose(t["log_prob"], t["log_pz"] + t["log_pr"] + t["logdet"])


def test_multiscale_flow_with_learned_split_priors():
    """PIE's priors: log p(x) = log N(z) + sum_l log N(r_l | g_l(z_l), eps^2 I) + logdet."""
    flow = _glow_like(g="learned", eps=0.3)
    x = _images(4, seed=2)
    flow.forward(x)
    perturb(flow.trainable_variables, 0.2, seed=3)
    h, lp, ld = tf.constant(x), 0.0, 0.0
    for s in flow.steps:
        if isinstance(s, Split):
            r = h[..., s.keep:].numpy()
            h = h[..., :s.keep]
            g = s.g_net(h).numpy()
            assert np.abs(g).max() > 1e-3
            lp += (-0.5 * ((r - g) / 0.3) ** 2 - math.log(0.3)
                   - 0.5 * math.log(2 * math.pi)).reshape(4, -1).sum(1)
        else:
            h, ld_s = s.forward(h)
            ld += ld_s.numpy()
    lz = (-0.5 * h.numpy() ** 2 - 0.5 * math.log(2 * math.pi)).sum(1)
    np.testing.assert_allclose(flow.log_prob(x).numpy(), lz + lp + ld, rtol=1e-12)
    # decoding without the parts fills in g(z): PIE's extension (eq. 20)
    z, rs, _ = flow.forward_factored(x)
    x_mean = flow.inverse_factored(z)[0].numpy()
    assert np.abs(x_mean - x).max() > 1e-3
    z2 = flow.forward_factored(x_mean)[0]
    np.testing.assert_allclose(z2.numpy(), z.numpy(), atol=1e-10)


def test_multiscale_flow_samples_at_temperatures_and_shows_every_step():
    flow = _glow_like("float32")
    flow.forward(_images(8, dt="float32"))
    s0 = flow.sample(5, temperature=0.0).numpy()
    s1 = flow.sample(5, temperature=1.0).numpy()
    assert s0.shape == (5, 4, 4, 1) and np.all(np.isfinite(s1))
    # T = 0: every part at its prior's mean (0), the same image for every draw
    np.testing.assert_allclose(s0, np.repeat(flow.inverse(np.zeros((1, 16), "float32"))[0], 5,
                                             0), atol=1e-6)
    assert s1.std(0).max() > 1e-2
    reps, z = flow.representations(_images(3, dt="float32"))
    names = [r["name"] for r in reps]
    assert len(names) == len(flow.steps) - 1 and "reshape" not in " ".join(names)
    assert [r["bijective"] for r in reps if "dropped" in r] == [False, False]
    inv = flow.inverse_representations(z)
    assert len(inv) == len(reps) and inv[-1]["value"].shape == (3, 4, 4, 1)


def test_conditional_multiscale_flow_log_prob_depends_on_the_condition():
    flow = _glow_like("float32", cond=(3,))
    x = _images(4, dt="float32")
    c = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    flow.forward(x, c)
    perturb([v for v in flow.trainable_variables if "net" in v.path], 0.2, seed=4)
    lp = flow.log_prob(x, c).numpy()
    assert np.abs(flow.log_prob(x, c[::-1]).numpy() - lp).max() > 1e-3
    v, _ = flow.forward(x, c)
    np.testing.assert_allclose(flow.inverse(v, c)[0], x, atol=1e-5)
    assert flow.sample(2, 1.0, c=c[:2]).shape == (2, 4, 4, 1)


def test_split_takes_a_subnet_constructor_for_g():
    import json
    split = Split(3, 5, eps=0.5, subnet=DenseSubnet(6, 1, "tanh"))
    z = np.random.RandomState(0).normal(size=(2, 3)).astype("float32")
    np.testing.assert_array_equal(split.inverse(z)[0][:, 3:], np.zeros((2, 2)))  # g starts at 0
    perturb(split.trainable_variables, 0.5)
    cfg = json.loads(json.dumps(keras.saving.serialize_keras_object(split)))
    clone = keras.saving.deserialize_keras_object(cfg)
    if not clone.built:
        clone.build((None, 5))
    clone.set_weights(split.get_weights())
    assert clone.g_net.layers[1].activation.__name__ == "tanh"
    np.testing.assert_allclose(clone.mean_r(z), split.mean_r(z), rtol=1e-6)
    assert np.abs(split.mean_r(z)).max() > 1e-3
