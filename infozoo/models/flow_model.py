"""``FlowModel``: a Keras model around a user's ``Flow``, trained by maximum likelihood.

``compile()`` then ``fit(x)`` (or ``fit((x, c))`` for a conditional flow, or a
``tf.data`` of ``(x, c)`` pairs) minimises the negative log-likelihood

    loss = -log p(x + u),   log p(x) = log N(z) + sum_l log p_l(r_l | z_l) + sum log|det J|

in nats per example (``infozoo.layers.flow``; PIE eq. 17), with ``u ~ U(0,
1/num_bins)`` when ``dequantize=True`` (uniform dequantisation of data with
``num_bins`` levels in [0, 1], RealNVP §4.1); ``bits_per_dim`` is then reported
beside the loss. ``log_prob(x, c)`` (no noise), ``sample(n, c, temperature,
seed)`` and ``summary()`` (one row per flow step) work on any flow, and a
``.keras`` file stores the whole architecture: a user registers their own subnet
constructors (``keras.saving.register_keras_serializable``) and nothing else.

Example::

    flow = Flow([ActNorm(), InvertibleConv1x1(), GLOWCoupling(my_mlp, cond_shape=(2,))])
    model = FlowModel(flow, input_shape=(2,))
    model.compile(keras.optimizers.Adam(2e-3))
    model.fit((x, c), batch_size=256, epochs=40)
    s = model.sample(500, c=c_500, seed=0)
"""
import math

import keras
import numpy as np
import tensorflow as tf

from infozoo.layers import Flow
from infozoo.models.base import _summary_rows, print_summary


@keras.saving.register_keras_serializable(package="infozoo")
class FlowModel(keras.Model):
    """A ``Flow`` as a Keras model: NLL training with ``fit``, ``log_prob``, ``sample``, ``.keras``.

    ``flow``: a ``Flow`` (or a list of invertible steps, made into one); ``input_shape``:
    the per-example data shape (taken from the flow if it is built); ``dequantize``: add
    ``U(0, 1/num_bins)`` noise to every training and evaluation batch; ``num_bins``: the
    data's number of levels (also gives ``bits_per_dim``); ``seed``: the dequantisation
    noise's seed.
    """

    def __init__(self, flow, input_shape=None, dequantize=False, num_bins=None, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(flow, dict):
            flow = keras.saving.deserialize_keras_object(flow)
        if isinstance(flow, (list, tuple)):
            flow = Flow(list(flow), name="flow")
        if not hasattr(flow, "forward") or not hasattr(flow, "log_prob"):
            raise ValueError(f"FlowModel wraps an infozoo Flow (infozoo.layers.Flow), got "
                             f"{type(flow).__name__}: put your steps in Flow([...])")
        if input_shape is None:
            if not flow.built:
                raise ValueError("FlowModel needs input_shape (the per-example data shape, "
                                 "e.g. input_shape=(2,)) or a built flow, flow.build((None, 2))")
            input_shape = flow.data_shape
        self.data_shape = tuple(int(d) for d in input_shape)
        if dequantize and not num_bins:
            raise ValueError("dequantize=True needs num_bins (the data's number of levels in "
                             "[0, 1], e.g. 256 for 8-bit images)")
        if num_bins is not None and int(num_bins) < 2:
            raise ValueError(f"num_bins must be >= 2, got {num_bins}")
        self.dequantize, self.num_bins = bool(dequantize), num_bins and int(num_bins)
        self.seed = seed
        self.flow = flow
        if not flow.built:
            flow.build((None, *self.data_shape))
        elif tuple(flow.data_shape) != self.data_shape:
            raise ValueError(f"the flow was built for data of shape {list(flow.data_shape)}, "
                             f"not input_shape {list(self.data_shape)}")
        self.seed_gen = keras.random.SeedGenerator(seed)
        names = ["loss"] + (["bits_per_dim"] if self.num_bins else [])
        self.trackers = [keras.metrics.Mean(name=n) for n in names]
        self.built = True

    # -- what the flow needs -------------------------------------------------------------
    @property
    def conditional(self):
        return self.flow.conditional

    @property
    def cond_shape(self):
        """The per-example shape of ``c`` (None for an unconditional flow)."""
        shapes = [s for _, s in self.flow.conditional_steps() if s is not None]
        return tuple(shapes[0]) if shapes else None

    @property
    def data_dim(self):
        return int(np.prod(self.data_shape))

    def _check(self, x, c, what):
        """Clear errors for eager inputs of the wrong shape or a missing/unwanted ``c``."""
        if self.conditional and c is None:
            raise ValueError(f"{what}: " + self.flow.missing_condition())
        if not self.conditional and c is not None:
            raise ValueError(f"{what}: the flow is not conditional (no step was built with "
                             f"cond_shape), so it takes no c")
        for name, t, shape in (("x", x, self.data_shape), ("c", c, self.cond_shape)):
            if t is None or shape is None or not tf.executing_eagerly() or \
                    isinstance(t, keras.KerasTensor):
                continue
            got = tuple(np.shape(t))[1:]
            if got != tuple(shape):
                raise ValueError(f"{what}: {name} must have shape [batch, "
                                 f"{', '.join(map(str, shape))}], got {list(np.shape(t))}")

    # -- densities and sampling ----------------------------------------------------------
    def log_prob(self, x, c=None):
        """``log p(x | c)`` in nats per example (no dequantisation noise)."""
        self._check(x, c, "log_prob")
        return self.flow.log_prob(x, c=c)

    def bits_per_dim(self, nll):
        """``(nll / D + log(num_bins)) / log 2``: nats of the density on ``[0, 1]^D`` to bits
        per dimension of ``num_bins``-level data."""
        return (nll / self.data_dim + math.log(self.num_bins)) / math.log(2.0)

    def sample(self, n, c=None, temperature=1.0, seed=None):
        """``n`` draws at ``temperature`` (``c``: ``n`` conditions for a conditional flow;
        ``seed``: an int for reproducible stateless draws)."""
        self._check(None, c, "sample")
        if c is not None and tf.executing_eagerly() and int(np.shape(c)[0]) != int(n):
            raise ValueError(f"sample: give one condition per draw, c has {np.shape(c)[0]} "
                             f"rows for n = {n}")
        return self.flow.sample(n, temperature=temperature, c=c, seed=seed)

    def call(self, x, c=None, training=False):
        """``log p(x | c)`` per example, so the model also runs inside a Keras graph."""
        return self.flow.log_prob(x, c=c)

    # -- training ------------------------------------------------------------------------
    def compile(self, optimizer="adam", **kwargs):
        """Keras' compile; the loss is the flow's NLL (a ``loss=`` is refused)."""
        if kwargs.get("loss") is not None:
            raise ValueError("FlowModel minimises the flow's negative log-likelihood: "
                             "compile it without loss=")
        return super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        """A reloaded ``.keras`` file comes back compiled with its optimizer (and state)."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**{k: v for k, v in config.items() if v is not None and k != "loss"})
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def _unpack(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, (tuple, list)):
            if len(x) != 2:
                raise ValueError(f"FlowModel.fit takes x or (x, c), got a tuple of {len(x)}")
            x, c = x
        else:
            c = y
        if c is not None and not self.conditional:
            raise ValueError("fit: the flow is not conditional, so the data must be x alone "
                             "(got (x, c) or a y)")
        if c is None and self.conditional:
            raise ValueError("fit: " + self.flow.missing_condition())
        x = tf.cast(x, self.flow.compute_dtype)
        return x, (None if c is None else tf.cast(c, self.flow.compute_dtype))

    def _terms(self, x, c):
        if self.dequantize:
            x = x + keras.random.uniform(tf.shape(x), 0.0, 1.0 / self.num_bins, dtype=x.dtype,
                                         seed=self.seed_gen)
        nll = -self.flow.log_prob(x, c=c)
        terms = {"loss": nll}
        if self.num_bins:
            terms["bits_per_dim"] = self.bits_per_dim(nll)
        return terms

    def _update(self, terms):
        for t in self.trackers:
            t.update_state(terms[t.name])
        return {t.name: t.result() for t in self.trackers}

    def train_step(self, data):
        x, c = self._unpack(data)
        with tf.GradientTape() as tape:
            terms = self._terms(x, c)
            loss = tf.nn.compute_average_loss(terms["loss"])
            if self.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(self.losses))
            loss = self.optimizer.scale_loss(loss)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return self._update(terms)

    def test_step(self, data):
        return self._update(self._terms(*self._unpack(data)))

    def fit(self, x=None, y=None, *args, **kwargs):
        """Keras ``fit`` on ``x``, ``(x, c)`` or a dataset of ``x`` / ``(x, c)``; checks
        array shapes and the condition first."""
        if x is not None and not isinstance(x, tf.data.Dataset):
            xs, c = (x if isinstance(x, (tuple, list)) else (x, y))
            self._check(xs, c, "fit")
        return super().fit(x, y, *args, **kwargs)

    @property
    def metrics(self):
        return list(self.trackers)

    # -- Keras plumbing -----------------------------------------------------------------
    def summary(self, print_fn=None, **kwargs):
        """One row per flow step (name, class, output shape, parameters), one ``print_fn``
        call per line."""
        rows = _summary_rows(self.flow, (None, *self.data_shape), 0)
        cond = f", condition {list(self.cond_shape)}" if self.conditional else ""
        title = (f'Model: "{self.name}" (FlowModel, input {list(self.data_shape)}{cond}, '
                 f'log_prob in nats)')
        print_summary(self, title, rows, print_fn)

    def get_config(self):
        return {**super().get_config(), "flow": keras.saving.serialize_keras_object(self.flow),
                "input_shape": list(self.data_shape), "dequantize": self.dequantize,
                "num_bins": self.num_bins, "seed": self.seed}

    def build(self, input_shape=None):
        self.built = True


__all__ = ["FlowModel"]
