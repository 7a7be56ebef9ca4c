"""The toy25 dataset of IPAE §4.1 (its scatter plots: ``infozoo.viz.plots.toy25_scatter``).

toy25: a mixture of 25 two-dimensional Gaussians, each with covariance ``0.1 I``,
200 samples each (5,000 in all), labelled by component. The paper does not give
the means; here they are the 5 x 5 grid ``{-2, -1, 0, 1, 2} * spacing`` in each
coordinate (default ``spacing = 2``: means in ``{-4, -2, 0, 2, 4}^2``, component
standard deviation ``sqrt(0.1) ~= 0.316``, so neighbours are ~6.3 standard
deviations apart). Component ``r * 5 + c`` has mean ``((c - 2) s, (r - 2) s)``.

Shape: every 2-D point is stored as an "image" of shape ``[1, 1, 2]`` (height 1,
width 1, 2 channels), so the framework's NHWC pipelines, configs, exports and
tests work unchanged; flatten with ``x.reshape(-1, 2)``. The values are *not* in
``[0, 1]``: use a linear decoder output and MSE (the ``ipae``/``vae`` configs do).

Train: 200 samples per component, seed 0. Test: a fresh draw of the same size,
seed 1. Dataset names: ``toy25`` (spacing 2) or ``toy25:<spacing>``, e.g.
``--dataset toy25:3``; the name (and so the spacing) is recorded in the run config.
"""
import numpy as np

N_COMPONENTS = 25
PER_COMPONENT = 200
VARIANCE = 0.1
DEFAULT_SPACING = 2.0


def parse_name(name):
    """``"toy25"`` -> 2.0, ``"toy25:3"`` -> 3.0; ValueError for anything else."""
    if name == "toy25":
        return DEFAULT_SPACING
    if name.startswith("toy25:"):
        try:
            s = float(name.split(":", 1)[1])
        except ValueError:
            s = -1.0
        if s > 0:
            return s
    raise ValueError(f"bad toy25 dataset name {name!r}: use toy25 or toy25:<spacing > 0>")


def grid_means(spacing=DEFAULT_SPACING):
    """``[25, 2]`` component means on the 5 x 5 grid; row ``r * 5 + c`` is ``((c-2)s, (r-2)s)``."""
    g = (np.arange(5, dtype=np.float64) - 2.0) * float(spacing)
    xs, ys = np.meshgrid(g, g)               # ys varies with the row r, xs with the column c
    return np.stack([xs.ravel(), ys.ravel()], 1)


def make_toy25(per_component=PER_COMPONENT, spacing=DEFAULT_SPACING, variance=VARIANCE, seed=0):
    """``(x [25 * per_component, 1, 1, 2] float32, y int64)``, shuffled with ``seed``."""
    rng = np.random.RandomState(seed)
    means = grid_means(spacing)
    y = np.repeat(np.arange(N_COMPONENTS), per_component)
    x = means[y] + rng.normal(0.0, np.sqrt(variance), size=(len(y), 2))
    perm = rng.permutation(len(y))
    return x[perm].astype(np.float32).reshape(-1, 1, 1, 2), y[perm].astype(np.int64)


def toy25_arrays(name="toy25"):
    """``(x_train, y_train, x_test, y_test)`` of dataset ``name`` (see ``parse_name``)."""
    s = parse_name(name)
    xtr, ytr = make_toy25(spacing=s, seed=0)
    xte, yte = make_toy25(spacing=s, seed=1)
    return xtr, ytr, xte, yte


def mean_distance_to_component(x_hat, y, spacing=DEFAULT_SPACING):
    """``E`` of IPAE Fig. 1: mean Euclidean distance of each reconstruction to the mean of the
    Gaussian its input was drawn from (smaller is better)."""
    pts = np.asarray(x_hat, np.float64).reshape(-1, 2)
    return float(np.mean(np.linalg.norm(pts - grid_means(spacing)[np.asarray(y)], axis=1)))
