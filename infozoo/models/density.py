"""What every density model of the zoo shares (PIE, Glow): dequantisation, bits/dim,
the NLL loss terms, the ``log_prob`` export endpoint, and the evaluation grids.

A subclass (also a ``ZooModel``) provides ``log_prob_terms(x) -> {"log_pz",
"log_pr", "logdet", "log_prob", ...}``, ``sample``/``encode``/``decode``, an
``hp`` dict with ``dequantize`` and ``num_bins``, ``sharpness_samples`` and a
``seed_gen``. See ``docs/pie.md`` for dequantisation and bits/dim.
"""
import math

import keras
import numpy as np
import tensorflow as tf

from infozoo.data import as_array as _as_array


class DequantizedDensity:
    """Mixin: NLL of uniformly dequantised data in nats and bits per dimension."""

    term_names = ("loss", "nll", "bits_per_dim", "log_pz", "log_pr", "logdet")
    can_sample = True
    #: prefix of the PNG grids ``extra_metrics`` writes
    image_prefix = "density"
    #: (label, temperature) of the sample grids and sharpness estimates
    sample_temperatures = (("T1", 1.0), ("T0.71", math.sqrt(0.5)))

    @property
    def random_terms(self):
        """Every term is evaluated on dequantised (noisy) data when ``dequantize`` is on."""
        return self.term_names if self.hp["dequantize"] else ()

    @property
    def data_dim(self):
        return int(np.prod(self.image_shape))

    def log_prob(self, x):
        """``log p(x)`` in nats per example, density over ``x`` in ``[0, 1]^D``."""
        return self.log_prob_terms(x)["log_prob"]

    def dequantize_noise(self, x):
        """``x + u``, ``u ~ U(0, 1/num_bins)`` elementwise (identity if ``dequantize`` is off)."""
        if not self.hp["dequantize"]:
            return x
        u = keras.random.uniform(tf.shape(x), minval=0.0, maxval=1.0 / self.hp["num_bins"],
                                 dtype=x.dtype, seed=self.seed_gen)
        return x + u

    def bits_per_dim(self, nll):
        """``(nll / D + log(num_bins)) / log 2``: nats of the density on ``[0,1]^D`` to bits per
        pixel of the discrete ``num_bins``-level data (density on ``[0, num_bins)^D`` is
        ``p / num_bins^D``)."""
        return (nll / self.data_dim + math.log(self.hp["num_bins"])) / math.log(2.0)

    def loss_terms(self, x, training=False):
        """Per-example terms; ``loss = nll = -log p(x + u)`` with dequantisation noise ``u``.

        The noise is added in training *and* evaluation (it is part of the
        continuous density being fitted, not a regulariser), so the validation
        ``nll``/``bits_per_dim`` are stochastic estimates of the same quantity.
        """
        x = tf.convert_to_tensor(x, self.compute_dtype)
        t = self.log_prob_terms(self.dequantize_noise(x))
        nll = -t["log_prob"]
        return {"loss": nll, "nll": nll, "bits_per_dim": self.bits_per_dim(nll),
                "log_pz": t["log_pz"], "log_pr": t["log_pr"], "logdet": t["logdet"]}

    def export_endpoints(self):
        eps = super().export_endpoints()
        x_spec = tf.TensorSpec([None, *self.image_shape], tf.float32, name="x")
        eps["log_prob"] = (lambda x: self.log_prob(x), [x_spec])
        return eps

    # -- evaluation ----------------------------------------------------------------
    def _batched(self, fn, x, batch_size):
        return np.concatenate([np.asarray(fn(x[i:i + batch_size]))
                               for i in range(0, len(x), batch_size)], 0)

    def _samples(self, n, temperature, batch_size):
        out = [np.asarray(self.sample(min(batch_size, n - i), temperature))
               for i in range(0, n, batch_size)]
        return np.concatenate(out, 0)

    def extra_metrics(self, x_test, run_dir, writer=None, step=0, sharpness_samples=None,
                      batch_size=500, **data):
        """Test NLL and bits/dim, reconstruction errors, sharpness (PIE §5.2), sample grids.

        ``x_test``: array ``[N, H, W, C]`` in ``[0, 1]`` (or a ``tf.data`` dataset of such
        batches, or of ``(x, label)`` pairs). Returns a dict of floats:
        ``test_nll`` (nats, dequantised as in training), ``test_bits_per_dim``,
        ``recon_mse``, ``recon_l1`` (``x`` vs ``decode(encode(x))``, no noise),
        ``sharpness_true`` (the test images) and ``sharpness_<label>`` for the samples at
        every temperature of ``sample_temperatures`` (clipped to ``[0, 1]``). Writes
        ``<prefix>_reconstructions``, ``<prefix>_samples_<label>`` and
        ``<prefix>_interpolation`` PNGs under ``run_dir/images`` (PIE's Fig. 7).
        """
        from infozoo.images import write_grid
        from infozoo.sharpness import sharpness

        x = _as_array(x_test).astype(np.float32)
        # the sharpness budget follows the test budget (--train-size runs test on fewer images)
        n_sharp = min(int(sharpness_samples or self.sharpness_samples), len(x))
        nll = self._batched(lambda b: self.loss_terms(b)["nll"], x, batch_size)
        x_hat = self._batched(self.reconstruct, x, batch_size)
        mean_nll = float(np.mean(nll))
        metrics = {
            "test_nll": mean_nll,
            "test_bits_per_dim": float(self.bits_per_dim(mean_nll)),
            "recon_mse": float(np.mean((x_hat - x) ** 2)),
            "recon_l1": float(np.mean(np.abs(x_hat - x))),
            "sharpness_true": sharpness(x[:n_sharp]),
        }
        samples = {}
        for label, t in self.sample_temperatures:
            s = np.clip(self._samples(n_sharp, t, batch_size), 0.0, 1.0)
            metrics[f"sharpness_{label}"] = sharpness(s)
            samples[label] = s
        if run_dir is not None:
            pre = self.image_prefix
            k = min(10, len(x))
            rows = []
            for i in range(0, min(2 * k, len(x)), k):   # Fig. 7a: originals, reconstructions
                rows += [x[i:i + k], x_hat[i:i + k]]
            write_grid(run_dir, f"{pre}_reconstructions", rows, step, writer)
            for label, s in samples.items():             # Fig. 7b, 7c
                write_grid(run_dir, f"{pre}_samples_{label}",
                           [s[i:i + 10] for i in range(0, min(50, len(s)), 10)], step, writer)
            n_rows = min(5, len(x) // 2)                 # Fig. 7d: interpolation in z
            if n_rows:
                z = np.asarray(self.encode(x[:2 * n_rows]))
                ts = np.linspace(0.0, 1.0, 10, dtype=np.float32)[:, None]
                rows = [np.asarray(self.decode(z[2 * i] + ts * (z[2 * i + 1] - z[2 * i])))
                        for i in range(n_rows)]
                write_grid(run_dir, f"{pre}_interpolation", rows, step, writer)
        return metrics
