"""The stochastic-encoder family: IPAE's eq. 10, priors, KL, MMD extras, toy25, E, SVM probe."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from infozoo.evaluation import svm_robustness
from infozoo.data import toy
from infozoo.losses.information import pairwise_information_bound
from infozoo.losses.mmd import DEFAULT_SCALES, mmd
from infozoo.losses.priors import (LOGISTIC_UNIT_SCALE, gaussian_kl_to_standard_normal,
                                   make_prior, sample_prior)

tfd = tfp.distributions


# -- IPAE eq. 10 -------------------------------------------------------------------------
def _eq10_triple_loop(mu, sigma, eps, nj):
    """Plain loops over i, k, j; partners J(i) = {(i + s) mod N : s = 1..N_j} (all j if N_j = N)."""
    n, k_samples, d = eps.shape
    out = np.zeros(n)
    for i in range(n):
        partners = list(range(n)) if nj >= n else [(i + s) % n for s in range(1, nj + 1)]
        total = 0.0
        for k in range(k_samples):
            for j in partners:
                for c in range(d):
                    diff = mu[j, c] - mu[i, c] - sigma[i, c] * eps[i, k, c]
                    total += diff * diff / sigma[j, c] ** 2
        out[i] = total / (2.0 * k_samples * len(partners))
    return out


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("nj", [1, 2, 5])   # 5 = N: the whole batch
def test_eq10_matches_numpy_triple_loop(nj, k):
    rng = np.random.RandomState(nj * 10 + k)
    n, d = 5, 3
    mu = rng.normal(size=(n, d))
    sigma = rng.uniform(0.3, 2.0, size=(n, d))
    eps = rng.normal(size=(n, k, d))
    ref = _eq10_triple_loop(mu, sigma, eps, nj)
    got = pairwise_information_bound(tf.constant(mu), tf.constant(sigma), tf.constant(eps), nj)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10)


@pytest.mark.slow  # ~6 s
def test_eq10_whole_batch_spellings_agree_and_work_with_unknown_batch_size():
    rng = np.random.RandomState(0)
    mu, sigma = rng.normal(size=(6, 2)), rng.uniform(0.5, 1.5, size=(6, 2))
    eps = rng.normal(size=(6, 2, 2))
    ref = _eq10_triple_loop(mu, sigma, eps, 6)
    for nj in (0, 6, 50):
        np.testing.assert_allclose(pairwise_information_bound(mu, sigma, eps, nj), ref,
                                   rtol=1e-10)
    spec = [tf.TensorSpec([None, 2], tf.float64), tf.TensorSpec([None, 2], tf.float64),
            tf.TensorSpec([None, None, 2], tf.float64)]
    for nj, want in ((0, ref), (10, ref), (2, _eq10_triple_loop(mu, sigma, eps, 2))):
        fn = tf.function(lambda a, b, c, nj=nj: pairwise_information_bound(a, b, c, nj),
                         input_signature=spec)
        np.testing.assert_allclose(fn(mu, sigma, eps), want, rtol=1e-10)


def test_eq10_full_batch_is_stable_for_collapsed_codes_with_small_sigma():
    """Far from the origin with small sigma, float32: the moment form has no catastrophic
    cancellation (the naive a^2 W - 2 a M + C expansion loses every digit here)."""
    rng = np.random.RandomState(1)
    mu = (100.0 + 0.01 * rng.normal(size=(8, 2))).astype(np.float32)
    sigma = np.full((8, 2), 1e-2, np.float32)
    eps = rng.normal(size=(8, 2, 2)).astype(np.float32)
    ref = _eq10_triple_loop(mu.astype(np.float64), sigma.astype(np.float64),
                            eps.astype(np.float64), 8)
    np.testing.assert_allclose(pairwise_information_bound(mu, sigma, eps, 0), ref, rtol=5e-3)


# -- MMD (tests/test_losses.py has the IMQ reference, near-0/shift and batch-2 tests) -----
def _numpy_mmd_rbf(x, y, scales=DEFAULT_SCALES):
    def k(a, b):
        d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return sum(np.exp(-d2 / (2 * a.shape[1] * s)) for s in scales)
    n, m = len(x), len(y)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return ((kxx.sum() - np.trace(kxx)) / (n * (n - 1))
            + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())


def test_mmd_rbf_matches_numpy_reference():
    rng = np.random.RandomState(2)
    x, y = rng.normal(size=(11, 4)), rng.normal(0.5, 1.0, size=(7, 4))
    np.testing.assert_allclose(mmd(x, y, kernel="rbf").numpy(), _numpy_mmd_rbf(x, y), rtol=1e-10)


@pytest.mark.slow  # 400 estimates, ~9 s
def test_mmd_estimator_is_unbiased():
    """E[MMD^2_u] = 0 for one distribution: small batches average to ~0 (a biased V-statistic
    would stay clearly positive)."""
    rng = np.random.RandomState(3)
    vals = [float(mmd(rng.normal(size=(8, 2)), rng.normal(size=(8, 2)))) for _ in range(400)]
    sem = np.std(vals) / np.sqrt(len(vals))
    assert abs(np.mean(vals)) < 4 * sem
    assert min(vals) < 0 < max(vals)


def test_mmd_separates_logistic_prior_from_a_shifted_one():
    gen = keras.random.SeedGenerator(0)
    a = sample_prior("logistic", 400, 3, gen)
    b = sample_prior("logistic", 400, 3, gen)
    # MMD^2_u of two such samples of 400 has sd 0.0047 (100 pairs of draws, seed 1): 0.02 is
    # 4.3 sd; a shift of 1 gave 0.83-1.2 over 30 pairs, so 0.1 is far below its smallest
    assert abs(float(mmd(a, b))) < 0.02
    assert float(mmd(a, b + 1.0)) > 0.1


# -- priors and KL --------------------------------------------------------------------
def test_analytic_kl_matches_tfp():
    rng = np.random.RandomState(4)
    mu, sigma = rng.normal(size=(5, 3)), rng.uniform(0.1, 3.0, size=(5, 3))
    q = tfd.MultivariateNormalDiag(mu, sigma)
    p = tfd.MultivariateNormalDiag(np.zeros(3), np.ones(3))
    np.testing.assert_allclose(gaussian_kl_to_standard_normal(mu, sigma),
                               tfd.kl_divergence(q, p), rtol=1e-10)


def test_logistic_prior_has_unit_variance_and_finite_samples():
    assert math.isclose(LOGISTIC_UNIT_SCALE ** 2 * math.pi ** 2 / 3, 1.0, rel_tol=1e-12)
    prior = make_prior("logistic", 4)
    assert isinstance(prior, tfd.Independent)
    np.testing.assert_allclose(prior.variance(), np.ones(4), rtol=1e-6)
    np.testing.assert_allclose(prior.mean(), np.zeros(4), atol=1e-7)
    s = sample_prior("logistic", 20000, 4, keras.random.SeedGenerator(1)).numpy()
    assert s.shape == (20000, 4) and np.all(np.isfinite(s))
    np.testing.assert_allclose(s.var(0), np.ones(4), atol=0.06)
    assert prior.log_prob(s).shape == (20000,)
    # reproducible with the same seed, and normal really is standard
    again = sample_prior("logistic", 20000, 4, keras.random.SeedGenerator(1)).numpy()
    np.testing.assert_array_equal(s, again)
    np.testing.assert_allclose(make_prior("normal", 2).stddev(), [1.0, 1.0])
    with pytest.raises(ValueError, match="prior must be"):
        make_prior("cauchy", 2)


# -- toy25 and E ----------------------------------------------------------------------
def test_toy25_shapes_labels_and_means():
    xtr, ytr, xte, yte = toy.toy25_arrays("toy25")
    assert xtr.shape == (5000, 1, 1, 2) and xte.shape == (5000, 1, 1, 2)
    assert xtr.dtype == np.float32 and ytr.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(ytr), np.full(25, 200))
    means = toy.grid_means(2.0)
    assert sorted(set(means[:, 0])) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    pts = xtr.reshape(-1, 2)
    for c in range(25):
        np.testing.assert_allclose(pts[ytr == c].mean(0), means[c], atol=0.09)
    resid = pts - means[ytr]
    np.testing.assert_allclose(np.cov(resid.T), 0.1 * np.eye(2), atol=0.01)
    assert not np.array_equal(xtr, xte)
    # the spacing is configurable through the dataset name, and data.py does not rescale
    from infozoo.data.loaders import dataset_names, load_arrays
    assert "toy25" in dataset_names()
    x3, y3, _, _ = load_arrays("toy25:3", train_size=100)
    assert x3.shape == (100, 1, 1, 2)
    np.testing.assert_allclose(x3.reshape(-1, 2), toy.make_toy25(spacing=3.0)[0][:100, 0, 0])
    assert np.abs(x3).max() > 3.0
    with pytest.raises(ValueError):
        toy.parse_name("toy25:-1")


def test_E_on_a_known_case():
    y = np.array([0, 12, 24, 7])
    means = toy.grid_means(2.0)
    assert toy.mean_distance_to_component(means[y], y) == 0.0
    shifted = means[y] + np.array([3.0, 4.0])   # every reconstruction 5 away from its mean
    assert math.isclose(toy.mean_distance_to_component(shifted.reshape(-1, 1, 1, 2), y), 5.0)
    assert toy.grid_means(2.0)[12].tolist() == [0.0, 0.0]


@pytest.mark.slow  # ~4 s
def test_robustness_table_on_images_takes_the_unclipped_corruptions():
    """VIMAE §5.3's Gaussian corruptions leave [0, 1] (x + N(0, 0.4^2), not clipped): the
    evaluator encodes them although the public encode() refuses such images (a full-size
    run failed at its evaluation on exactly this)."""
    from infozoo.settings.registry import get_model_class
    rng = np.random.RandomState(0)
    x = rng.rand(120, 8, 8, 1).astype("float32")
    y = rng.randint(0, 3, 120)
    m = get_model_class("vae")(input_shape=(8, 8, 1), code_size=2, hidden=[16], probe_size=60,
                               probe_protocol="corrupted")
    with pytest.raises(ValueError, match=r"\[0.0, 1.0\]"):
        m.encode(svm_robustness.corrupt(x[:8], "gauss_0.4"))
    rep = m.evaluator(batch_size=64)(x[60:], y[60:], x[:60], y[:60], dataset="tiny")
    assert {"svm_clean", "svm_gauss_0.4", "svm_mask_0.5"} <= set(rep.metrics)
    assert all(0.0 <= rep.metrics[k] <= 1.0 for k in ("svm_gauss_0.4", "svm_mask_0.5"))


def test_toy25_evaluator_returns_metrics_and_scatters_and_the_reporter_writes_them(tmp_path):
    """The evaluator computes (E, MMD, SVM table, scatter arrays) and writes nothing; the
    reporter writes the PNGs and tables."""
    from infozoo.evaluation.evaluators import StochasticEvaluator
    from infozoo.evaluation.report import write_report
    from infozoo.settings.registry import get_model_class
    xtr, ytr, xte, yte = toy.toy25_arrays("toy25")
    m = get_model_class("vae")(input_shape=(1, 1, 2), code_size=2, hidden=[16], probe_size=200,
                               input_range=None)  # points, not pixels
    ev = m.evaluator(batch_size=128)
    assert isinstance(ev, StochasticEvaluator)
    rep = ev(xte[:300], yte[:300], xtr[:400], ytr[:400], dataset="toy25")
    assert not (tmp_path / "images").exists() and list(tmp_path.iterdir()) == []
    x_hat = np.asarray(m.reconstruct(xte[:300]))
    assert rep.metrics["toy25_E"] == pytest.approx(
        toy.mean_distance_to_component(x_hat, yte[:300]), rel=1e-6)
    assert rep.metrics["labels"] == "given" and np.isfinite(rep.metrics["mmd_prior"])
    assert 0.0 <= rep.metrics["svm_clean"] <= 1.0
    # both protocols (issue 10): svm_* trains on corrupted codes (VIMAE §5.3), svm_cleanfit_*
    # on clean codes; on uncorrupted inputs the two are the same classifier
    assert rep.metrics["svm_cleanfit_clean"] == rep.metrics["svm_clean"]
    assert {"svm_gauss_0.4", "svm_cleanfit_gauss_0.4", "svm_mask_0.5",
            "svm_cleanfit_mask_0.5"} <= set(rep.metrics)
    assert set(rep.scatters) == {"toy25_reconstructions", "toy25_samples", "codes_2d"}
    assert rep.scatters["codes_2d"][1]["z"].shape == (300, 2)
    paths = write_report(rep, str(tmp_path))
    for name in ("toy25_reconstructions", "toy25_samples", "codes_2d"):
        png = (tmp_path / "images" / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    import json
    tables = json.loads((tmp_path / "robustness.json").read_text())
    assert tables["corrupted"]["clean"] == rep.metrics["svm_clean"]
    assert tables["clean"]["gauss_0.4"] == rep.metrics["svm_cleanfit_gauss_0.4"]
    assert "| vae (SVM trained on corrupted codes) |" in (tmp_path / "robustness.md").read_text()
    assert len(paths) == 5
    # without labels: no E, no table; image-shaped data gives a prior-sample grid instead
    rep = m.evaluator()(xte[:50])
    assert "toy25_E" not in rep.metrics and rep.metrics["labels"] == "none" and not rep.tables


# -- linear SVM probe -----------------------------------------------------------------
def test_svm_probe_on_separable_codes():
    rng = np.random.RandomState(5)
    centres = np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 0.0], [0.0, 6.0, 0.0]])
    y = rng.randint(0, 3, 600)
    z = centres[y] + rng.normal(0, 0.5, (600, 3))
    assert svm_robustness.linear_svm_accuracy(z[:400], y[:400], z[400:], y[400:]) == 1.0
    # a robustness table with the identity "encoder" on 8x8 images that are separable
    x = np.zeros((600, 8, 8, 1), np.float32)
    x[np.arange(600), y, 0, 0] = 5.0
    table = svm_robustness.robustness_table(lambda b: np.asarray(b).reshape(len(b), -1),
                                          x[:400], y[:400], x[400:], y[400:], train_size=300)
    assert list(table) == ["clean", "gauss_0.2", "gauss_0.3", "gauss_0.4", "mask_0.2", "mask_0.5"]
    assert table["clean"] == 1.0 and table["gauss_0.2"] == 1.0
    assert table["mask_0.5"] < 1.0     # half the informative pixels are masked
    md = svm_robustness.markdown_table({"id": table})
    assert md.splitlines()[0].startswith("| model | clean |") and "| id | 100.0 |" in md


def test_corruptions():
    x = np.full((200, 4, 4, 1), 0.5, np.float32)
    g = svm_robustness.corrupt(x, "gauss_0.3")
    # 3,200 draws: the sample sd of N(0, 0.3^2) has SE 0.3 / sqrt(2 * 3200) = 0.0038 (0.02 is
    # 5 SE) and the masked fraction of Bernoulli(0.2) SE sqrt(0.2 * 0.8 / 3200) = 0.0071
    se = np.sqrt(0.2 * 0.8 / x.size)
    assert abs(float(np.std(g - x)) - 0.3) < 0.02
    m = svm_robustness.corrupt(x, "mask_0.2")
    assert abs(float(np.mean(m == 0)) - 0.2) < 4.5 * se and set(np.unique(m)) <= {0.0, 0.5}
    np.testing.assert_array_equal(svm_robustness.corrupt(x, "clean"), x)


# -- model details the shared suite does not see --------------------------------------
def test_vimae_noise_is_truncated_and_only_in_training():
    from infozoo.models.vimae import truncated_normal_noise
    n = truncated_normal_noise([20000], 0.01, 0.01, keras.random.SeedGenerator(0)).numpy()
    assert np.abs(n).max() <= 0.01 + 1e-7 and 0.004 < n.std() < 0.006  # N(0,1) on [-1,1]: 0.54
    from tiny import make
    m = make("vimae")
    x = np.random.RandomState(0).rand(4, 8, 8, 1).astype("float32")
    np.testing.assert_array_equal(m.encode(x), m.encode(x))
    assert m.loss_terms(x, training=True)["mmd"].shape == (4,)
    # the encoder's input: unchanged at inference, x + nu while training (fresh draws, each
    # within the clip; 1e-6 covers float32 rounding of x + nu near 1)
    assert m.perturb_input(x, training=False) is x
    d1, d2 = (np.asarray(m.perturb_input(x, training=True)) - x for _ in range(2))
    assert 0 < np.abs(d1).max() <= m.hp["noise_clip"] + 1e-6 and not np.array_equal(d1, d2)


def test_ipae_bank_fills_and_samples_from_it():
    from tiny import make
    m = make("ipae", bank_size=4)
    x = np.random.RandomState(0).rand(6, 8, 8, 1).astype("float32")
    assert int(m.bank_count.numpy()) == 0
    m.loss_terms(x, training=True)      # a batch of 6 into a bank of 4: the last 4 are kept
    assert int(m.bank_count.numpy()) == 4
    mu, sigma = m.encoder_params(x)
    np.testing.assert_allclose(np.sort(m.bank_mu.numpy(), 0), np.sort(mu.numpy()[-4:], 0),
                               rtol=1e-6)
    m.loss_terms(x[:3], training=False)   # evaluation does not touch the bank
    assert int(m.bank_count.numpy()) == 4
    assert m.sample(3, 0.0).shape == (3, 8, 8, 1)


def test_vae_loss_is_recon_plus_beta_kl():
    """(IPAE's eq. 11 has its own test above.)"""
    from tiny import make
    x = np.random.RandomState(1).rand(5, 8, 8, 1).astype("float32")
    m = make("vae")
    t = m.loss_terms(x, training=False)
    np.testing.assert_allclose(t["loss"], t["recon"] + m.hp["beta"] * t["kl"], rtol=1e-5)


def test_bce_reconstruction_matches_formula():
    from infozoo.models.stochastic import reconstruction_loss
    rng = np.random.RandomState(2)
    x, logits = rng.rand(3, 2, 2, 1), rng.normal(size=(3, 2, 2, 1))
    p = 1 / (1 + np.exp(-logits))
    ref = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(3, -1).sum(1)
    np.testing.assert_allclose(reconstruction_loss("bce", x, logits, "sigmoid"), ref, rtol=1e-10)
    np.testing.assert_allclose(reconstruction_loss("l2", x, logits, "linear"),
                               ((x - logits) ** 2).reshape(3, -1).sum(1), rtol=1e-12)


def test_ipae_objective_is_eq_11_and_info_bound_is_corrected():
    """loss = 1/2 recon + beta * eq. 10 (the paper's beta); info_bound = eq. 10 - d/2 nats,
    about 0 for an encoder that carries no information (mu constant, sigma = 1)."""
    import tensorflow as tf

    from infozoo.losses.information import pairwise_information_bound
    from tiny import make
    m = make("ipae", beta=0.3, nj=0)
    x = np.random.RandomState(0).rand(16, 8, 8, 1).astype("float32")
    t = {k: np.asarray(v, np.float64) for k, v in m.loss_terms(x).items()}
    d = m.code_size
    np.testing.assert_allclose(t["loss"], 0.5 * t["recon"] + 0.3 * (t["info_bound"] + d / 2),
                               rtol=1e-5, atol=1e-5)
    # no information: mu = 0, sigma = 1 for every example; the mean over many draws of
    # eq. 10 is ||eps_i||^2 / 2 per example, of mean d/2, so the corrected bound is ~0
    n, dd = 4000, 3
    eps = tf.random.stateless_normal([n, 1, dd], seed=[1, 2], dtype=tf.float64)
    b = pairwise_information_bound(tf.zeros([n, dd], tf.float64), tf.ones([n, dd], tf.float64),
                                   eps, nj=0)
    corrected = float(np.mean(b)) - dd / 2
    # sd of the mean of ||eps||^2 / 2 over 4000 draws: sqrt(2 * 3) / 2 / sqrt(4000) = 0.019
    assert abs(corrected) < 0.08, corrected


def test_image_evaluator_reports_sample_sharpness_as_pie_does():
    """PIE Table 1 compares sample sharpness of PIE with the VAE's: the stochastic evaluator
    reports ``sharpness_true`` (test images) and ``sharpness_T1`` (decoded prior samples, in
    [0, 1]) under the names the density evaluator uses."""
    from infozoo.settings.registry import get_model_class
    from infozoo.evaluation.sharpness import sharpness
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(40, 8, 8, 1)).astype(np.float32)
    m = get_model_class("vae")(input_shape=(8, 8, 1), code_size=2, hidden=[16], probe_size=0)
    rep = m.evaluator(batch_size=16, sharpness_samples=30)(x)
    assert rep.metrics["sharpness_true"] == pytest.approx(sharpness(x[:30]), rel=1e-6)
    # a barely trained VAE decodes every prior sample to nearly the same blurry image: its
    # decoder starts near a constant output, whose sharpness (a Laplacian's variance) is
    # near 0, while uniform noise images are as sharp as images get; not a close call
    assert 0.0 <= rep.metrics["sharpness_T1"] < rep.metrics["sharpness_true"]
    assert len(rep.grids["prior_samples"]) == 5
