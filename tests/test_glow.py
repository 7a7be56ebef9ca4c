"""The glow zoo model: architecture, density, temperatures, and the CLI train -> probe path."""
import json

import numpy as np
import pytest
import tensorflow as tf

from conftest import invoke_cli, perturb
from infozoo.layers import ActNorm, InvertibleConv1x1, Split
from infozoo.models.density import DequantizedDensity
from infozoo.models.glow import Glow
from infozoo.models.pie import PIE
from tiny import SHAPE, TINY

X = np.random.RandomState(0).rand(5, *SHAPE).astype("float32")


def _glow(**over):
    m = Glow(input_shape=SHAPE, **{**TINY["glow"], **over})
    m.encode(X)                          # ActNorm's data-dependent init
    perturb([v for v in m.trainable_variables if "coupling" in v.path], 0.05, seed=1)
    return m


def test_architecture_and_exact_code():
    m = _glow()
    kinds = [type(s).__name__ for s in m.flow.steps]
    assert kinds.count("ActNorm") == kinds.count("InvertibleConv1x1") == 2
    assert kinds.count("Split") == 1 and m.flow.multiscale and m.flow.bijective
    assert m.flow.z_shape == (2, 2, 8) and m.flow.r_shapes == [(4, 4, 2)]
    assert m.code_size == 64
    assert all(float(s.initialized.numpy()) == 1.0 for s in m.flow.steps
               if isinstance(s, ActNorm))
    np.testing.assert_allclose(m.reconstruct(X), X, atol=1e-5)
    with pytest.raises(ValueError, match="odd size"):
        Glow(input_shape=(6, 6, 1), levels=2)
    with pytest.raises(ValueError, match="split_prior"):
        Glow(input_shape=SHAPE, split_prior="laplace")


def test_density_is_the_flows_and_shares_pies_code():
    assert Glow.bits_per_dim is PIE.bits_per_dim is DequantizedDensity.bits_per_dim
    assert Glow.dequantize_noise is PIE.dequantize_noise
    m = _glow(dequantize=False, num_bins=16)
    t = {k: v.numpy() for k, v in m.loss_terms(X).items()}
    v, ld = m.flow.forward(X)
    expected = (-0.5 * v.numpy() ** 2 - 0.5 * np.log(2 * np.pi)).sum(1) + ld.numpy()
    np.testing.assert_allclose(-t["nll"], expected, rtol=1e-5)
    np.testing.assert_allclose(t["bits_per_dim"], (t["nll"] / 64 + np.log(16)) / np.log(2),
                               rtol=1e-6)
    learned = _glow(split_prior="learned")
    assert [s.g for s in learned.flow.steps if isinstance(s, Split)] == ["learned"]


def test_samples_at_temperatures():
    m = _glow()
    s0 = m.sample(3, 0.0).numpy()
    np.testing.assert_allclose(s0, np.repeat(m.decode(np.zeros((1, 64), "float32")), 3, 0),
                               atol=1e-5)
    s7 = m.sample(200, 0.7).numpy()
    s1 = m.sample(200, 1.0).numpy()
    assert s1.shape == (200, *SHAPE) and np.all(np.isfinite(s1))
    # the latent spread scales with T, so do the samples (around the T = 0 image)
    assert np.abs(s1 - s0[:1]).mean() > np.abs(s7 - s0[:1]).mean() > 0


@pytest.mark.slow  # ~4 s
def test_lu_steps_are_seeded_differently():
    m = _glow(steps_per_level=2)
    ws = [s.matrix().numpy() for s in m.flow.steps if isinstance(s, InvertibleConv1x1)
          and s.matrix().shape == (4, 4)]
    assert len(ws) == 2 and np.abs(ws[0] - ws[1]).max() > 0.1


@pytest.mark.slow  # the CLI in process: trains, exports, probes
def test_cli_train_export_and_probe(tmp_path):
    run = tmp_path / "glow"
    p = invoke_cli("train", "glow", "--dataset", "digits", "--epochs", "1", "--train-size", "64",
                "--test-size", "64", "--batch-size", "32", "--steps-per-level", "1",
                "--hidden", "8", "--sharpness-samples", "32", "--quiet", "--run-dir", run,
                check=0)
    assert "glow" in p.stdout
    m = json.loads((run / "metrics.json").read_text())
    for k in ("test_loss", "test_bits_per_dim", "sharpness_T1", "sharpness_T0.7"):
        assert np.isfinite(m[k]), k
    assert m["recon_mse"] < 1e-8                     # a bijection: exact reconstructions
    for png in ("glow_samples_T1", "glow_samples_T0.7", "glow_reconstructions"):
        assert (run / "images" / f"{png}.png").exists(), png
    saved = tf.saved_model.load(str(run / "export"))
    x = np.random.RandomState(1).rand(3, 8, 8, 1).astype("float32")
    assert saved.log_prob(tf.constant(x))["log_prob"].shape == (3,)
    assert saved.sample(tf.constant(4), tf.constant(0.7),
                        tf.constant(0, tf.int64))["samples"].shape == (4, 8, 8, 1)
    p = invoke_cli("probe", run, "--json", "--samples", "64", check=0)
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert res["zoo"] == "glow" and res["n"] == 64
    names = [r["name"] for r in res["layers"]]
    assert names[0] == "input" and names[-1] == "reconstruction" and "code" in names
    assert "level0_split" in names and res["dropped"]
