"""Training throughput of every zoo model on MNIST-shaped data, ``jit_compile`` off and on.

Prints one ``RESULT {json}`` line per (model, jit) with the median images/s of
timed windows after warm-up and the peak resident memory of the process, in
the format of the reference scripts in ``../shared/bench/``.
"""
import json
import resource
import statistics
import time

import numpy as np


def _throughput(model, x, windows, steps):
    model.train_on_batch(x)  # trace
    model.train_on_batch(x)  # warm-up
    rates = []
    for _ in range(windows):
        t = time.perf_counter()
        for _ in range(steps):
            loss = model.train_on_batch(x, return_dict=True)["loss"]
        rates.append(steps * len(x) / (time.perf_counter() - t))
    assert np.isfinite(loss), "loss not finite during the benchmark"
    return rates


def run(names=None, batch_size=128, windows=5, steps=3, shape=(28, 28, 1)):
    import keras
    from infozoo import config
    from infozoo.train import build_model, make_optimizer
    names = names or config.zoo_names()
    x = np.random.RandomState(0).rand(batch_size, *shape).astype("float32")
    for name in names:
        cfg = config.resolve(name)
        for jit in (False, True):
            keras.utils.set_random_seed(0)
            model = build_model(cfg, shape)
            model.compile(optimizer=make_optimizer(cfg), jit_compile=jit)
            try:
                rates = _throughput(model, x, windows, steps)
            except Exception as e:  # noqa: BLE001  (report and go on to the next model)
                print("RESULT " + json.dumps({"model": name, "jit_compile": jit,
                                              "error": f"{type(e).__name__}: {e}"[:300]}))
                continue
            print("RESULT " + json.dumps({
                "model": name, "jit_compile": jit, "batch": batch_size,
                "images_per_s_median": round(statistics.median(rates), 1),
                "images_per_s_windows": [round(r, 1) for r in rates],
                "params": model.count_params_trainable(),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }), flush=True)
