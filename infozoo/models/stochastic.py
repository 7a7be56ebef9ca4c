"""The shared base of the stochastic-encoder family: IPAE, the (beta-)VAE and VIMAE.

As in disentanglement_lib, the base computes the shared parts once -- the
encoder (a Gaussian head ``(mu, sigma)`` with the reparameterisation trick, or a
deterministic code), ``K`` samples of the code, the decoder and the
reconstruction loss, the analytic KL of Gaussian encoders -- and each model
fills in one hook, ``regularizer``, that returns its weighted penalty and the
terms to log. See ``docs/ipae.md`` and ``docs/vimae.md``.

#### Encoder (IPAE eq. 3; Kingma & Welling 2014)

``z = mu(x) + sigma(x) * eps``, ``eps ~ N(0, I)``, with ``mu`` and ``sigma`` from one
dense head on the encoder trunk (``infozoo.nets.encoders``):
``sigma = softplus(s) + min_sigma`` (bounded below, so the ``1 / sigma_j^2`` of IPAE
eq. 10 stays finite, and without the exponential blow-up of ``exp(log_var / 2)``
that made the paper's small-beta VAEs fail, IPAE §4.2). ``encode(x)`` is the mean
``mu(x)`` (deterministic; what the SavedModel's ``encode`` returns). VIMAE has a
deterministic encoder instead (``gaussian_encoder = False``).

#### Reconstruction losses ``d(x, x_hat)`` (per example)

``mse``: mean over the input's values of ``(x - x_hat)^2`` (IPAE §4.1 "mean square
error"); ``l2``: their sum, ``||x - x_hat||_2^2`` (VIMAE appendix, WAE); ``bce``:
``-sum [x log x_hat + (1 - x) log(1 - x_hat)]`` (IPAE §4.2), computed from the
decoder's logits (needs ``output="sigmoid"``); ``l1``: mean of ``|x - x_hat|`` (as the
INN-AE's ``l1`` in this repo). With ``K`` samples of ``eps`` the loss is averaged over
the samples (IPAE eq. 11's ``1/K sum_k``).
"""
import keras
import numpy as np
import tensorflow as tf

from infozoo.losses.mmd import mmd
from infozoo.losses.priors import gaussian_kl_to_standard_normal, sample_prior
from infozoo.data import as_array as _as_array
from infozoo.models.base import ZooModel
from infozoo.nets.encoders import ARCHS, make_encoder_decoder

RECON_LOSSES = ("mse", "l2", "bce", "l1")
OUTPUTS = ("linear", "sigmoid")


def reconstruction_loss(kind, x, logits, output):
    """Per-example ``d(x, x_hat)`` of ``kind`` in ``RECON_LOSSES``, ``x_hat = output(logits)``."""
    b = tf.shape(x)[0]
    x = tf.reshape(x, [b, -1])
    logits = tf.reshape(logits, [b, -1])
    if kind == "bce":  # IPAE §4.2: -sum_i x_i log x~_i + (1 - x_i) log(1 - x~_i), from logits
        return tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), 1)
    x_hat = tf.sigmoid(logits) if output == "sigmoid" else logits
    err = x_hat - x
    if kind == "mse":
        return tf.reduce_mean(tf.square(err), 1)
    if kind == "l2":  # VIMAE appendix: ||x - x_g||_2^2
        return tf.reduce_sum(tf.square(err), 1)
    if kind == "l1":
        return tf.reduce_mean(tf.abs(err), 1)
    raise ValueError(f"recon must be one of {', '.join(RECON_LOSSES)}, got {kind!r}")


class StochasticAutoencoder(ZooModel):
    """Base of IPAE, VAE and VIMAE; subclasses implement ``regularizer``.

    Hyperparameters (all models): ``code_size``; ``arch`` (``mlp`` | ``conv``);
    ``hidden``, ``activation`` (mlp); ``enc_channels``, ``dec_channels``,
    ``kernel_size``, ``batch_norm`` (conv); ``recon`` (``mse`` | ``l2`` | ``bce`` | ``l1``);
    ``output`` (``linear`` | ``sigmoid``, the decoder's output activation); ``k``
    (samples of ``eps`` per example, Gaussian encoders); ``min_sigma``; ``probe_size``
    (training examples of the linear-SVM probe at evaluation, 0: no probe); ``seed``.
    """

    #: Gaussian head (mu, sigma) with the reparameterisation trick; False: deterministic code
    gaussian_encoder = True
    #: the prior ``p(z)`` used by ``sample`` and the ``mmd_prior`` metric
    prior_name = "normal"
    can_sample = True

    def __init__(self, input_shape=(28, 28, 1), code_size=8, arch="mlp", hidden=(2048,),
                 activation="relu", enc_channels=(128, 256, 512, 1024),
                 dec_channels=(1024, 512, 256), kernel_size=4, batch_norm=True, recon="mse",
                 output="linear", k=1, min_sigma=1e-4, probe_size=10000, seed=0, **kwargs):
        super().__init__(input_shape=input_shape, **kwargs)
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
        if recon not in RECON_LOSSES:
            raise ValueError(f"recon must be one of {', '.join(RECON_LOSSES)}, got {recon!r}")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, got {output!r}")
        if recon == "bce" and output != "sigmoid":
            raise ValueError("recon 'bce' (Bernoulli cross-entropy) needs output 'sigmoid'")
        for name, val, lo in (("code_size", code_size, 1), ("k", k, 1),
                              ("kernel_size", kernel_size, 1), ("probe_size", probe_size, 0)):
            if int(val) < lo:
                raise ValueError(f"{name} must be >= {lo}, got {val}")
        if not float(min_sigma) > 0:
            raise ValueError(f"min_sigma must be > 0, got {min_sigma}")
        self.hp = dict(code_size=int(code_size), arch=arch, hidden=[int(h) for h in hidden],
                       activation=activation, enc_channels=[int(c) for c in enc_channels],
                       dec_channels=[int(c) for c in dec_channels], kernel_size=int(kernel_size),
                       batch_norm=bool(batch_norm), recon=recon, output=output, k=int(k),
                       min_sigma=float(min_sigma), probe_size=int(probe_size), seed=int(seed))
        self.k = self.hp["k"]
        self.encoder, self.decoder = make_encoder_decoder(
            arch, self.image_shape, self.hp["code_size"], self.hp["hidden"], activation,
            self.hp["enc_channels"], self.hp["dec_channels"], self.hp["kernel_size"],
            self.hp["batch_norm"])
        features = int(self.encoder.compute_output_shape((None, *self.image_shape))[-1])
        width = 2 * self.hp["code_size"] if self.gaussian_encoder else self.hp["code_size"]
        self.head = keras.layers.Dense(width, name="code_head")
        self.head.build((None, features))
        self.seed_gen = keras.random.SeedGenerator(self.hp["seed"])

    # -- encoder / decoder -----------------------------------------------------------
    @property
    def code_size(self):
        return self.hp["code_size"]

    def perturb_input(self, x, training):
        """Hook: the encoder's input (VIMAE adds noise while training). Default: ``x``."""
        return x

    def encoder_params(self, x, training=False):
        """``(mu, sigma)`` ``[B, d]`` of ``q(z|x)`` (``sigma`` is None for a deterministic code)."""
        x = tf.convert_to_tensor(x, self.compute_dtype)
        h = self.head(self.encoder(self.perturb_input(x, training), training=training))
        h = tf.cast(h, self.compute_dtype)  # float32 under a mixed policy
        if not self.gaussian_encoder:
            return h, None
        mu, s = tf.split(h, 2, axis=-1)
        return mu, tf.nn.softplus(s) + self.hp["min_sigma"]

    def encode(self, x, training=False):
        """The code: ``mu(x)`` for Gaussian encoders (no sampling), ``z(x)`` otherwise."""
        return self.encoder_params(x, training)[0]

    def decoder_logits(self, z, training=False):
        out = self.decoder(tf.convert_to_tensor(z, self.compute_dtype), training=training)
        return tf.cast(out, self.compute_dtype)  # float32 under a mixed policy

    def decode(self, z, training=False):
        out = self.decoder_logits(z, training)
        return tf.sigmoid(out) if self.hp["output"] == "sigmoid" else out

    def sample_codes(self, x, training=False):
        """``{"mu", "sigma", "eps" [B, K, d], "z" [B, K, d]}``: ``z = mu + sigma * eps``
        (IPAE eq. 3); a deterministic encoder gives ``z = mu`` with ``K = 1``."""
        mu, sigma = self.encoder_params(x, training)
        if sigma is None:
            return {"mu": mu, "sigma": None, "eps": None, "z": mu[:, None, :]}
        shape = tf.stack([tf.shape(mu)[0], self.k, self.code_size])
        eps = keras.random.normal(shape, dtype=mu.dtype, seed=self.seed_gen)
        return {"mu": mu, "sigma": sigma, "eps": eps,
                "z": mu[:, None, :] + sigma[:, None, :] * eps}          # eq. 3

    # -- the objective ---------------------------------------------------------------
    def regularizer(self, x, codes, training):
        """Hook: ``(weighted penalty [B], {term name: [B]})`` added to the reconstruction.

        ``codes``: ``sample_codes``' dict, plus ``"kl"`` (the analytic rate, eq. 5) for
        Gaussian encoders."""
        raise NotImplementedError(f"{type(self).__name__} must implement regularizer")

    def loss_terms(self, x, training=False):
        """``loss = recon + regularizer``, per example. ``recon`` is ``1/K sum_k d(x, g(z_k))``."""
        x = tf.convert_to_tensor(x, self.compute_dtype)
        codes = self.sample_codes(x, training)
        z = codes["z"]
        kk = tf.shape(z)[1]
        logits = self.decoder_logits(tf.reshape(z, [-1, self.code_size]), training)
        rec = reconstruction_loss(self.hp["recon"], tf.repeat(x, kk, axis=0), logits,
                                  self.hp["output"])
        recon = tf.reduce_mean(tf.reshape(rec, [-1, kk]), 1)           # 1/K sum_k d(x_i, g(z_ik))
        terms = {"recon": recon}
        if codes["sigma"] is not None:                                  # the rate, eq. 5
            codes["kl"] = terms["kl"] = gaussian_kl_to_standard_normal(codes["mu"],
                                                                        codes["sigma"])
        penalty, extra = self.regularizer(x, codes, training)
        terms.update(extra)
        terms["loss"] = recon + penalty
        return {name: terms[name] for name in self.term_names}

    # -- sampling ------------------------------------------------------------------
    def sample(self, n, temperature=1.0):
        """``decode(temperature * z)``, ``z ~ p(z)`` (the prior of ``prior_name``)."""
        z = sample_prior(self.prior_name, n, self.code_size, None, self.compute_dtype)
        return self.decode(tf.cast(temperature, self.compute_dtype) * z)

    # -- evaluation ----------------------------------------------------------------
    def aggregate_codes(self, x, batch_size=500, seed=0):
        """Draws of the aggregate posterior ``q(z) = 1/N sum_i q(z|x_i)`` (one per input), numpy."""
        rng = np.random.RandomState(seed)
        out = []
        for i in range(0, len(x), batch_size):
            mu, sigma = self.encoder_params(x[i:i + batch_size])
            mu = np.asarray(mu, np.float64)
            if sigma is not None:
                mu = mu + np.asarray(sigma, np.float64) * rng.normal(size=mu.shape)
            out.append(mu)
        return np.concatenate(out, 0)

    def extra_metrics(self, x_test, run_dir, writer=None, step=0, y_test=None, x_train=None,
                      y_train=None, dataset=None, batch_size=500, mmd_points=1000):
        """MMD of the codes to the prior; with labels, toy25's ``E``, the linear-SVM robustness
        table and a labelled code scatter; PNGs of samples and (toy25) reconstructions.

        Labels and training data are taken from the arguments or, when absent, reloaded from
        ``run_dir/config.yaml`` (the test arrays must match ``x_test``). Returns JSON-able
        metrics: ``mmd_prior`` (unbiased MMD^2, multi-scale IMQ, between ``mmd_points`` draws
        of ``q(z)`` and of ``p(z)``), ``toy25_E`` / ``toy25_E_sampled`` (IPAE Fig. 1, with the
        mean code / a sampled code), ``svm_<corruption>`` (accuracy in [0, 1]) and
        ``labels`` (where they came from).
        """
        from infozoo import toy
        from infozoo.images import write_grid
        x = _as_array(x_test).astype(np.float32)
        if y_test is None and run_dir is not None:
            found = _data_from_run(run_dir, x)
            if found is not None:
                dataset, x_train, y_train, y_test = found
        metrics = {"prior": self.prior_name, "labels": "none" if y_test is None else "found"}
        n = min(mmd_points, len(x))
        q = self.aggregate_codes(x[:n], batch_size)
        p = np.asarray(sample_prior(self.prior_name, n, self.code_size,
                                    keras.random.SeedGenerator(1234)), np.float64)
        metrics["mmd_prior"] = float(mmd(tf.constant(q), tf.constant(p))) if n >= 2 else None
        is_toy = self.image_shape == (1, 1, 2)
        x_hat = None
        if is_toy:
            x_hat = _batched(self.reconstruct, x, batch_size)
        if is_toy and y_test is not None and toy.is_toy25(dataset):
            spacing = toy.parse_name(dataset)
            metrics["toy25_E"] = toy.mean_distance_to_component(x_hat, y_test, spacing)
            codes = self.aggregate_codes(x, batch_size, seed=1)
            x_smp = _batched(self.decode, codes.astype(np.float32), batch_size)
            metrics["toy25_E_sampled"] = toy.mean_distance_to_component(x_smp, y_test, spacing)
        if y_test is not None and x_train is not None and self.hp["probe_size"] > 0:
            from infozoo import linear_probe
            table = linear_probe.robustness_table(
                lambda b: self.encode(b), x_train, y_train, x, y_test,
                train_size=self.hp["probe_size"], batch_size=batch_size)
            metrics.update({f"svm_{k}": v for k, v in table.items()})
            if run_dir is not None:
                import json
                import os
                with open(os.path.join(run_dir, "robustness.json"), "w") as f:
                    json.dump(table, f, indent=2)
                with open(os.path.join(run_dir, "robustness.md"), "w") as f:
                    f.write(linear_probe.markdown_table({self.registry_name: table}) + "\n")
        if run_dir is None:
            return metrics
        if is_toy:
            k = min(len(x), 2000)
            toy.write_png(run_dir, "toy25_reconstructions",
                          toy.reconstruction_scatter(x[:k], x_hat[:k]), step, writer)
            s = np.asarray(self.sample(k, 1.0))
            toy.write_png(run_dir, "toy25_samples", toy.reconstruction_scatter(x[:k], s),
                          step, writer)
        else:
            s = np.asarray(self.sample(50, 1.0))
            write_grid(run_dir, "prior_samples", [s[i:i + 10] for i in range(0, 50, 10)],
                       step, writer)
        if self.code_size == 2:
            z = _batched(self.encode, x, batch_size)
            toy.write_png(run_dir, "codes_2d", toy.code_scatter(z, y_test), step, writer)
        return metrics

    def get_config(self):
        return {**super().get_config(), **self.hp}




def _batched(fn, x, batch_size):
    return np.concatenate([np.asarray(fn(x[i:i + batch_size]))
                           for i in range(0, len(x), batch_size)], 0)


def _data_from_run(run_dir, x_test):
    """``(dataset, x_train, y_train, y_test)`` of the run in ``run_dir`` if its test images are
    ``x_test`` (a prefix of the run's test split), else None."""
    import os
    from infozoo import config as config_lib
    from infozoo import data as data_lib
    path = os.path.join(run_dir, "config.yaml")
    if not os.path.isfile(path):
        return None
    try:
        d = config_lib.load(path)["data"]
        xtr, ytr, xte, yte = data_lib.load_arrays(d["dataset"], d["data_dir"], d["train_size"])
    except Exception:  # noqa: BLE001  (no labels: the labelled metrics are skipped)
        return None
    n = len(x_test)
    if xte.shape[1:] != x_test.shape[1:] or len(xte) < n or not np.array_equal(xte[:n], x_test):
        return None
    return d["dataset"], xtr, ytr, yte[:n]
