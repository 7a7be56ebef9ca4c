"""Hyperparameters of the classical autoencoders the INN-AE paper compares with (§3.1;
``models/classic.py``)."""
from infozoo.settings.hparams import HParam, HParams, register

CLASSIC = register("classic", HParams(
    HParam("bottleneck", "int", 32, "size of the code", min=1),
    HParam("arch", "str", "mlp", "mlp (MNIST-style, fully connected) or conv "
           "(CIFAR-10-style)", choices=("mlp", "conv")),
    HParam("hidden", "list", [512, 256, 128], "hidden units of the mlp, encoder order "
           "(the decoder mirrors them)", items={"type": "int", "min": 1}),
    HParam("conv_channels", "list", [16, 32, 32, 32, 16], "channels of the conv encoder "
           "(the decoder mirrors them)", items={"type": "int", "min": 1}, min_items=1),
    HParam("code_activation", "str", "linear", "activation of the code layer, linear (the "
           "authors' code, nn.Linear(128, bottleneck)) or relu", choices=("relu", "linear")),
))
