"""Model-specific evaluation that computes and returns, and writes nothing.

An evaluator is made by ``model.evaluator(batch_size=...)`` and called on test data:
``report = evaluator(x_test, y_test=None, x_train=None, y_train=None, dataset=None)``.
The :class:`Report` holds JSON-able ``metrics`` and the arrays behind every figure
and table; :func:`infozoo.evaluation.report.write_report` (the one reporter) turns it into PNGs,
TensorBoard images and files. :func:`infozoo.util.batching.batched` runs a model function
over a large array (or a count of samples) in batches.

- :class:`Evaluator`: the default, an empty report.
- :class:`DensityEvaluator`: flows trained by NLL, PIE §5.2 and glow (test NLL, bits/dim,
  sharpness, Fig. 7 grids).
- :class:`StochasticEvaluator`: IPAE/VAE/VIMAE (MMD of the codes to the prior,
  toy25's ``E`` (IPAE Fig. 1), the linear-SVM robustness table (VIMAE Tables 2-4),
  prior samples, 2-D code and point scatters).
"""
import math
from dataclasses import dataclass, field

import numpy as np

from infozoo.util.batching import batched


@dataclass
class Report:
    """What an evaluator found: nothing here is written until a reporter writes it.

    ``metrics``: ``{name: JSON-able value}``; ``grids``: ``{name: [row [n, H, W, C], ...]}``
    image grids; ``scatters``: ``{name: (kind, {argument: array})}`` with ``kind`` a
    function of :mod:`infozoo.viz.plots` (``"toy25_scatter"``, ``"code_scatter"``);
    ``tables``: ``{file name: JSON-able object (.json) or text (.md)}``."""
    metrics: dict = field(default_factory=dict)
    grids: dict = field(default_factory=dict)
    scatters: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)


class Evaluator:
    """The default evaluator: no model-specific metrics or figures."""

    def __init__(self, model, batch_size=500):
        self.model = model
        self.batch_size = int(batch_size)

    def __call__(self, x_test, y_test=None, x_train=None, y_train=None, dataset=None):
        return Report()

    def _array(self, x):
        from infozoo.data.loaders import as_array
        return as_array(x).astype(np.float32)


class DensityEvaluator(Evaluator):
    """Flows trained by NLL (PIE §5.2, glow): test NLL and bits/dim, reconstruction errors,
    sharpness, the grids of PIE's Fig. 7.

    Metrics: ``test_loss`` (the NLL in nats, dequantised as in training), ``test_bits_per_dim``,
    ``recon_mse``, ``recon_l1`` (``x`` vs ``decode(encode(x))``, no noise),
    ``sharpness_true`` (the test images) and ``sharpness_<label>`` for the samples at each
    of the model's ``sample_temperatures`` (PIE: T1 and T0.71 = sqrt(0.5); clipped to
    [0, 1]; ``sharpness_samples`` of them, at most as many as test images). Grids, named
    with the model's ``image_prefix``: ``<prefix>_reconstructions`` (Fig. 7a),
    ``<prefix>_samples_<label>`` (7b, 7c), ``<prefix>_interpolation`` (7d, linear in ``z``)."""

    def __init__(self, model, batch_size=500, sharpness_samples=None):
        super().__init__(model, batch_size)
        self.sharpness_samples = int(sharpness_samples or model.hp["sharpness_samples"])

    def __call__(self, x_test, y_test=None, x_train=None, y_train=None, dataset=None):
        from infozoo.evaluation.sharpness import sharpness
        m, bs = self.model, self.batch_size
        pre = m.image_prefix
        x = self._array(x_test)
        # the sharpness budget follows the test budget (--train-size runs test on fewer images)
        n_sharp = min(self.sharpness_samples, len(x))
        nll = batched(lambda b: m.loss_terms(b)["nll"], x, bs)
        x_hat = batched(m.reconstruct, x, bs)
        mean_nll = float(np.mean(nll))
        r = Report(metrics={
            "test_loss": mean_nll,
            "test_bits_per_dim": float(m.bits_per_dim(mean_nll)),
            "recon_mse": float(np.mean((x_hat - x) ** 2)),
            "recon_l1": float(np.mean(np.abs(x_hat - x))),
            "sharpness_true": sharpness(x[:n_sharp]),
        })
        seeds = m.sample_seeds()
        for label, t in m.sample_temperatures:
            s = np.clip(batched(lambda k: m.sample(k, t, seed=next(seeds)), n_sharp, bs), 0.0, 1.0)
            r.metrics[f"sharpness_{label}"] = sharpness(s)
            r.grids[f"{pre}_samples_{label}"] = [s[i:i + 10] for i in range(0, min(50, len(s)), 10)]
        k = min(10, len(x))
        rows = []
        for i in range(0, min(2 * k, len(x)), k):        # originals, reconstructions
            rows += [x[i:i + k], x_hat[i:i + k]]
        r.grids[f"{pre}_reconstructions"] = rows
        n_rows = min(5, len(x) // 2)
        if n_rows:
            z = np.asarray(m.encode(x[:2 * n_rows]))
            ts = np.linspace(0.0, 1.0, 10, dtype=np.float32)[:, None]
            r.grids[f"{pre}_interpolation"] = [
                np.asarray(m.decode(z[2 * i] + ts * (z[2 * i + 1] - z[2 * i])))
                for i in range(n_rows)]
        return r


class StochasticEvaluator(Evaluator):
    """IPAE, VAE, VIMAE: what the papers report beyond the loss terms.

    Metrics: ``prior``; ``labels`` (``"given"`` or ``"none"``); ``mmd_prior`` (unbiased
    MMD^2, multi-scale IMQ, between ``mmd_points`` draws of the aggregate posterior
    ``q(z)`` and of the prior ``p(z)``); on toy25 (``dataset`` named so, with labels)
    ``toy25_E`` / ``toy25_E_sampled`` (IPAE Fig. 1, from the mean code / a sampled code);
    with labels and training data, ``svm_<corruption>`` (linear-SVM accuracy, VIMAE
    Tables 2-4, the SVM trained on codes of equally corrupted training inputs as in §5.3)
    and ``svm_cleanfit_<corruption>`` (the SVM trained on clean codes), as the model's
    ``probe_protocol`` asks (the tables also as ``robustness.json``/``.md``). Figures: for 2-D points
    (inputs of two values), ``toy25_reconstructions`` and ``toy25_samples`` scatters;
    otherwise a ``prior_samples`` grid; ``codes_2d`` for 2-D codes. For image data (not 2-D
    points), ``sharpness_true`` and ``sharpness_T1`` as :class:`DensityEvaluator` reports them
    (PIE Table 1 compares PIE's samples with the VAE's and WAE's): the sharpness of the test
    images and of ``sharpness_samples`` decoded prior samples, clipped to [0, 1]."""

    def __init__(self, model, batch_size=500, mmd_points=1000, scatter_points=2000,
                 sharpness_samples=1000):
        super().__init__(model, batch_size)
        self.mmd_points, self.scatter_points = int(mmd_points), int(scatter_points)
        self.sharpness_samples = int(sharpness_samples)

    def __call__(self, x_test, y_test=None, x_train=None, y_train=None, dataset=None):
        import keras
        import tensorflow as tf

        from infozoo.data import catalog, toy
        from infozoo.losses.mmd import mmd
        from infozoo.losses.priors import sample_prior
        m, bs = self.model, self.batch_size
        x = self._array(x_test)
        r = Report(metrics={"prior": m.prior_name,
                            "labels": "none" if y_test is None else "given"})
        n = min(self.mmd_points, len(x))
        q = m.aggregate_codes(x[:n], bs)
        p = np.asarray(sample_prior(m.prior_name, n, m.code_size,
                                    keras.random.SeedGenerator(1234)), np.float64)
        r.metrics["mmd_prior"] = float(mmd(tf.constant(q), tf.constant(p))) if n >= 2 else None
        points = int(np.prod(m.image_shape)) == 2
        x_hat = batched(m.reconstruct, x, bs) if points else None
        spec = catalog.find(dataset)
        if points and y_test is not None and spec is not None and spec.mixture:
            spacing = spec.parameters(dataset)["spacing"]
            r.metrics["toy25_E"] = toy.mean_distance_to_component(x_hat, y_test, spacing)
            codes = m.aggregate_codes(x, bs, seed=1)
            x_smp = batched(m.decode, codes.astype(np.float32), bs)
            r.metrics["toy25_E_sampled"] = toy.mean_distance_to_component(x_smp, y_test, spacing)
        if y_test is not None and x_train is not None and m.hp["probe_size"] > 0:
            from infozoo.evaluation import svm_robustness
            protocol = m.hp.get("probe_protocol", "both")
            tables = {}
            for name, on_corrupted in (("corrupted", True), ("clean", False)):
                if protocol in (name, "both"):
                    # the paper's corrupted images leave [0, 1] (x + N(0, 0.4^2) is not
                    # clipped, VIMAE §5.3), which the public encode() refuses: the unchecked
                    # template method encodes them
                    tables[name] = svm_robustness.robustness_table(
                        lambda b: m._encode(tf.convert_to_tensor(b, tf.float32)), x_train,
                        y_train, x, y_test,
                        train_size=m.hp["probe_size"], batch_size=bs,
                        train_on_corrupted=on_corrupted)
            # svm_<corruption>: the paper's protocol (trained on corrupted codes);
            # svm_cleanfit_<corruption>: trained on clean codes
            for name, table in tables.items():
                pre = "svm_" if name == "corrupted" else "svm_cleanfit_"
                r.metrics.update({f"{pre}{k}": v for k, v in table.items()})
            r.tables["robustness.json"] = tables
            r.tables["robustness.md"] = svm_robustness.markdown_table(
                {f"{m.registry_name} (SVM trained on {name} codes)": t
                 for name, t in tables.items()})
        if points:
            k = min(len(x), self.scatter_points)
            r.scatters["toy25_reconstructions"] = ("toy25_scatter", {"x": x[:k],
                                                                     "x_hat": x_hat[:k]})
            seeds = m.sample_seeds()
            s = batched(lambda c: m.sample(c, 1.0, seed=next(seeds)), k, bs)
            r.scatters["toy25_samples"] = ("toy25_scatter", {
                "x": x[:k], "x_hat": s, "labels": ("input", "sample")})
        else:
            from infozoo.evaluation.sharpness import sharpness
            n_sharp = min(self.sharpness_samples, len(x))
            seeds = m.sample_seeds()
            s = np.clip(batched(lambda c: m.sample(c, 1.0, seed=next(seeds)), max(n_sharp, 50),
                                bs), 0.0, 1.0)
            r.grids["prior_samples"] = [s[i:i + 10] for i in range(0, 50, 10)]
            if n_sharp:
                r.metrics["sharpness_true"] = sharpness(x[:n_sharp])
                r.metrics["sharpness_T1"] = sharpness(s[:n_sharp])
        if m.code_size == 2:
            r.scatters["codes_2d"] = ("code_scatter", {"z": batched(m.encode, x, bs),
                                                       "y": y_test})
        return r
