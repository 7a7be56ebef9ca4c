"""What every density model of the zoo shares (PIE, Glow): dequantisation, bits/dim,
the NLL loss terms, the ``log_prob`` export endpoint, and the evaluation grids.

A subclass (also a ``ZooModel``) provides ``log_prob_terms(x) -> {"log_pz",
"log_pr", "logdet", "log_prob", ...}``, ``sample``/``encode``/``decode``, an
``hp`` dict (``infozoo.settings.hparams.pie.DENSITY``: ``dequantize``, ``num_bins``,
``sharpness_samples``, ``seed``). See ``docs/pie.md`` for dequantisation and bits/dim.
"""
import math

import keras
import numpy as np
import tensorflow as tf



class DequantizedDensity:
    """Mixin: NLL of uniformly dequantised data in nats and bits per dimension."""

    term_names = ("loss", "nll", "bits_per_dim", "log_pz", "log_pr", "logdet")
    #: terms equal to ``loss`` (shown in training logs; test metrics give them once, as
    #: ``test_loss``)
    same_as_loss = ("nll",)
    can_sample = True
    #: prefix of the image grids of the model's evaluator
    image_prefix = "density"
    #: (label, temperature) of the sample grids and sharpness estimates
    sample_temperatures = (("T1", 1.0), ("T0.71", math.sqrt(0.5)))

    def build_flow(self):
        """Sets up what every density model shares, once ``self.hp`` is filled: the image-shape
        check, the dequantisation seed stream and the flow ``self._make_steps(builder)`` declares
        on a ``FlowBuilder``."""
        from infozoo.layers import FlowBuilder
        if len(self.image_shape) != 3:
            raise ValueError(f"{type(self).__name__} expects images [H, W, C], got input_shape "
                             f"{self.image_shape}")
        self.seed_gen = keras.random.SeedGenerator(self.hp["seed"])
        f = FlowBuilder(self.image_shape, name="flow", dtype=self.dtype_policy)
        self._make_steps(f)
        self.flow = f.build()

    @property
    def random_terms(self):
        """Every term is evaluated on dequantised (noisy) data when ``dequantize`` is on."""
        return self.term_names if self.hp["dequantize"] else ()

    @property
    def data_dim(self):
        return int(np.prod(self.image_shape))

    def log_prob(self, x):
        """``log p(x)`` in nats per example, density over ``x`` in ``[0, 1]^D`` (an eager
        batch is checked first, as ``encode``'s)."""
        self._check_eager(x, self.check_input)
        return self.log_prob_terms(x)["log_prob"]

    def dequantize_noise(self, x):
        """``x + u``, ``u ~ U(0, 1/num_bins)`` elementwise (identity if ``dequantize`` is off)."""
        if not self.hp["dequantize"]:
            return x
        u = self.batch_noise(lambda s: keras.random.uniform(  # this replica's rows (base.py)
            s, minval=0.0, maxval=1.0 / self.hp["num_bins"], dtype=x.dtype, seed=self.seed_gen),
            tf.shape(x))
        return x + u

    def bits_per_dim(self, nll):
        """``(nll / D + log(num_bins)) / log 2``: nats of the density on ``[0,1]^D`` to bits per
        pixel of the discrete ``num_bins``-level data (density on ``[0, num_bins)^D`` is
        ``p / num_bins^D``)."""
        return (nll / self.data_dim + math.log(self.hp["num_bins"])) / math.log(2.0)

    def _loss_terms(self, x, training=False):
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
    def evaluator(self, **kwargs):
        """:class:`infozoo.evaluation.evaluators.DensityEvaluator`: NLL, bits/dim, sharpness, grids."""
        from infozoo.evaluation.evaluators import DensityEvaluator
        return DensityEvaluator(self, **kwargs)
