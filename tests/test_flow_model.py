"""FlowModel: a user's Flow as a Keras model (the two-moons training and the fresh-process
.keras reload are in tests/test_docs_layers.py, running docs/layers.md's example)."""
import math

import keras
import numpy as np
import pytest

from infozoo.layers import ActNorm, Flow, GLOWCoupling, RNVPCoupling, Split
from infozoo.models import FlowModel
from infozoo.nets.subnets import DenseSubnet


def _cond_flow():
    return Flow([ActNorm(), GLOWCoupling(DenseSubnet(8), cond_shape=(3,)),
                 Split(2, 4, g="zero", eps=1.0), RNVPCoupling(DenseSubnet(6))])


def test_missing_or_wrong_condition_names_the_layer_and_shape():
    m = FlowModel(_cond_flow(), input_shape=(4,))
    assert m.conditional and m.cond_shape == (3,)
    x = np.zeros((5, 4), "float32")
    with pytest.raises(ValueError, match=r"c of shape \[batch, 3\].*glow_coupling.*GLOWCoupling"):
        m.log_prob(x)
    with pytest.raises(ValueError, match=r"c of shape \[batch, 3\]"):
        m.sample(2)
    with pytest.raises(ValueError, match=r"c must have shape \[batch, 3\], got \[5, 2\]"):
        m.log_prob(x, np.zeros((5, 2), "float32"))
    with pytest.raises(ValueError, match=r"x must have shape \[batch, 4\]"):
        m.log_prob(np.zeros((5, 3), "float32"), np.zeros((5, 3), "float32"))
    with pytest.raises(ValueError, match="one condition per draw"):
        m.sample(4, c=np.zeros((2, 3), "float32"))
    # the same message from the bare Flow (it has no cond_shape of its own)
    with pytest.raises(ValueError, match=r"needs a condition c of shape \[batch, 3\]"):
        m.flow.log_prob(x)
    plain = FlowModel(Flow([RNVPCoupling(DenseSubnet(4))]), input_shape=(2,))
    with pytest.raises(ValueError, match="takes no c"):
        plain.log_prob(np.zeros((1, 2), "float32"), np.zeros((1, 3), "float32"))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="input_shape"):
        FlowModel(Flow([RNVPCoupling(DenseSubnet(4))]))
    with pytest.raises(ValueError, match="num_bins"):
        FlowModel(Flow([RNVPCoupling(DenseSubnet(4))]), input_shape=(2,), dequantize=True)
    with pytest.raises(ValueError, match="Flow"):
        FlowModel(keras.layers.Dense(3), input_shape=(2,))
    m = FlowModel([RNVPCoupling(DenseSubnet(4))], input_shape=(2,))   # a list: made a Flow
    with pytest.raises(ValueError, match="without loss"):
        m.compile("adam", loss="mse")


def test_summary_has_a_row_per_step_and_one_print_fn_call_per_line():
    m = FlowModel(_cond_flow(), input_shape=(4,))
    lines = []
    m.summary(print_fn=lines.append)
    assert all("\n" not in ln for ln in lines)
    for step in m.flow.steps:
        assert sum(f"{step.name} ({type(step).__name__})" in ln for ln in lines) == 1
    assert lines[-3] == f"Total params: {m.count_params():,}"
    assert "condition [3]" in lines[0]


def test_zoo_model_summary_calls_print_fn_per_line():
    from tiny import make
    lines = []
    make("glow").summary(print_fn=lines.append)
    assert len(lines) > 10 and all("\n" not in ln for ln in lines)


def test_seeded_samples_repeat_and_differ_between_seeds():
    m = FlowModel(_cond_flow(), input_shape=(4,))
    c = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    a, b = m.sample(4, c=c, seed=5), m.sample(4, c=c, seed=5)
    np.testing.assert_array_equal(a, b)
    assert np.abs(np.asarray(m.sample(4, c=c, seed=6)) - np.asarray(a)).max() > 1e-3


@pytest.mark.slow
def test_fit_unconditional_with_dequantisation_reports_bits_per_dim():
    keras.utils.set_random_seed(1)
    rng = np.random.RandomState(0)
    x = (rng.randint(0, 16, (256, 4)) / 16.0).astype("float32")
    m = FlowModel(Flow([ActNorm(), RNVPCoupling(DenseSubnet(16)), RNVPCoupling(DenseSubnet(16))]),
                  input_shape=(4,), dequantize=True, num_bins=16, seed=0)
    m.compile(keras.optimizers.Adam(1e-2))
    h = m.fit(x, batch_size=64, epochs=4, verbose=0).history
    assert h["loss"][-1] < h["loss"][0]
    # bits/dim is the loss in other units: (nll / D + log K) / log 2, averaged the same way
    np.testing.assert_allclose(h["bits_per_dim"][-1],
                               (h["loss"][-1] / 4 + math.log(16)) / math.log(2), rtol=1e-5)
    ev = m.evaluate(x, verbose=0, return_dict=True)
    assert np.isfinite(ev["loss"])
    with pytest.raises(ValueError, match="not conditional"):
        m.fit((x, x[:, :2]), epochs=1, verbose=0)
