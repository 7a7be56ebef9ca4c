"""The toy25 dataset of IPAE §4.1 and numpy-drawn scatter plots.

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
import os

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


def is_toy25(name):
    return isinstance(name, str) and (name == "toy25" or name.startswith("toy25:"))


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


# -- scatter plots, drawn with numpy ----------------------------------------------------
def label_colors(n):
    """``n`` distinct RGB colours in [0, 1] (evenly spaced hues, alternating brightness)."""
    h = np.arange(n) / max(n, 1)
    v = np.where(np.arange(n) % 2 == 0, 0.95, 0.65)
    i = np.floor(h * 6).astype(int) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * 0.15, v * (1 - 0.85 * f), v * (1 - 0.85 * (1 - f))
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    return np.stack([np.choose(i, [tb[c] for tb in table]) for c in range(3)], 1)


def scatter_image(layers, size=384, bounds=None, margin=0.05):
    """An RGB uint8 scatter plot of point sets on a white background, with axes through 0.

    ``layers``: list of ``(points [n, 2], colours [n, 3] or one [3] colour, radius px)``,
    drawn in order. ``bounds``: ``(xmin, xmax, ymin, ymax)``, default all points + margin.
    """
    layers = [(np.asarray(p, np.float64).reshape(-1, 2), np.asarray(c, np.float64), int(r))
              for p, c, r in layers]
    allp = np.concatenate([p for p, _, _ in layers], 0)
    allp = allp[np.all(np.isfinite(allp), 1)]
    if bounds is None:
        lo, hi = (allp.min(0), allp.max(0)) if len(allp) else (np.zeros(2) - 1, np.ones(2))
        span = np.maximum(hi - lo, 1e-6)
        lo, hi = lo - margin * span, hi + margin * span
    else:
        lo, hi = np.array(bounds[0::2], np.float64), np.array(bounds[1::2], np.float64)
    img = np.ones((size, size, 3), np.float64)
    to_px = lambda p: np.round((p - lo) / (hi - lo) * (size - 1)).astype(int)  # noqa: E731
    o = to_px(np.zeros(2))
    if 0 <= o[0] < size:
        img[:, o[0]] = 0.85
    if 0 <= o[1] < size:
        img[size - 1 - o[1], :] = 0.85
    for pts, col, r in layers:
        ok = np.all(np.isfinite(pts), 1)
        px = to_px(pts[ok])
        cols = np.broadcast_to(col if col.ndim == 2 else col[None], (len(pts), 3))[ok]
        for dx in range(-r, r + 1):
            for dy in range(-r, r + 1):
                if dx * dx + dy * dy > r * r + r:
                    continue
                cx, cy = px[:, 0] + dx, size - 1 - (px[:, 1] + dy)
                keep = (cx >= 0) & (cx < size) & (cy >= 0) & (cy < size)
                img[cy[keep], cx[keep]] = cols[keep]
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def write_png(run_dir, name, img, step=0, writer=None):
    """Writes ``run_dir/images/<name>.png`` (uint8 ``[H, W, 3]``) and a TensorBoard image."""
    import tensorflow as tf
    path = os.path.join(run_dir, "images", f"{name}.png")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tf.io.write_file(path, tf.io.encode_png(img))
    if writer is not None:
        with writer.as_default():
            tf.summary.image(name, img[None], step=step)
        writer.flush()
    return path


RED, BLUE = np.array([0.85, 0.1, 0.1]), np.array([0.1, 0.2, 0.9])


def reconstruction_scatter(x, x_hat, size=384):
    """IPAE Fig. 1: inputs as red circles, reconstructions as blue dots."""
    return scatter_image([(np.asarray(x).reshape(-1, 2), RED, 2),
                          (np.asarray(x_hat).reshape(-1, 2), BLUE, 1)], size=size)


def code_scatter(z, y=None, size=384):
    """VIMAE Fig. 1: 2-D codes coloured by label (one colour without labels)."""
    z = np.asarray(z).reshape(len(z), -1)[:, :2]
    if y is None:
        return scatter_image([(z, BLUE, 1)], size=size)
    y = np.asarray(y).astype(int)
    return scatter_image([(z, label_colors(int(y.max()) + 1)[y], 1)], size=size)
