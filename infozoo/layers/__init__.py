"""Invertible Keras 3 layers under one contract (see ``infozoo.layers.base``)."""
from infozoo.layers.base import LAYER_REGISTRY, Invertible, register_layer  # noqa: F401
from infozoo.layers.flow import Flow, FlowBuilder  # noqa: F401
from infozoo.layers.coupling import (AdditiveCoupling, AffineCoupling, Coupling,  # noqa: F401
                                     GLOWCoupling, RNVPCoupling, soft_clamp)
from infozoo.layers.reshape import (FixedPermutation, HaarDownsampling, Inverted,  # noqa: F401
                                    Reshape, Squeeze)
from infozoo.layers.householder import Householder  # noqa: F401
from infozoo.layers.split import Split  # noqa: F401
from infozoo.layers.actnorm import ActNorm  # noqa: F401
from infozoo.layers.conv1x1 import InvertibleConv1x1  # noqa: F401
from infozoo.layers.spline import RQSplineCoupling  # noqa: F401
from infozoo.layers.autoregressive import MaskedAutoregressive  # noqa: F401
