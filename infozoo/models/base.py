"""The base of every infozoo model: one dict of loss terms, one train/test step.

A model implements ``loss_terms(x, training) -> {name: per-example tensor}``
with the total objective under ``"loss"``; ``train_step`` averages every term
over the *global* batch (``tf.nn.compute_average_loss``, so a mirrored run
equals a single-device run), and every term is a Keras metric: it shows in the
progress bar and in TensorBoard. Models also implement ``encode``/``decode``
(and ``sample`` where they can), which the exporter turns into SavedModel
endpoints.

Mixed precision (``infozoo.precision``): a model built under a mixed Keras
policy keeps it (``.keras`` reloads rebuild it under the same policy); its
plain networks compute in the low precision, while the model's own arithmetic
(losses, priors, metrics) uses the policy's variable dtype, float32.
"""
import keras
import numpy as np
import tensorflow as tf

from infozoo.precision import policy_scope
from infozoo.registry import register_model  # noqa: F401  (re-exported for model files)


class ZooModel(keras.Model):
    #: names of the per-example terms ``loss_terms`` returns, ``"loss"`` first
    term_names = ("loss",)
    #: terms that depend on random draws even when ``training=False``
    random_terms = ()
    #: True where ``sample(n)`` draws from the model's prior
    can_sample = False

    def __init__(self, input_shape=(28, 28, 1), **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(s) for s in input_shape)
        self.trackers = [keras.metrics.Mean(name=n) for n in self.term_names]

    @property
    def compute_dtype(self):
        """The policy's variable dtype: float32 under a mixed policy (see the module doc)."""
        return self.dtype_policy.variable_dtype

    @classmethod
    def from_config(cls, config):
        """Rebuilt under the saved dtype policy, so sublayers get the same precision."""
        with policy_scope(config.get("dtype")):
            return super().from_config(config)

    # -- what subclasses implement -------------------------------------------------
    def loss_terms(self, x, training=False):
        raise NotImplementedError(f"{type(self).__name__} must implement loss_terms")

    def encode(self, x, training=False):
        raise NotImplementedError(f"{type(self).__name__} must implement encode")

    def decode(self, z, training=False):
        raise NotImplementedError(f"{type(self).__name__} must implement decode")

    @property
    def code_size(self):
        raise NotImplementedError(f"{type(self).__name__} must implement code_size")

    def sample(self, n, temperature=1.0):
        raise TypeError(f"{type(self).__name__} has no prior to sample from")

    def extra_metrics(self, x_test, run_dir, writer=None, step=0, **data):
        """Model-specific evaluation (e.g. PIE's bits/dim and sharpness): returns a dict of
        JSON-able metrics and may write PNGs under ``run_dir``. ``data`` holds ``y_test``,
        ``x_train``, ``y_train`` and ``dataset`` where the caller has them. Default: nothing."""
        return {}

    def export_endpoints(self):
        """``{name: (fn, [tf.TensorSpec, ...])}`` for the SavedModel. Default: encode,
        decode, reconstruct, and ``sample(n)`` where the model can sample."""
        x_spec = tf.TensorSpec([None, *self.image_shape], tf.float32, name="x")
        z_spec = tf.TensorSpec([None, self.code_size], tf.float32, name="z")
        eps = {
            "encode": (lambda x: self.encode(x), [x_spec]),
            "decode": (lambda z: self.decode(z), [z_spec]),
            "reconstruct": (lambda x: self.reconstruct(x), [x_spec]),
        }
        if self.can_sample:
            eps["sample"] = (lambda n, t: self.sample(n, t),
                             [tf.TensorSpec([], tf.int32, name="n"),
                              tf.TensorSpec([], tf.float32, name="temperature")])
        return eps

    def representations(self, x):
        """Ordered intermediate representations for the information probe.

        A list of dicts ``{"name", "value" [batch, ...], "bijective" (bool: the step from
        the previous entry is a bijection), "logdet" ([batch] or None)}``, from
        ``"input"`` through the code to ``"reconstruction"``. Models override this
        to expose every layer; the default has input, code and reconstruction.
        """
        code = self.encode(x)
        return [
            {"name": "input", "value": x, "bijective": True, "logdet": None},
            {"name": "code", "value": code, "bijective": False, "logdet": None},
            {"name": "reconstruction", "value": self.decode(code), "bijective": False,
             "logdet": None},
        ]

    # -- shared behaviour ----------------------------------------------------------
    def reconstruct(self, x, training=False):
        return self.decode(self.encode(x, training=training), training=training)

    def call(self, x, training=False):
        return self.reconstruct(x, training=training)

    def build(self, input_shape=None):
        """Subclasses build every variable in ``__init__`` (shapes are known there)."""
        self.built = True

    def check_input(self, x):
        """Raises a clear ValueError for a batch of the wrong shape or with NaN/inf."""
        x = np.asarray(x)
        if x.ndim != len(self.image_shape) + 1 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"{type(self).__name__} expects batches of shape "
                             f"[batch, {', '.join(map(str, self.image_shape))}], got {list(x.shape)}")
        if not np.all(np.isfinite(x)):
            raise ValueError("the batch contains NaN or infinite values: clean the data first")
        return x

    @property
    def metrics(self):
        return list(self.trackers)

    def _update(self, terms):
        for t in self.trackers:
            t.update_state(terms[t.name])
        return {t.name: t.result() for t in self.trackers}

    def train_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        with tf.GradientTape() as tape:
            terms = self.loss_terms(x, training=True)
            loss = tf.nn.compute_average_loss(terms["loss"])
            if self.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(self.losses))
            loss = self.optimizer.scale_loss(loss)  # mixed_float16: LossScaleOptimizer
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return self._update(terms)

    def test_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        return self._update(self.loss_terms(x, training=False))

    def get_config(self):
        return {**super().get_config(), "input_shape": list(self.image_shape)}

    def count_params_trainable(self):
        return int(sum(np.prod(v.shape) for v in self.trainable_variables))
