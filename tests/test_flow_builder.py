"""``FlowBuilder``: shape tracking, clear errors, and the zoo's flows built with it equal to the
flows of release main@799aeb7, whose hand-written step lists are copied below as the reference.

Equal means: the same steps (class, name, order, per-step configuration and seeds) and, from
the same Keras seed, bit-identical initial weights under the same variable paths, so saved
``.keras`` files, run directories and presets load into the same model
(``tests/test_saved_files.py`` loads files written by release 0.1.0).
"""
import json

import keras
import numpy as np
import pytest

from infozoo.layers import (ActNorm, AffineCoupling, Flow, FlowBuilder, GLOWCoupling,
                            HaarDownsampling, Householder, Inverted, InvertibleConv1x1, Reshape,
                            Split, Squeeze)
from infozoo.models.glow import Glow
from infozoo.models.inn import INNAutoencoder
from infozoo.models.pie import PIE
from infozoo.nets.subnets import ConvSubnet, init_normal


# -- the step lists of main@799aeb7, verbatim but for `self.` --------------------------------
def main_pie_steps(hp, dt, image_shape):
    K = hp["couplings_per_block"]
    steps = []
    block_shapes = []
    h, w, c = image_shape
    for b in range(hp["conv_blocks"]):
        if h % 2 or w % 2:
            raise ValueError("odd size")
        h, w, c = h // 2, w // 2, 4 * c
        steps.append(Squeeze(name=f"conv{b}_squeeze", dtype=dt))
        for k in range(K):
            steps.append(AffineCoupling("conv", hidden=hp["conv_hidden"],
                                        hidden_layers=hp["conv_hidden_layers"],
                                        kernel_size=hp["kernel_size"], activation="leaky_relu",
                                        clamp=hp["clamp"], name=f"conv{b}_coupling{k}",
                                        dtype=dt))
            steps.append(Householder(hp["reflections"], seed=hp["seed"] * 1000 + len(steps),
                                     name=f"conv{b}_householder{k}", dtype=dt))
        keep = c // 2
        steps.append(Split(keep, c, eps=hp["eps"], g=hp["g"], subnet="conv",
                           hidden=hp["g_hidden"], hidden_layers=hp["g_hidden_layers"],
                           kernel_size=hp["kernel_size"], name=f"conv{b}_split", dtype=dt))
        block_shapes.append(("conv", (h, w, c), (h, w, keep)))
        c = keep
    dim = h * w * c
    steps.append(Reshape((h, w, c), (-1,), name="flatten", dtype=dt))
    for b, target in enumerate(hp["linear_dims"]):
        target = min(target, dim)
        for k in range(K):
            steps.append(AffineCoupling("dense", hidden=hp["linear_hidden"],
                                        hidden_layers=hp["linear_hidden_layers"],
                                        activation="leaky_relu", clamp=hp["clamp"],
                                        name=f"linear{b}_coupling{k}", dtype=dt))
            steps.append(Householder(hp["reflections"], seed=hp["seed"] * 1000 + len(steps),
                                     name=f"linear{b}_householder{k}", dtype=dt))
        if target < dim:
            steps.append(Split(target, dim, eps=hp["eps"], g=hp["g"], subnet="dense",
                               hidden=hp["g_hidden"], hidden_layers=hp["g_hidden_layers"],
                               name=f"linear{b}_split", dtype=dt))
        block_shapes.append(("linear", (dim,), (target,)))
        dim = target
    r_shapes = [(*s_in[:-1], s_in[-1] - s_out[-1]) for _, s_in, s_out in block_shapes
                if s_in != s_out]
    return steps, {"block_shapes": block_shapes, "latent_dim": dim, "r_shapes": r_shapes}


def main_glow_steps(hp, dt, image_shape):
    h, w, c = image_shape
    subnet = ConvSubnet(hp["hidden"], hp["hidden_layers"], hp["kernel_size"], "leaky_relu")
    steps = []
    for lv in range(hp["levels"]):
        if h % 2 or w % 2:
            raise ValueError("odd size")
        h, w, c = h // 2, w // 2, 4 * c
        steps.append(Squeeze(name=f"level{lv}_squeeze", dtype=dt))
        for k in range(hp["steps_per_level"]):
            steps += [ActNorm(name=f"level{lv}_actnorm{k}", dtype=dt),
                      InvertibleConv1x1(seed=hp["seed"] * 1000 + len(steps),
                                        name=f"level{lv}_conv1x1_{k}", dtype=dt),
                      GLOWCoupling(subnet, clamp=hp["clamp"], name=f"level{lv}_coupling{k}",
                                   dtype=dt)]
        if lv < hp["levels"] - 1:
            learned = hp["split_prior"] == "learned"
            steps.append(Split(c // 2, c, eps=1.0, g="learned" if learned else "zero",
                               subnet="conv", hidden=hp["hidden"], hidden_layers=1,
                               kernel_size=hp["kernel_size"], name=f"level{lv}_split",
                               dtype=dt))
            c = c // 2
    return steps, {}


def main_inn_steps(hp, dt, image_shape):
    dim = int(np.prod(image_shape))
    down = {"haar": HaarDownsampling, "squeeze": Squeeze}[hp["downsampling"]]
    h, w, c = image_shape
    inner = (h // 2, w // 2, 4 * c)
    steps = [down(name="down")]
    steps += [AffineCoupling("conv", hidden=hp["conv_hidden"],
                             hidden_layers=hp["conv_hidden_layers"],
                             kernel_size=hp["kernel_size"], activation="leaky_relu",
                             clamp=hp["clamp"], name=f"conv_coupling_{i}")
              for i in range(hp["conv_blocks"])]
    steps.append(Reshape(inner, (-1,), name="flatten"))
    steps += [AffineCoupling("dense", hidden=hp["fc_hidden"], hidden_layers=1,
                             activation="relu", clamp=hp["clamp"], separate_st=True,
                             name=f"fc_coupling_{i}")
              for i in range(hp["fc_blocks"])]
    steps.append(Reshape((dim,), inner, name="unflatten"))
    steps.append(Inverted(down(name="up_inner"), name="up"))
    return steps, {}


def main_flow(cls, hp, dt, image_shape):
    """The flow main@799aeb7 built: ``(flow, attributes it set on the model)``."""
    steps, attrs = {PIE: main_pie_steps, Glow: main_glow_steps,
                    INNAutoencoder: main_inn_steps}[cls](hp, dt, image_shape)
    if cls is INNAutoencoder:
        flow = Flow(steps, name="flow")
    else:
        flow = Flow(steps, name="flow", dtype=dt)
    flow.build((None, *image_shape))
    if cls is INNAutoencoder and hp["init_std"]:
        init_normal(flow, hp["init_std"])
    return flow, attrs


def _describe(step):
    """A step's class, name, policy and its simple attributes (a ``Squeeze`` built with a
    policy object has no serialisable config, so ``get_config`` is not used)."""
    simple = (int, float, str, bool, tuple, list, type(None))
    return (type(step).__name__, step.name, step.dtype_policy.name,
            json.dumps({k: v for k, v in sorted(vars(step).items())
                        if not k.startswith("_") and isinstance(v, simple)}, default=str),
            None if not isinstance(step, Inverted) else _describe(step.layer))


CASES = [
    (PIE, dict(input_shape=(8, 8, 1), eps=0.1, conv_blocks=2, linear_dims=[8, 4, 4],
               couplings_per_block=1, reflections=2, conv_hidden=8, linear_hidden=16,
               linear_hidden_layers=1, g_hidden=8)),
    (PIE, dict(input_shape=(16, 8, 3), conv_blocks=3, linear_dims=[100, 6],
               couplings_per_block=2, conv_hidden=4, linear_hidden=8, g="zero", seed=3)),
    (Glow, dict(input_shape=(8, 8, 1), levels=2, steps_per_level=1, hidden=8, hidden_layers=1)),
    (Glow, dict(input_shape=(16, 16, 3), levels=3, steps_per_level=2, hidden=4,
                hidden_layers=1, split_prior="learned", seed=5)),
    (INNAutoencoder, dict(input_shape=(8, 8, 1), bottleneck=4, conv_blocks=2, conv_hidden=8,
                          fc_hidden=16)),
    (INNAutoencoder, dict(input_shape=(8, 8, 2), bottleneck=5, conv_blocks=1, conv_hidden=4,
                          fc_hidden=8, downsampling="squeeze", init_std=0.0)),
]


@pytest.mark.parametrize("cls,kw", CASES, ids=[f"{c.__name__}{i}" for i, (c, _) in
                                                enumerate(CASES)])
def test_the_zoo_flows_equal_those_of_main(cls, kw):
    keras.backend.clear_session()       # the same automatic sublayer names for both
    keras.utils.set_random_seed(0)
    m = cls(**kw)
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    ref, attrs = main_flow(cls, m.hp, m.dtype_policy, m.image_shape)
    assert [_describe(s) for s in m.flow.steps] == [_describe(s) for s in ref.steps]
    assert m.flow.z_shape == ref.z_shape and m.flow.r_shapes == ref.r_shapes
    for name, value in attrs.items():
        assert getattr(m, name) == value, name
    got, want = m.flow.weights, ref.weights
    assert [(v.path, tuple(v.shape)) for v in got] == [(v.path, tuple(v.shape)) for v in want]
    assert len(got) > 10
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


def test_the_tiny_pie_steps_by_name():
    m = PIE(**CASES[0][1])
    assert [s.name for s in m.flow.steps] == [
        "conv0_squeeze", "conv0_coupling0", "conv0_householder0", "conv0_split",
        "conv1_squeeze", "conv1_coupling0", "conv1_householder0", "conv1_split", "flatten",
        "linear0_coupling0", "linear0_householder0", "linear0_split", "linear1_coupling0",
        "linear1_householder0", "linear1_split", "linear2_coupling0", "linear2_householder0"]
    assert [s.seed for s in m.flow.steps if isinstance(s, Householder)] == [2, 6, 10, 13, 16]
    assert m.r_shapes == [(4, 4, 2), (2, 2, 4), (8,), (4,)] == m.flow.r_shapes


def test_the_tiny_glow_seeds_are_the_index_of_each_actnorm():
    m = Glow(**CASES[3][1])
    convs = [(i, s.seed) for i, s in enumerate(m.flow.steps)
             if isinstance(s, InvertibleConv1x1)]
    assert [seed - 5000 for _, seed in convs] == [i - 1 for i, _ in convs]


# -- the builder --------------------------------------------------------------------------
def test_builder_tracks_shapes_and_parts():
    f = FlowBuilder((8, 8, 1), name="f", dtype="float64")
    assert f.shape == (8, 8, 1) and len(f) == 0
    f.append(Squeeze(dtype="float64"))
    assert f.shape == (4, 4, 4)
    f.append(Split(1, f.shape[-1], g="zero", dtype="float64"))
    assert f.shape == (4, 4, 1) and f.r_shapes == [(4, 4, 3)]
    f.append(Reshape(f.shape, (-1,), dtype="float64"))
    assert f.shape == (16,)
    f.append(Split(5, 16, g="zero", dtype="float64"))
    assert f.shape == (5,) and f.r_shapes == [(4, 4, 3), (11,)] and len(f) == 4
    flow = f.build()
    assert flow.built and flow.name == "f" and flow.dtype_policy.name == "float64"
    assert flow.z_shape == f.shape and flow.r_shapes == f.r_shapes
    x = np.random.RandomState(0).rand(2, 8, 8, 1)
    v, _ = flow.forward(x)
    np.testing.assert_allclose(flow.inverse(v)[0].numpy(), x, atol=1e-12)


def test_builder_errors_are_value_errors():
    f = FlowBuilder((6, 6, 1))
    f.append(Squeeze())
    with pytest.raises(ValueError, match="even height and width, got 3x3"):
        f.append(Squeeze())
    assert len(f) == 1 and f.shape == (3, 3, 4)        # the refused step was not added
    with pytest.raises(ValueError, match="Invertible layer, got Dense"):
        f.append(keras.layers.Dense(3))
    with pytest.raises(ValueError, match="odd size"):
        PIE(input_shape=(8, 8, 1), conv_blocks=4)         # 8 -> 4 -> 2 -> 1: block 4 is odd
    with pytest.raises(ValueError, match="level 3 of 3 cannot squeeze a 1x1 tensor"):
        Glow(input_shape=(4, 4, 1), levels=3)
    with pytest.raises(ValueError, match="even height and width, got 7x8"):
        INNAutoencoder(input_shape=(7, 8, 1), bottleneck=4)
