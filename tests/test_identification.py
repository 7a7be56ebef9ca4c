"""The decoding check (infozoo/probe/identification.py): Fano's bound and its inputs, on
networks whose answer is known."""
import keras
import numpy as np
import pytest

from infozoo.probe.identification import fano_bits, identification


def test_fano_bound_at_its_ends_and_between():
    assert fano_bits(0.0, 1024) == pytest.approx(10.0, abs=1e-12)
    assert fano_bits(1023 / 1024, 1024) == pytest.approx(0.0, abs=1e-9)   # chance: nothing
    p, n = 0.1, 64   # by hand: 6 - h2(0.1) - 0.1 log2 63
    assert fano_bits(p, n) == pytest.approx(6 - 0.4689955935892812 - 0.1 * np.log2(63), abs=1e-12)


def _grid(n_side, spacing):
    g = np.arange(n_side, dtype=np.float32) * spacing
    return np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)   # n_side^2 points in the plane


def _dense(weights):
    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(weights.shape[1],
                                                                 use_bias=False, name="t")])
    m.layers[0].set_weights([weights])
    return m


def test_separated_rows_are_identified_and_a_blind_layer_is_not():
    """16 x 16 grid of spacing 10 at sigma 0.1: the input and a layer that keeps both
    coordinates (scaled by 1,000: nearest-neighbour decoding does not read scale) are decoded
    without error, so the bound is log2 256 less the Clopper-Pearson margin of 0 errors in
    1,024 decodings (P_e <= 0.0036); a layer that keeps only the first coordinate cannot tell
    the 16 rows of a column apart: accuracy near 1/16, and the bound falls to at most 4 bits
    (log2 16), whatever the decoder."""
    x = _grid(16, 10.0)
    keep = identification(_dense(np.eye(2, dtype=np.float32) * 1e3), x, 0.1, draws=4)
    assert [e["name"] for e in keep] == ["input", "t"]
    for e in keep:
        assert e["accuracy"] == 1.0 and e["ceiling"] == 8.0
        assert fano_bits(0.0036, 256) - 0.01 < e["fano_bits"] < 8.0
    assert keep[1]["noise_rms"] == pytest.approx(1e3 * 0.1 * np.sqrt(2), rel=0.1)
    blind = identification(_dense(np.array([[1.0], [0.0]], np.float32)), x, 0.1, draws=4)[1]
    assert blind["dim"] == 1 and blind["accuracy"] < 2 / 16
    assert blind["fano_bits"] <= 4.0


def test_noise_far_above_the_spacing_leaves_nothing():
    x = _grid(8, 0.01)
    e = identification(_dense(np.eye(2, dtype=np.float32)), x, 10.0, draws=2)[1]
    assert e["accuracy"] < 0.1 and e["fano_bits"] == 0.0


def test_bad_input():
    m = _dense(np.eye(2, dtype=np.float32))
    with pytest.raises(ValueError, match="sigma"):
        identification(m, _grid(2, 1.0), 0.0)
    with pytest.raises(ValueError, match="at least 2 rows"):
        identification(m, _grid(2, 1.0)[:1], 0.1)
