"""PIE: Pseudo-Invertible Encoder (anonymous ICLR 2019 submission, "PIE: Pseudo-Invertible Encoder").

See ``docs/pie.md`` for the equations, the ``eps`` convention, dequantisation
and bits/dim, and the sharpness metric.
"""
import math

import tensorflow as tf
import tensorflow_probability as tfp

from infozoo.layers import AffineCoupling, Reshape, Squeeze
from infozoo.layers.householder import Householder
from infozoo.layers.split import Split
from infozoo.settings.hparams import pie as hp_specs
from infozoo.models.base import ZooModel, register_model
from infozoo.models.density import DequantizedDensity
from infozoo.util import draws
from infozoo.util.representation import Representation

tfd = tfp.distributions


@register_model("pie")
class PIE(DequantizedDensity, ZooModel):
    """Pseudo-Invertible Encoder with Gaussian split priors.

    #### Architecture (§4.1, §5.1, Fig. 4)

    ``conv_blocks`` convolutional blocks, each: checkerboard ``Squeeze``
    (``[H, W, C] -> [H/2, W/2, 4C]``), ``couplings_per_block`` x (affine
    coupling with a convolutional subnet, ``Householder`` over the channels),
    ``Split`` keeping the first half of the channels. Then a ``Reshape`` to a
    flat vector and one linear block per entry of ``linear_dims``:
    ``couplings_per_block`` x (affine coupling with a dense subnet,
    ``Householder`` over the features), ``Split`` keeping the first
    ``target`` features. Targets are clipped to the current dimension; a block
    whose (clipped) target equals its input dimension has no split (the paper's
    last block, "does not reduce the dimensions any further"). The latent
    ``z`` is the output of the last block (``code_size``).

    MNIST (the defaults): 28x28x1 -> 14x14x4 -> split 14x14x2 -> 7x7x8 -> split
    7x7x4 = 196 -> 64 -> 10 -> 10. sklearn digits (8x8x1): 8x8x1 -> 4x4x4 ->
    4x4x2 -> 2x2x8 -> 2x2x4 = 16 -> 16 (64 clipped) -> 10 -> 10.

    #### Objective (eq. 17)

    ``log p(x) = log N(z; 0, I) + sum_l log N(r_l | g_l(z_l), eps^2 I) + sum log|det J|``;
    the loss is ``nll = -log p(x)`` per example, of the dequantised input (see
    ``loss_terms``). ``eps`` is the standard deviation of the split prior.

    #### Hyperparameters

    :data:`infozoo.settings.hparams.pie.PIE` declares each (type, default, help, bounds); the
    values are in ``self.hp``.
    """

    image_prefix = "pie"
    sample_temperatures = (("T1", 1.0), ("T0.71", math.sqrt(0.5)))
    hparams = hp_specs.PIE

    def __init__(self, input_shape=(28, 28, 1), **kwargs):
        super().__init__(input_shape=input_shape, **kwargs)
        self.build_flow()

    # -- architecture --------------------------------------------------------------
    def _make_steps(self, f):
        """Appends the steps of the architecture above to ``f``, a ``FlowBuilder``."""
        hp, dt = self.hp, self.dtype_policy
        conv = dict(hidden=hp["conv_hidden"], hidden_layers=hp["conv_hidden_layers"],
                    kernel_size=hp["kernel_size"], activation="leaky_relu", clamp=hp["clamp"],
                    dtype=dt)
        dense = dict(hidden=hp["linear_hidden"], hidden_layers=hp["linear_hidden_layers"],
                     activation="leaky_relu", clamp=hp["clamp"], dtype=dt)
        prior = dict(eps=hp["eps"], g=hp["g"], hidden=hp["g_hidden"],
                     hidden_layers=hp["g_hidden_layers"], dtype=dt)

        def couplings(kind, block, subnet):
            for k in range(hp["couplings_per_block"]):
                f.append(AffineCoupling(kind, name=f"{block}_coupling{k}", **subnet))
                f.append(Householder(hp["reflections"], seed=hp["seed"] * 1000 + len(f),
                                     name=f"{block}_householder{k}", dtype=dt))

        #: per-example shape around every block: [(kind, shape_in, shape_kept)]
        self.block_shapes = []
        for b in range(hp["conv_blocks"]):
            h, w, _ = f.shape
            if h % 2 or w % 2:
                raise ValueError(f"convolutional block {b + 1} of {hp['conv_blocks']} cannot "
                                 f"downsample a {h}x{w} tensor (odd size): use fewer conv_blocks "
                                 f"or pad/crop the images")
            f.append(Squeeze(name=f"conv{b}_squeeze", dtype=dt))
            couplings("conv", f"conv{b}", conv)
            shape, c = f.shape, f.shape[-1]
            f.append(Split(c // 2, c, subnet="conv", kernel_size=hp["kernel_size"],
                           name=f"conv{b}_split", **prior))
            self.block_shapes.append(("conv", shape, f.shape))
        f.append(Reshape(f.shape, (-1,), name="flatten", dtype=dt))
        for b, target in enumerate(hp["linear_dims"]):
            couplings("dense", f"linear{b}", dense)
            (dim,) = f.shape
            if target < dim:
                f.append(Split(target, dim, subnet="dense", name=f"linear{b}_split", **prior))
            self.block_shapes.append(("linear", (dim,), f.shape))
        self.latent_dim = f.shape[0]
        #: shapes of the dropped parts r_l, in order of the splits
        self.r_shapes = list(f.r_shapes)

    @property
    def code_size(self):
        return self.latent_dim

    @property
    def splits(self):
        return [s for s in self.flow.steps if isinstance(s, Split)]

    # -- densities -----------------------------------------------------------------
    def prior(self, dtype=tf.float32):
        """The latent prior ``N(0, I)`` on ``z`` (``code_size`` dimensions)."""
        zeros = tf.zeros([self.latent_dim], dtype)
        return tfd.MultivariateNormalDiag(loc=zeros, scale_diag=tf.ones_like(zeros))

    def log_prob_terms(self, x):
        """``x -> {"log_pz", "log_pr", "logdet", "log_prob", "z"}`` per example (eq. 17), no
        noise: the multi-scale flow's density, every split's ``r`` under its prior."""
        return self.flow.log_prob_terms(x, prior=lambda z: self.prior(z.dtype).log_prob(z))

    def representations(self, x):
        """Every flow step (splits not bijective, with the split-off ``r`` as ``dropped``),
        the last forward entry renamed ``code``, then every step of ``decode`` (``inv_<step>``;
        a split's inverse ``[z, g(z)]`` is not bijective), the last named ``reconstruction``.
        ``Reshape`` steps are left out (flattened, a reshape is the identity)."""
        h = tf.convert_to_tensor(x, self.compute_dtype)
        steps, z = self.flow.representations(h)
        reps = [Representation("input", h, True)] + steps
        reps[-1] = reps[-1].replace(name="code")
        reps += self.flow.inverse_representations(z)
        reps[-1] = reps[-1].replace(name="reconstruction")
        return reps

    # -- encoder, decoder, sampling ------------------------------------------------
    def _encode(self, x, training=False):
        """``G(x) = z``: the flow with every split's ``r`` dropped, ``[B, code_size]``."""
        return self.flow.forward_factored(tf.convert_to_tensor(x, self.compute_dtype))[0]

    def _decode(self, z, training=False):
        """``G^-1(z)``: the inverse flow, every split extending ``z`` to ``[z, g(z)]``."""
        return self.flow.inverse_factored(tf.convert_to_tensor(z, self.compute_dtype))[0]

    def _sample(self, n, temperature, seed):
        """``decode(z)``, ``z ~ N(0, temperature^2 I)`` (the paper's N(0, 0.5) is T = sqrt(0.5))."""
        t = tf.cast(temperature, self.compute_dtype)
        z = draws.normal([n, self.latent_dim], self.compute_dtype, seed) * t
        return self._decode(z)
