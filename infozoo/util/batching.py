"""The one batched-evaluation helper (numpy in, numpy out; no TensorFlow import)."""
import numpy as np


def batched(fn, x, batch_size=500):
    """``fn`` on consecutive slices of ``x`` (an array), or, for an int ``x``, on the sizes of
    consecutive chunks of ``x`` items (``fn(n)`` draws ``n`` samples); outputs (arrays or
    dicts of arrays) are converted to numpy and concatenated along axis 0."""
    if isinstance(x, (int, np.integer)):
        parts = [fn(min(batch_size, int(x) - i)) for i in range(0, int(x), batch_size)]
    else:
        parts = [fn(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    if not parts:
        raise ValueError("batched: nothing to evaluate (empty input)")
    if isinstance(parts[0], dict):
        return {k: np.concatenate([np.asarray(p[k]) for p in parts], 0) for k in parts[0]}
    return np.concatenate([np.asarray(p) for p in parts], 0)
