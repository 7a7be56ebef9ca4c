"""``Flow``: an ordered stack of invertible layers, single- or multi-scale, itself invertible.

#### Multi-scale flows

A step with ``factor_out = True`` (``Split``) cuts its input ``h`` into a kept
part ``z_l`` and a factored-out part ``r_l`` (RealNVP §3.6, Glow §3, PIE §3.1).
Inside a ``Flow`` nothing is thrown away: ``r_l`` is an output, with its own
prior ``p_l(r_l | z_l)`` (``Split``: ``N(r | g(z), eps^2 I)``; ``g="zero",
eps=1`` is the standard normal of RealNVP/Glow). So the flow is the bijection

    F: x -> v = [z, r_1, ..., r_L]   (each part flattened, z first)

``forward(x) -> (v, log|det dF/dx|)`` and ``inverse(v)`` follow the one contract
of ``infozoo.layers.base``, and the density of the data is (PIE eq. 17; for
standard-normal parts the usual change of variables)

    log p(x) = log p(z) + sum_l log p_l(r_l | z_l) + sum_steps log|det J|.

``forward_factored``/``inverse_factored`` keep the parts apart (``z`` in its
own shape); ``inverse_factored(z)`` without the ``r_l`` uses each prior's mean
(``g(z)``: PIE's decoder, eq. 20) or, with a ``temperature``, draws them.
``log_prob_terms``, ``log_prob`` and ``sample`` follow from these, and
``representations``/``inverse_representations`` list every step for the
information probe: all of them run the one walk ``Flow._cascade``. A flow without factor-out steps is unchanged: its
``forward`` returns the last step's output in its own shape.

``FlowBuilder`` declares a flow step by step and tracks the per-example shape with each
step's ``compute_output_shape`` (FrEIA's ``SequenceINN.append``), so a model reads the
current shape instead of computing it by hand.

A ``Flow`` hands the condition ``c`` to its conditional steps only.
"""
import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from infozoo.layers.base import Invertible, register_layer, sum_except_batch, zero_logdet
from infozoo.util import draws
from infozoo.util.representation import Representation

tfd = tfp.distributions


def standard_normal_log_prob(z):
    """``log N(z; 0, I)`` summed per example."""
    return sum_except_batch(tfd.Normal(tf.zeros((), z.dtype), tf.ones((), z.dtype)).log_prob(z))


def _flat(t):
    return tf.reshape(t, [tf.shape(t)[0], -1])


@register_layer
class Flow(Invertible):
    """An ordered stack of invertible layers (and factor-out steps), itself invertible."""

    def __init__(self, steps=(), **kwargs):
        super().__init__(**kwargs)
        self.steps = [
            s if isinstance(s, keras.layers.Layer) else keras.saving.deserialize_keras_object(s)
            for s in steps
        ]

    # -- structure -------------------------------------------------------------------
    @staticmethod
    def _factors_out(step):
        return bool(getattr(step, "factor_out", False))

    @property
    def factor_out_steps(self):
        return [s for s in self.steps if self._factors_out(s)]

    @property
    def multiscale(self):
        return bool(self.factor_out_steps)

    @property
    def bijective(self):
        return all(s.bijective or self._factors_out(s) for s in self.steps)

    @property
    def conditional(self):
        return any(s.conditional for s in self.steps)

    def conditional_steps(self):
        """``[(step, cond_shape)]`` of every step (nested flows included) that reads ``c``."""
        return [cs for s in self.steps if s.conditional
                for cs in (s.conditional_steps() if hasattr(s, "conditional_steps")
                           else [(s, getattr(s, "cond_shape", None))])]

    def _walk_shapes(self, shape):
        """Per-step output shapes; records the factored-out parts' per-example shapes."""
        r_shapes = []
        for s in self.steps:
            if self._factors_out(s):
                out = tuple(s.compute_output_shape(shape))
                r_shapes.append((*out[1:-1], int(shape[-1]) - int(out[-1])))
                shape = out
            else:
                shape = tuple(s.compute_output_shape(shape))
        return shape, r_shapes

    def build(self, input_shape):
        shape = tuple(input_shape)
        self.data_shape = tuple(int(d) for d in shape[1:])
        for s in self.steps:
            if not s.built:
                s.build(shape)
            shape = tuple(s.compute_output_shape(shape))
        z, self.r_shapes = self._walk_shapes(tuple(input_shape))
        self.z_shape = tuple(int(d) for d in z[1:])

    def compute_output_shape(self, input_shape):
        shape, _ = self._walk_shapes(tuple(input_shape))
        if self.multiscale:
            return (input_shape[0], int(np.prod(input_shape[1:])))
        return shape

    def compute_inverse_shape(self, output_shape):
        if self.multiscale:
            if not self.built:
                raise ValueError("the inverse of an unbuilt multi-scale Flow has no shape: "
                                 "build it with the data shape first, flow.build((None, ...))")
            return (output_shape[0], *self.data_shape)
        shape = tuple(output_shape)
        for s in reversed(self.steps):
            shape = tuple(s.compute_inverse_shape(shape))
        return shape

    def _c(self, step, c):
        return c if step.conditional else None

    # -- the one walk ---------------------------------------------------------------------
    def _cascade(self, h, c=None, inverse=False, rs=None, temperature=None, seed=None,
                 log_pr=False, record=False):
        """The walk every method of the flow runs (nflows' ``_cascade``, knowing factor-out
        steps): ``(h, rs, logdet, log_pr, entries)``.

        Forward, a factor-out step splits off ``r_l`` (collected in ``rs``; with ``log_pr``
        its prior's log-density is summed); inverse, it merges back ``rs[l]``, or its prior's
        mean where that is None, or a draw at ``temperature`` (``seed``: see
        :mod:`infozoo.util.draws`). ``logdet`` sums the other steps' log-dets. With ``record``,
        ``entries`` holds one ``Representation`` per step for the information probe
        (``inv_<name>`` inverse; a forward factor-out step is not bijective and carries
        its part as ``dropped``, an inverse one is bijective only if
        given its part; ``probe_skip`` steps, i.e. flattening reshapes, are left out and
        their log-dets carried to the next entry)."""
        if c is None and self.conditional:
            raise ValueError(self.missing_condition())
        logdet = zero_logdet(h)
        pending = zero_logdet(h)
        lp = tf.zeros_like(logdet) if log_pr else None
        entries = []
        prefix = "inv_" if inverse else ""
        if inverse:
            n_parts = len(self.factor_out_steps)
            rs = list(rs) if rs is not None else [None] * n_parts
            if len(rs) != n_parts:
                raise ValueError(f"this flow factors out {n_parts} parts, got {len(rs)}")
            i = n_parts
        else:
            rs = []
        for s in (reversed(self.steps) if inverse else self.steps):
            if self._factors_out(s):
                if inverse:
                    i -= 1
                    r, given = rs[i], rs[i] is not None
                    if not given:
                        r = (s.mean_r(h) if temperature is None else
                             s.sample_r(h, temperature, draws.sub_seed(seed, i)))
                    h = s.merge(h, tf.convert_to_tensor(r, h.dtype))
                else:
                    h, r = s.split(h)
                    rs.append(r)
                    given = False
                    if log_pr:
                        lp = lp + s.prior_log_prob(r, h)
                if record:
                    entries.append(Representation(prefix + s.name, h, given,
                                                  pending if given else None,
                                                  dropped=None if inverse else r))
                pending = zero_logdet(h)
                continue
            h, ld = (s.inverse if inverse else s.forward)(h, self._c(s, c))
            logdet = logdet + ld
            pending = pending + ld
            if record and not getattr(s, "probe_skip", False):
                bij = bool(s.bijective)
                entries.append(Representation(prefix + s.name, h, bij,
                                              pending if bij or not inverse else None))
                pending = zero_logdet(h)
        return h, rs, logdet, lp, entries

    # -- the factored bijection ------------------------------------------------------
    def forward_factored(self, x, c=None):
        """``x -> (z, [r_1, ..., r_L], log|det dF/dx|)``, every part in its own shape."""
        x = tf.convert_to_tensor(x, self.compute_dtype)
        if not self.built:
            self.build(tuple(x.shape))
        z, rs, logdet, _, _ = self._cascade(x, c)
        return z, rs, logdet

    def inverse_factored(self, z, rs=None, c=None, temperature=None, seed=None):
        """``(z, [r_l]) -> (x, log|det dF^-1|)``. A missing ``r_l`` (``rs`` None, or an entry
        None) is its prior's mean given ``z_l`` (PIE's extension ``[z, g(z)]``), or a draw at
        ``temperature`` if one is given (``seed``: :mod:`infozoo.util.draws`); the log-det
        then covers the bijective steps only."""
        h = tf.convert_to_tensor(z, self.compute_dtype)
        x, _, logdet, _, _ = self._cascade(h, c, inverse=True, rs=rs, temperature=temperature,
                                           seed=seed)
        return x, logdet

    def flatten_parts(self, z, rs):
        """``[z, r_1, ..., r_L]``, each flattened, concatenated: ``[batch, D]``."""
        return tf.concat([_flat(z)] + [_flat(r) for r in rs], axis=1)

    def unflatten_parts(self, v):
        """Inverse of :meth:`flatten_parts`: ``(z, [r_l])`` in their shapes."""
        shapes = [self.z_shape] + list(self.r_shapes)
        parts = tf.split(v, [int(np.prod(s)) for s in shapes], axis=1)
        parts = [tf.reshape(p, [-1, *s]) for p, s in zip(parts, shapes)]
        return parts[0], parts[1:]

    def _forward(self, x, c=None):
        h, rs, logdet, _, _ = self._cascade(x, c)
        return (self.flatten_parts(h, rs) if self.multiscale else h), logdet

    def _inverse(self, y, c=None):
        if self.multiscale:
            z, rs = self.unflatten_parts(y)
            return self.inverse_factored(z, rs, c)
        x, _, logdet, _, _ = self._cascade(y, c, inverse=True)
        return x, logdet

    # -- densities and sampling ---------------------------------------------------------
    def log_prob_terms(self, x, c=None, prior=None):
        """``{"z", "log_pz", "log_pr", "logdet", "log_prob"}`` per example: the density of
        ``x`` under the flow, ``prior(z)`` (default standard normal) for the last part."""
        x = tf.convert_to_tensor(x, self.compute_dtype)
        if not self.built:
            self.build(tuple(x.shape))
        z, _, logdet, log_pr, _ = self._cascade(x, c, log_pr=True)
        log_pz = (prior or standard_normal_log_prob)(z)
        return {"z": z, "log_pz": log_pz, "log_pr": log_pr, "logdet": logdet,
                "log_prob": log_pz + log_pr + logdet}

    def log_prob(self, x, c=None, prior=None):
        """``log p(x)`` in nats per example."""
        return self.log_prob_terms(x, c, prior)["log_prob"]

    def sample(self, n, temperature=1.0, c=None, seed=None):
        """``n`` draws: ``z ~ N(0, T^2 I)``, every ``r_l`` from its prior at temperature ``T``
        (``n`` may be a scalar tensor, as in an exported ``sample`` endpoint; ``seed``: an int
        or a ``SeedGenerator`` fixes the draws, see :mod:`infozoo.util.draws`)."""
        t = tf.cast(temperature, self.compute_dtype)
        shape = tf.concat([tf.reshape(tf.cast(n, tf.int32), [1]),
                           tf.constant(self.z_shape, tf.int32)], 0)
        z = draws.normal(shape, self.compute_dtype, draws.sub_seed(seed, -1)) * t
        return self.inverse_factored(z, None, c, temperature=t, seed=seed)[0]

    # -- every step, for the information probe ---------------------------------------------
    def representations(self, x, c=None):
        """``(entries, z)``: one ``Representation`` per step of the forward walk; a
        factor-out step is not bijective (its input is not a function of its kept part) and
        carries the part it sets aside as ``dropped``. Steps with
        ``probe_skip`` (flattening reshapes) are left out, their log-dets carried over."""
        h, _, _, _, entries = self._cascade(tf.convert_to_tensor(x, self.compute_dtype), c,
                                            record=True)
        return entries, h

    def inverse_representations(self, z, rs=None, c=None):
        """One entry ``inv_<step>`` per step of ``inverse_factored(z, rs)``, last step first; a
        factor-out step given its ``r_l`` is bijective, one that fills in its prior's mean
        is not."""
        return self._cascade(tf.convert_to_tensor(z, self.compute_dtype), c, inverse=True,
                             rs=rs, record=True)[4]

    def get_config(self):
        return {
            **super().get_config(),
            "steps": [keras.saving.serialize_keras_object(s) for s in self.steps],
        }


class FlowBuilder:
    """Declares a ``Flow`` step by step, tracking the per-example shape (FrEIA's
    ``SequenceINN.append``, nflows' ``MultiscaleCompositeTransform.add_transform``).

    ``append(step)`` adds a layer and moves :attr:`shape` to the step's output
    (``step.compute_output_shape``); a factor-out step's part goes to :attr:`r_shapes`.
    ``len(builder)`` is the number of steps so far; ``build()`` returns the ``Flow``
    (``name``, ``dtype``), built for ``input_shape``. A step that cannot take the current
    shape (an odd size for a squeeze) raises its ``ValueError`` at ``append``::

        f = FlowBuilder((8, 8, 1))
        f.append(Squeeze())                      # f.shape == (4, 4, 4)
        f.append(Split(2, f.shape[-1]))          # f.shape == (4, 4, 2), f.r_shapes == [(4, 4, 2)]
        flow = f.build()
    """

    def __init__(self, input_shape, name="flow", dtype=None):
        self.input_shape = tuple(int(d) for d in input_shape)
        self.name, self.dtype = name, dtype
        self.steps = []
        #: per-example shape of the output of the steps so far
        self.shape = self.input_shape
        #: per-example shapes of the factored-out parts, in order
        self.r_shapes = []

    def __len__(self):
        return len(self.steps)

    def append(self, step):
        """Adds ``step`` (an ``Invertible`` layer) at the end; returns it."""
        if not isinstance(step, Invertible):
            raise ValueError(f"a Flow step must be an infozoo.layers.Invertible layer, got "
                             f"{type(step).__name__}")
        out = tuple(int(d) for d in step.compute_output_shape((None, *self.shape))[1:])
        if Flow._factors_out(step):
            self.r_shapes.append((*out[:-1], self.shape[-1] - out[-1]))
        self.steps.append(step)
        self.shape = out
        return step

    def build(self):
        """The ``Flow`` of the steps appended, built for ``(None, *input_shape)``."""
        flow = Flow(self.steps, name=self.name, dtype=self.dtype)
        flow.build((None, *self.input_shape))
        return flow
