"""The INN autoencoder and INN-VAE (Nguyen, Ardizzone, Koethe 2019)."""
import keras
import numpy as np
import tensorflow as tf

from infozoo.settings.hparams import inn as hp_specs
from infozoo.layers import (AffineCoupling, FlowBuilder, HaarDownsampling, Inverted, Reshape,
                            Squeeze)
from infozoo.models.base import ZooModel, register_model
from infozoo.nets.subnets import init_normal
from infozoo.util import draws
from infozoo.util.representation import Representation


@register_model("inn")
class INNAutoencoder(ZooModel):
    """INN autoencoder with a zero-padded artificial bottleneck (§2.2).

    Flow (§3.1, as the authors' FrEIA code): Haar downsampling, ``conv_blocks``
    GLOW couplings with convolutional subnets, flatten, ``fc_blocks`` RealNVP
    couplings with fully connected subnets, reshape, Haar upsampling. The
    latent ``F(x)`` is flattened; its first ``bottleneck`` values are the code
    ``y``, the rest ``z`` is zero-padded at decoding. Loss, eq. 5:
    ``w_rec * L1(x, x_hat) + w_pad * mean(z^2)``.
    """

    term_names = ("loss", "l1", "zero_pad")

    hparams = hp_specs.INN

    def __init__(self, input_shape=(28, 28, 1), **kwargs):
        super().__init__(input_shape=input_shape, **kwargs)
        dim = int(np.prod(self.image_shape))
        if not self.hp["bottleneck"] <= dim:
            raise ValueError(f"bottleneck must be between 1 and the data dimension {dim}, "
                             f"got {self.hp['bottleneck']}")
        down = {"haar": HaarDownsampling, "squeeze": Squeeze}[self.hp["downsampling"]]
        f = FlowBuilder(self.image_shape, name="flow")
        f.append(down(name="down"))
        inner = f.shape
        for i in range(self.hp["conv_blocks"]):
            f.append(AffineCoupling("conv", hidden=self.hp["conv_hidden"],
                                    hidden_layers=self.hp["conv_hidden_layers"],
                                    kernel_size=self.hp["kernel_size"], activation="leaky_relu",
                                    clamp=self.hp["clamp"], name=f"conv_coupling_{i}"))
        f.append(Reshape(inner, (-1,), name="flatten"))
        for i in range(self.hp["fc_blocks"]):
            f.append(AffineCoupling("dense", hidden=self.hp["fc_hidden"], hidden_layers=1,
                                    activation="relu", clamp=self.hp["clamp"], separate_st=True,
                                    name=f"fc_coupling_{i}"))
        f.append(Reshape(f.shape, inner, name="unflatten"))
        f.append(Inverted(down(name="up_inner"), name="up"))
        self.flow = f.build()
        if self.hp["init_std"]:
            init_normal(self.flow, self.hp["init_std"])  # the authors' init_param

    @property
    def bottleneck(self):
        return self.hp["bottleneck"]

    @property
    def code_size(self):
        return self.hp["bottleneck"]

    def latent(self, x):
        """The full flattened latent ``F(x)`` (code and padded part)."""
        z, _ = self.flow.forward(x)
        return tf.reshape(z, [-1, int(np.prod(self.image_shape))])

    def _encode(self, x, training=False):
        return self.latent(x)[:, :self.bottleneck]

    def pad(self, code):
        """``[y, 0]`` in the latent's image shape."""
        dim = int(np.prod(self.image_shape))
        zeros = tf.zeros([tf.shape(code)[0], dim - self.bottleneck], code.dtype)
        return tf.reshape(tf.concat([code, zeros], 1), [-1, *self.image_shape])

    def _decode(self, code, training=False):
        return self.flow.inverse(self.pad(tf.convert_to_tensor(code, self.compute_dtype)))[0]

    def representations(self, x):
        """Every flow step, the code, then the inverse steps back to the reconstruction.

        Forward: ``input``, each step of ``self.flow.representations`` (bijective, with its
        log-det); ``Reshape`` steps are left out (flattened, a reshape is the identity).
        ``code``: the first ``bottleneck`` latent values, not bijective, with
        ``dropped``: the zero-padded rest ``z``. Then ``inv_<step>`` for every inverse
        step of ``decode``; the first one starts from ``[y, 0]`` (an embedding, not a
        bijection: no log-det; marked ``injective``, so ``input-noise`` carries the code's
        figure over), the last is named ``reconstruction``.
        """
        x = tf.convert_to_tensor(x, self.compute_dtype)
        dim = int(np.prod(self.image_shape))
        steps, h = self.flow.representations(x)
        reps = [Representation("input", x, True)] + steps
        lat = tf.reshape(h, [-1, dim])
        code = lat[:, :self.bottleneck]
        full = self.bottleneck == dim
        reps.append(Representation("code", code, full,
                                   tf.zeros_like(lat[:, 0]) if full else None,
                                   dropped=None if full else lat[:, self.bottleneck:]))
        inv = self.flow.inverse_representations(self.pad(code))
        if not full:   # [y, 0] is an embedding of the code, not a bijection
            inv[0] = inv[0].replace(bijective=False, logdet=None, injective=True)
        reps += inv
        reps[-1] = reps[-1].replace(name="reconstruction")
        return reps

    def _ae_terms(self, x):
        lat = self.latent(x)
        code, rest = lat[:, :self.bottleneck], lat[:, self.bottleneck:]
        x_hat = self._decode(code)
        l1 = tf.reduce_mean(tf.reshape(tf.abs(x_hat - x), [tf.shape(x)[0], -1]), 1)
        dim = int(np.prod(self.image_shape))
        zero_pad = (tf.reduce_mean(rest * rest, 1) if dim > self.bottleneck
                    else tf.zeros_like(l1))
        return code, l1, zero_pad

    def _loss_terms(self, x, training=False):
        _, l1, zero_pad = self._ae_terms(x)
        return {"loss": self.hp["w_rec"] * l1 + self.hp["w_pad"] * zero_pad,
                "l1": l1, "zero_pad": zero_pad}


@register_model("inn-vae")
class INNVAE(INNAutoencoder):
    """INN variational autoencoder, eq. 6: eq. 5 plus ``w_mmd * MMD(q(y), N(0, I))``.

    The MMD is the unbiased multi-scale IMQ estimator of ``infozoo.losses.mmd``
    over the global batch; every example carries the batch value.
    """

    term_names = ("loss", "l1", "zero_pad", "mmd")
    random_terms = ("loss", "mmd")
    can_sample = True

    hparams = hp_specs.INN_VAE

    def __init__(self, input_shape=(28, 28, 1), **kwargs):
        super().__init__(input_shape=input_shape, **kwargs)
        self.seed_gen = keras.random.SeedGenerator(self.hp["seed"])

    def _loss_terms(self, x, training=False):
        code, l1, zero_pad = self._ae_terms(x)
        d = self.global_mmd(code, lambda n: keras.random.normal(tf.stack([n, tf.shape(code)[1]]), dtype=code.dtype, seed=self.seed_gen)) * tf.ones_like(l1)  # noqa: E501
        return {"loss": self.hp["w_rec"] * l1 + self.hp["w_pad"] * zero_pad + self.hp["w_mmd"] * d,
                "l1": l1, "zero_pad": zero_pad, "mmd": d}

    def _sample(self, n, temperature, seed):
        """``decode(T * y)``, ``y ~ N(0, I)``, the prior the MMD term pulls the code to."""
        code = temperature * draws.normal([n, self.bottleneck], self.compute_dtype, seed)
        return self._decode(code)
