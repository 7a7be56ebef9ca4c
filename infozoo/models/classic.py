"""The classical autoencoder baselines of the INN-AE paper (§3.1)."""
import keras
import numpy as np
import tensorflow as tf

from infozoo.settings.hparams import classic as hp_specs
from infozoo.models.base import ZooModel, register_model
from infozoo.util.representation import Representation


@register_model("classic")
class ClassicAutoencoder(ZooModel):
    """Classical autoencoder with an L1 reconstruction loss (§3.2).

    ``arch="mlp"`` (MNIST, §3.1): fully connected encoder ``hidden + [bottleneck]``,
    each layer followed by ReLU; the decoder mirrors it and ends in tanh. The
    zoo configs ``classic``, ``classic-1024``, ``classic-2048`` and
    ``classic-deep`` set ``hidden`` to [512, 256, 128], [1024]*3, [2048]*3 and
    [1024]*4 (the authors' ``mnist_autoencoder_deep_1024``). ``arch="conv"`` (CIFAR-10, §3.1): five 3x3 stride-1 convolutions
    (widths ``conv_channels``, which the paper does not give) and one fully
    connected layer to the bottleneck; the decoder mirrors it with tanh at the end.
    ``code_activation`` is the activation of the code layer: ``"linear"`` as in the
    authors' code (``nn.Linear(128, bottleneck)`` ends the encoder), or ``"relu"`` (a
    ReLU code can die entirely at small bottlenecks, see docs/results-inn.md).
    """

    term_names = ("loss", "l1")
    hparams = hp_specs.CLASSIC

    def __init__(self, input_shape=(28, 28, 1), **kwargs):
        super().__init__(input_shape=input_shape, **kwargs)
        hp = self.hp
        dim = int(np.prod(self.image_shape))
        L = keras.layers
        if hp["arch"] == "mlp":
            enc = [L.Flatten()] + [L.Dense(h, activation="relu") for h in hp["hidden"]]
            dec = [L.Dense(h, activation="relu") for h in reversed(hp["hidden"])]
            dec += [L.Dense(dim, activation="tanh"), L.Reshape(self.image_shape)]
        else:
            h, w, c = self.image_shape
            chans = hp["conv_channels"]
            enc = [L.Conv2D(ch, 3, padding="same", activation="relu") for ch in chans]
            enc += [L.Flatten()]
            dec = [L.Dense(h * w * chans[-1], activation="relu"), L.Reshape((h, w, chans[-1]))]
            dec += [L.Conv2DTranspose(ch, 3, padding="same", activation="relu")
                    for ch in reversed(chans[:-1])]
            dec += [L.Conv2DTranspose(c, 3, padding="same", activation="tanh")]
        enc.append(L.Dense(hp["bottleneck"], activation=hp["code_activation"], name="code"))
        self.encoder = keras.Sequential(enc, name="encoder")
        self.decoder = keras.Sequential(dec, name="decoder")
        self.encoder.build((None, *self.image_shape))
        self.decoder.build((None, hp["bottleneck"]))

    @property
    def code_size(self):
        return self.hp["bottleneck"]

    def _encode(self, x, training=False):
        return tf.cast(self.encoder(x, training=training), self.compute_dtype)

    def _decode(self, z, training=False):
        return tf.cast(self.decoder(z, training=training), self.compute_dtype)

    def representations(self, x):
        """The output of every encoder and decoder layer (none is bijective).

        ``Flatten``/``Reshape`` layers are folded into the entry before them (flattened,
        they change nothing); the encoder's last layer is ``code``, the decoder's last
        entry ``reconstruction``. Other entries are named ``enc<i>_<kind><width>`` and
        ``dec<i>_<kind><width>``.
        """
        x = tf.convert_to_tensor(x, self.compute_dtype)
        reps = [Representation("input", x, True)]
        h = x
        for part, net in (("enc", self.encoder), ("dec", self.decoder)):
            for i, layer in enumerate(net.layers):
                h = layer(h)
                if isinstance(layer, (keras.layers.Flatten, keras.layers.Reshape)):
                    reps[-1] = reps[-1].replace(value=h)
                    continue
                width = getattr(layer, "units", None) or getattr(layer, "filters", "")
                name = ("code" if net is self.encoder and i == len(net.layers) - 1
                        else f"{part}{i}_{type(layer).__name__.lower()}{width}")
                reps.append(Representation(name, h, False))
        reps[-1] = reps[-1].replace(name="reconstruction")
        return reps

    def _loss_terms(self, x, training=False):
        x_hat = self._reconstruct(x, training=training)
        l1 = tf.reduce_mean(tf.reshape(tf.abs(x_hat - x), [tf.shape(x)[0], -1]), 1)
        return {"loss": l1, "l1": l1}
