"""Tests of PIE (Pseudo-Invertible Encoder), its Householder and Split layers, and sharpness."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import perturb
from infozoo.layers.householder import Householder
from infozoo.layers.split import Split
from infozoo.models.pie import PIE
from infozoo.evaluation.sharpness import sharpness, sharpness_per_image

TINY = dict(input_shape=(8, 8, 1), conv_hidden=8, conv_hidden_layers=1, linear_hidden=16,
            linear_hidden_layers=1, g_hidden=8, couplings_per_block=2, reflections=2)


def images(n, shape=(8, 8, 1), seed=0, dtype="float32"):
    return np.random.RandomState(seed).rand(n, *shape).astype(dtype)


# -- Householder -------------------------------------------------------------------
def test_householder_orthogonal_after_training():
    layer = Householder(reflections=3, seed=1)
    layer.build((None, 6))
    v0 = layer.v.numpy().copy()
    opt = keras.optimizers.Adam(0.1)
    x = tf.constant(np.random.RandomState(0).randn(32, 6), tf.float32)
    target = tf.constant(np.random.RandomState(1).randn(32, 6), tf.float32)
    for _ in range(5):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((layer.forward(x)[0] - target) ** 2)
        opt.apply_gradients(zip(tape.gradient(loss, [layer.v]), [layer.v]))
    assert np.abs(layer.v.numpy() - v0).max() > 1e-3, "the optimizer did not move v"
    w = layer.forward(tf.eye(6))[0].numpy()          # W with forward(x) = x @ W
    np.testing.assert_allclose(w @ w.T, np.eye(6), atol=1e-5)
    np.testing.assert_allclose(w, layer.matrix().numpy(), atol=1e-6)
    assert np.abs(w - np.eye(6)).max() > 0.1, "the product of reflections is trivially I"
    assert abs(abs(np.linalg.det(w)) - 1) < 1e-5
    y, ld = layer.forward(x)
    np.testing.assert_array_equal(ld.numpy(), np.zeros(32))
    xr, ld_inv = layer.inverse(y)
    np.testing.assert_allclose(xr.numpy(), x.numpy(), atol=1e-5)
    np.testing.assert_array_equal(ld_inv.numpy(), np.zeros(32))


def test_householder_acts_on_channels_of_nhwc():
    layer = Householder(reflections=3, seed=2)
    x = images(2, (3, 3, 4))
    y = layer.forward(x)[0].numpy()
    w = layer.matrix().numpy()
    np.testing.assert_allclose(y, x @ w, atol=1e-5)


def test_householder_tiny_vector_is_identity():
    layer = Householder(reflections=2)
    layer.build((None, 3))
    layer.v.assign(np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], np.float32))
    w = layer.matrix().numpy()
    np.testing.assert_allclose(w, np.diag([-1.0, 1.0, 1.0]), atol=1e-7)


# -- Split ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape,keep", [((5,), 3), ((2, 2, 4), 2)])
def test_split_log_density_closed_form(shape, keep):
    eps = 0.1
    layer = Split(keep, shape[-1], eps=eps, g="learned", hidden=8)
    layer.build((None, *shape))
    perturb(layer.trainable_variables, 0.3)
    x = images(4, shape, seed=3)
    z, r, lp = layer.split_forward(x)
    x_ext, ld = layer.inverse(z)                     # [z, g(z)]
    g = x_ext.numpy()[..., keep:]
    assert np.abs(g).max() > 1e-3, "g is trivially zero"
    np.testing.assert_array_equal(x_ext.numpy()[..., :keep], x[..., :keep])
    n = r.numpy()[0].size
    diff = (r.numpy() - g).reshape(4, -1)
    closed = -0.5 * (diff ** 2).sum(1) / eps ** 2 - n / 2 * math.log(2 * math.pi * eps ** 2)
    np.testing.assert_allclose(lp.numpy(), closed, rtol=1e-5)
    y, ld_f = layer.forward(x)
    np.testing.assert_array_equal(y.numpy(), x[..., :keep])
    np.testing.assert_array_equal(ld_f.numpy(), np.zeros(4))
    np.testing.assert_allclose(layer.forward(x_ext)[0].numpy(), z.numpy())   # right inverse
    assert not layer.bijective


def test_split_zero_g():
    layer = Split(2, 6, eps=1.0, g="zero")
    x_ext, _ = layer.inverse(images(3, (2,)))
    np.testing.assert_array_equal(x_ext.numpy()[:, 2:], np.zeros((3, 4)))


@pytest.mark.parametrize("eps", [0.0, -0.1])
def test_eps_must_be_positive(eps):
    with pytest.raises(ValueError, match="eps must be > 0"):
        Split(2, 4, eps=eps)
    with pytest.raises(ValueError, match="PIE eps: .* must be > 0"):
        PIE(**{**TINY, "eps": eps})


# -- the whole model -------------------------------------------------------------------
def test_architecture_and_shapes():
    m = PIE(**TINY)
    # 8x8x1 -> 4x4x4 -> 4x4x2 -> 2x2x8 -> 2x2x4 = 16 -> 16 (64 clipped) -> 10 -> 10
    assert [s[2] for s in m.block_shapes] == [(4, 4, 2), (2, 2, 4), (16,), (10,), (10,)]
    assert m.code_size == 10
    assert len(m.splits) == 3
    x = images(3)
    z = m.encode(x)
    assert tuple(z.shape) == (3, 10)
    assert tuple(m.decode(z).shape) == (3, 8, 8, 1)
    assert tuple(m.reconstruct(x).shape) == (3, 8, 8, 1)
    assert tuple(m.sample(4, 0.5).shape) == (4, 8, 8, 1)
    assert tuple(m.log_prob(x).shape) == (3,)
    with pytest.raises(ValueError, match="odd size"):
        PIE(**{**TINY, "input_shape": (6, 6, 1)})


def test_decode_encode_is_identity_on_z():
    m = PIE(**TINY, input_range=None)  # decoding random codes leaves [0, 1]
    perturb(m.trainable_variables, 0.05)
    z = np.random.RandomState(0).randn(4, 10).astype("float32")
    np.testing.assert_allclose(m.encode(m.decode(z)).numpy(), z, atol=1e-4)


@pytest.fixture(scope="module")
def model64():
    # the global dtype policy is made from floatx on its first use and then kept: restore both
    policy = keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    try:
        m = PIE(**{**TINY, "dtype": "float64"})
    finally:
        keras.config.set_floatx("float32")
        keras.config.set_dtype_policy(policy)
    perturb(m.trainable_variables, 0.1, seed=4)
    return m


@pytest.mark.slow  # a 64x64 PIE, ~5 s
def test_full_flow_round_trip_and_logdet(model64):
    m = model64
    x = tf.constant(images(2, dtype="float64", seed=5))
    v, logdet = m.flow.forward(x)
    assert v.dtype == tf.float64 and tuple(v.shape) == (2, 64)
    x_back, logdet_inv = m.flow.inverse(v)
    np.testing.assert_allclose(x_back.numpy(), x.numpy(), atol=1e-10)
    np.testing.assert_allclose(logdet_inv.numpy(), -logdet.numpy(), atol=1e-10)
    with tf.GradientTape() as tape:
        tape.watch(x)
        v = m.flow.forward(x)[0]
    jac = tape.batch_jacobian(v, x).numpy().reshape(2, 64, 64)
    sign, slogdet = np.linalg.slogdet(jac)
    assert np.all(sign != 0)
    assert np.abs(logdet.numpy()).max() > 1e-2, "log-det trivially 0: couplings are identities"
    np.testing.assert_allclose(logdet.numpy(), slogdet, atol=1e-8)


def test_log_prob_is_multiscale_flow_when_g_zero_eps_one():
    """§3.4: g = 0 and eps = 1 give a multi-scale flow, log N(F(x); 0, I) + log|det J_F|."""
    m = PIE(**{**TINY, "g": "zero", "eps": 1.0})
    perturb(m.trainable_variables, 0.1, seed=6)
    x = images(3, seed=7)
    # walk the steps independently: splits are plain slices, every part is N(0, 1)
    h, parts, logdet = tf.constant(x), [], np.zeros(3)
    for s in m.flow.steps:
        if isinstance(s, Split):
            parts.append(h[..., s.keep:].numpy().reshape(3, -1))
            h = h[..., :s.keep]
        else:
            h, ld = s.forward(h)
            logdet += ld.numpy()
    parts.append(h.numpy())
    v = np.concatenate(parts, 1)
    assert v.shape == (3, 64)
    expected = (-0.5 * v ** 2 - 0.5 * math.log(2 * math.pi)).sum(1) + logdet
    np.testing.assert_allclose(m.log_prob(x).numpy(), expected, rtol=1e-5, atol=1e-3)
    v2, ld2 = m.flow.forward(x)
    # flow.forward orders the parts [z, r_1, ..., r_L]
    np.testing.assert_allclose(v2.numpy(), np.concatenate([parts[-1]] + parts[:-1], 1),
                               atol=1e-5)
    np.testing.assert_allclose(ld2.numpy(), logdet, rtol=1e-5, atol=1e-4)


def test_loss_terms_consistent():
    m = PIE(**{**TINY, "dequantize": False})
    perturb(m.trainable_variables, 0.05, seed=8)
    x = images(3, seed=9)
    t = {k: v.numpy() for k, v in m.loss_terms(x).items()}
    assert set(t) == set(m.term_names)
    np.testing.assert_allclose(t["nll"], -(t["log_pz"] + t["log_pr"] + t["logdet"]), rtol=1e-5)
    np.testing.assert_allclose(t["loss"], t["nll"])
    np.testing.assert_allclose(t["nll"], -m.log_prob(x).numpy(), rtol=1e-5)
    bpd = (t["nll"] / 64 + math.log(256)) / math.log(2)
    np.testing.assert_allclose(t["bits_per_dim"], bpd, rtol=1e-5)
    md = PIE(**TINY)
    md.set_weights(m.get_weights())
    noisy = md.loss_terms(x)["nll"].numpy()
    assert np.all(np.isfinite(noisy)) and not np.allclose(noisy, t["nll"])


@pytest.mark.slow  # trains
def test_one_training_step_finite():
    # a shallower PIE than TINY: graph tracing of the train step dominates the run time
    m = PIE(**{**TINY, "conv_blocks": 1, "linear_dims": [4], "couplings_per_block": 1})
    m.compile(optimizer=keras.optimizers.Adam(1e-3))
    hist = m.fit(images(16, seed=10), epochs=1, batch_size=8, verbose=0)
    assert set(m.term_names) <= set(hist.history)
    assert np.isfinite(hist.history["loss"][0])
    assert all(np.all(np.isfinite(v.numpy())) for v in m.trainable_variables)


def test_config_round_trip():
    m = PIE(**{**TINY, "eps": 0.316, "linear_dims": [12, 6]})
    perturb(m.trainable_variables, 0.05, seed=11)
    cfg = m.get_config()
    assert cfg["eps"] == 0.316 and list(cfg["linear_dims"]) == [12, 6]
    m2 = PIE.from_config(cfg)
    m2.set_weights(m.get_weights())
    x = images(2, seed=12)
    np.testing.assert_allclose(m2.log_prob(x).numpy(), m.log_prob(x).numpy(), rtol=1e-6)
    np.testing.assert_allclose(m2.encode(x).numpy(), m.encode(x).numpy(), atol=1e-6)
    assert m2.code_size == 6


def test_export_endpoints_signatures():
    m = PIE(**TINY)
    eps = m.export_endpoints()
    assert {"encode", "decode", "reconstruct", "sample", "log_prob"} <= set(eps)
    fn, spec = eps["log_prob"]
    assert tuple(fn(images(2)).shape) == (2,)
    fn, spec = eps["sample"]
    assert [s.name for s in spec] == ["n", "temperature", "seed"]
    a = fn(tf.constant(3), tf.constant(0.5), tf.constant(7, tf.int64))
    assert tuple(a.shape) == (3, 8, 8, 1)
    np.testing.assert_array_equal(a, fn(tf.constant(3), tf.constant(0.5),
                                        tf.constant(7, tf.int64)))   # a seed repeats
    assert tuple(fn(tf.constant(2), tf.constant(0.5), tf.constant(-1, tf.int64)).shape) == \
        (2, 8, 8, 1)                                                  # < 0: global generator


# -- sharpness ---------------------------------------------------------------------------
def test_sharpness_definition():
    x = images(3, (6, 7, 1), seed=13)
    k = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32)
    resp = np.zeros((3, 4, 5))
    for i in range(4):
        for j in range(5):
            resp[:, i, j] = (x[:, i:i + 3, j:j + 3, 0] * k).sum((1, 2))
    np.testing.assert_allclose(sharpness_per_image(x).numpy(), resp.var((1, 2)), rtol=1e-5)
    np.testing.assert_allclose(sharpness(x, batch_size=2), resp.var((1, 2)).mean(), rtol=1e-5)
    rgb = np.repeat(x, 3, axis=-1)
    # rgb_to_grayscale weights sum to 0.9999, so the variance differs by ~2e-4
    np.testing.assert_allclose(sharpness(rgb), sharpness(x), rtol=1e-3)
    assert sharpness(np.full((2, 5, 5, 1), 0.3, np.float32)) == pytest.approx(0.0, abs=1e-10)


def test_evaluator_computes_and_the_reporter_writes_grids(tmp_path):
    from infozoo.evaluation.report import write_report
    m = PIE(**TINY)
    report = m.evaluator(sharpness_samples=20)(images(12, seed=14))
    assert not (tmp_path / "images").exists()
    write_report(report, str(tmp_path))
    met = report.metrics
    for k in ("test_loss", "test_bits_per_dim", "recon_mse", "recon_l1", "sharpness_true",
              "sharpness_T1", "sharpness_T0.71"):
        assert np.isfinite(met[k]), k
    for name in ("pie_reconstructions", "pie_samples_T1", "pie_samples_T0.71",
                 "pie_interpolation"):
        assert (tmp_path / "images" / f"{name}.png").exists()


def test_density_models_refuse_non_image_shapes():
    """PIE and Glow share the image-shape check (DequantizedDensity.build_flow)."""
    from infozoo.settings.registry import get_model_class
    for name, cls_name in (("pie", "PIE"), ("glow", "Glow")):
        with pytest.raises(ValueError, match=rf"{cls_name} expects images \[H, W, C\]"):
            get_model_class(name)(input_shape=(64,))
