"""Image grids: one function writes a PNG under the run directory and a TensorBoard image."""
import os

import numpy as np
import tensorflow as tf


def grid(rows, pad=1):
    """Tiles ``rows`` (a list of ``[n, H, W, C]`` arrays, one per grid row) into one uint8 image."""
    rows = [np.clip(np.asarray(r, np.float32), 0.0, 1.0) for r in rows]
    n = max(len(r) for r in rows)
    h, w, c = rows[0].shape[1:]
    out = np.ones(((h + pad) * len(rows) + pad, (w + pad) * n + pad, c), np.float32)
    for i, r in enumerate(rows):
        for j, img in enumerate(r):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            out[y:y + h, x:x + w] = img
    if c == 1:
        out = np.repeat(out, 3, axis=-1)
    return (out * 255.0 + 0.5).astype(np.uint8)


def upscale(img, min_side=256):
    """Nearest-neighbour upscaling so tiny images (8x8 digits) stay visible."""
    f = max(1, int(np.ceil(min_side / max(img.shape[0], img.shape[1]))))
    return np.repeat(np.repeat(img, f, 0), f, 1)


def write_grid(run_dir, name, rows, step=0, writer=None):
    """Writes ``run_dir/images/<name>.png`` and, with a summary writer, a TensorBoard image."""
    img = grid(rows)
    path = os.path.join(run_dir, "images", f"{name}.png")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tf.io.write_file(path, tf.io.encode_png(upscale(img)))
    if writer is not None:
        with writer.as_default():
            tf.summary.image(name, img[None], step=step)
        writer.flush()
    return path


def reconstruction_rows(x, x_hat):
    """Input, reconstruction and |difference| rows (INN-AE paper, Figure 6)."""
    return [x, x_hat, np.abs(np.asarray(x) - np.asarray(x_hat))]
