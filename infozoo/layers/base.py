"""The one contract every invertible layer of infozoo follows.

``forward(x, c=None) -> (y, log|det dy/dx|)`` and ``inverse(y, c=None) -> (x,
log|det dx/dy|)``, the log-determinant per example (shape ``[batch]``).
Direction is never tied to Keras' ``training`` flag. ``call`` is
``forward(x)[0]`` so a layer also works inside an ordinary Keras graph.

``c`` is an optional conditioning input (one per example). A layer that reads
it sets ``conditional = True`` (couplings built with ``cond_shape``) and
implements ``_forward(x, c)``/``_inverse(y, c)``; the others implement
``_forward(x)``/``_inverse(y)`` and refuse a ``c``. A ``Flow`` hands ``c`` to
its conditional steps only.

Layers that drop information (zero-padding, PIE's split) set ``bijective =
False``; their ``forward``/``inverse`` still follow the contract, and the
information probe reads the flag.

Mixed precision: under a mixed Keras dtype policy (``mixed_bfloat16``,
``mixed_float16``) an invertible layer computes in the policy's *variable*
dtype (float32): its own arithmetic (affine updates, log-dets, priors) stays
exact, while the subnets it builds get the full policy and run in the low
precision. A coupling's inverse recomputes the subnet on the same input half,
so the round trip is as exact as in float32 (the invariant suite checks it
under every policy). The layer's config keeps the mixed policy, so a reloaded
layer builds its subnets in the same precision.
"""
import keras
import tensorflow as tf

LAYER_REGISTRY = {}


def register_layer(cls):
    """Register an invertible layer class for Keras serialisation and the invariant suite."""
    LAYER_REGISTRY[cls.__name__] = cls
    return keras.saving.register_keras_serializable(package="infozoo")(cls)


def sum_except_batch(t):
    """Sum over every axis but the first: per-example log-dets."""
    return tf.reduce_sum(tf.reshape(t, [tf.shape(t)[0], -1]), axis=1)


def zero_logdet(x):
    return tf.zeros([tf.shape(x)[0]], dtype=x.dtype)


class Invertible(keras.layers.Layer):
    """Base class: subclasses implement ``_forward``/``_inverse`` and, if they
    change shapes, ``compute_output_shape``/``compute_inverse_shape``."""

    bijective = True
    #: True where the layer reads a conditioning input ``c``
    conditional = False

    @property
    def compute_dtype(self):
        """The policy's variable dtype: float32 under a mixed policy (see the module doc)."""
        return self.dtype_policy.variable_dtype

    def conditional_steps(self):
        """``[(layer, per-example cond_shape)]`` of the layers here that read ``c``."""
        return [(self, getattr(self, "cond_shape", None))] if self.conditional else []

    def missing_condition(self):
        """The message for a conditional layer called without ``c``: which layer needs it,
        with what shape."""
        needs = self.conditional_steps()
        shapes = {tuple(s) for _, s in needs if s is not None}
        names = ", ".join(f"{l.name} ({type(l).__name__}, cond_shape {tuple(s) if s else '?'})"
                          for l, s in needs[:4]) + (" ..." if len(needs) > 4 else "")
        shape = (f"[batch, {', '.join(map(str, next(iter(shapes))))}]" if len(shapes) == 1
                 else "the shape each step names")
        return (f"{self.name} is conditional: it needs a condition c of shape {shape}, read "
                f"by {len(needs)} step(s): {names}. Pass it, e.g. forward(x, c=...), "
                f"log_prob(x, c=...)")

    def _condition(self, c):
        if self.conditional:
            if c is None:
                raise ValueError(self.missing_condition())
            return tf.convert_to_tensor(c, dtype=self.compute_dtype)
        if c is not None:
            raise ValueError(f"{self.name} takes no condition: build it with cond_shape=... "
                             f"to condition it on c")
        return None

    def forward(self, x, c=None):
        """``x -> (y, log|det J_f(x)|)`` per example (``c``: the condition, if conditional)."""
        x = tf.convert_to_tensor(x, dtype=self.compute_dtype)
        c = self._condition(c)
        if not self.built:
            self.build(tuple(x.shape))
        return self._forward(x, c) if self.conditional else self._forward(x)

    def inverse(self, y, c=None):
        """``y -> (x, log|det J_{f^-1}(y)|)`` per example (``c``: the condition, if conditional)."""
        y = tf.convert_to_tensor(y, dtype=self.compute_dtype)
        c = self._condition(c)
        if not self.built:
            self.build(tuple(self.compute_inverse_shape(tuple(y.shape))))
        return self._inverse(y, c) if self.conditional else self._inverse(y)

    def call(self, x, c=None):
        return (self._forward(x, c) if self.conditional else self._forward(x))[0]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_inverse_shape(self, output_shape):
        return tuple(output_shape)

    def build(self, input_shape):
        pass

    def _forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} must implement _forward")

    def _inverse(self, y):
        raise NotImplementedError(f"{type(self).__name__} must implement _inverse")
