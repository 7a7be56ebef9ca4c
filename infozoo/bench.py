"""Training throughput of zoo models on MNIST-shaped data, per precision and ``jit_compile``.

Prints one ``RESULT {json}`` line per (model, precision, jit) with the median
images/s of timed windows after warm-up, the peak resident memory of the
process so far (run one configuration per process to read it per
configuration, as ``bin/bench_inn_reference`` does) and ``foreign_cpu_cores``:
the CPU time other processes took per second of the timed windows (from
``/proc/stat``; a large value means the figure is disturbed), in the format of
the reference scripts in ``../shared/bench/``. ``input_pipeline`` times
``infozoo.data.train_pipeline`` alone.
"""
import json
import os
import resource
import statistics
import time

import numpy as np


def _busy_seconds():
    """CPU seconds all processes have spent busy (``/proc/stat``; 0 where unreadable)."""
    try:
        with open("/proc/stat") as f:
            v = [int(t) for t in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def timed_windows(step, images, windows, steps):
    """``(images/s per window, foreign CPU cores per window)`` of ``step()`` calls."""
    rates, foreign = [], []
    for _ in range(windows):
        b0, c0, t0 = _busy_seconds(), time.process_time(), time.perf_counter()
        for _ in range(steps):
            step()
        wall = time.perf_counter() - t0
        own, busy = time.process_time() - c0, _busy_seconds() - b0
        rates.append(steps * images / wall)
        foreign.append(max(0.0, busy - own) / wall)
    return rates, foreign


def _throughput(model, x, windows, steps):
    model.train_on_batch(x)  # trace
    model.train_on_batch(x)  # warm-up
    last = {}

    def step():
        last["loss"] = model.train_on_batch(x, return_dict=True)["loss"]
    out = timed_windows(step, len(x), windows, steps)
    assert np.isfinite(last["loss"]), "loss not finite during the benchmark"
    return out


def _peak_rss_mb():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def pipeline(batch_size=128, n=60000, windows=5, steps=50, shape=(28, 28, 1)):
    """images/s of the training input pipeline alone (cache, shuffle, batch, prefetch)."""
    from infozoo.data import train_pipeline
    x = np.random.RandomState(0).rand(n, *shape).astype("float32")
    it = iter(train_pipeline(x, batch_size, 0, 10000))
    for _ in range(steps):
        next(it)
    rates, foreign = timed_windows(lambda: next(it), batch_size, windows, steps)
    print("RESULT " + json.dumps({
        "model": "input_pipeline", "batch": batch_size,
        "images_per_s_median": round(statistics.median(rates), 1),
        "foreign_cpu_cores": round(max(foreign), 2)}), flush=True)


def run(names=None, batch_size=128, windows=5, steps=3, shape=(28, 28, 1),
        precisions=("float32", "mixed_bfloat16"), jits=(False, True)):
    import keras
    from infozoo import config, precision
    from infozoo.train import build_model, make_optimizer
    names = names or config.zoo_names()
    x = np.random.RandomState(0).rand(batch_size, *shape).astype("float32")
    for name in names:
        for prec in precisions:
            for jit in jits:
                cfg = config.resolve(name, {"train.precision": prec})
                used = precision.resolve(prec)
                head = {"model": name, "precision": used, "jit_compile": jit}
                keras.utils.set_random_seed(0)
                try:
                    model = build_model(cfg, shape)
                    model.compile(optimizer=make_optimizer(cfg), jit_compile=jit)
                    rates, foreign = _throughput(model, x, windows, steps)
                except Exception as e:  # noqa: BLE001  (report and go on to the next one)
                    print("RESULT " + json.dumps({**head, "error":
                                                  f"{type(e).__name__}: {e}"[:300]}), flush=True)
                    continue
                print("RESULT " + json.dumps({
                    **head, "batch": batch_size,
                    "images_per_s_median": round(statistics.median(rates), 1),
                    "images_per_s_windows": [round(r, 1) for r in rates],
                    "foreign_cpu_cores": round(max(foreign), 2),
                    "params": model.count_params_trainable(),
                    "peak_rss_mb": _peak_rss_mb(),
                }), flush=True)


def _label(r):
    return f"infozoo {r['model']} {r['precision']} jit={'on' if r['jit_compile'] else 'off'}"


def table(lines):
    """A Markdown table of ``RESULT`` lines from ``bin/bench_inn_reference``: images/s (median
    over rounds of each configuration's median), peak memory, and ratios to FrEIA float32 and
    to the fastest PyTorch configuration."""
    rows = {}
    for line in lines:
        if "RESULT" not in line:
            continue
        r = json.loads(line.split("RESULT", 1)[1])
        if "error" in r:
            name = _label(r)
            rows.setdefault(name, {"ips": [], "mem": [], "foreign": [], "error": r["error"]})
            continue
        if "name" in r:       # the PyTorch reference (../shared/bench/inn_torch.py)
            name, ips = r["name"], r["images_per_s"]
            mem = r.get("peak_rss_mb")
        elif r.get("model") == "input_pipeline":
            continue
        else:
            name = _label(r)
            ips, mem = r["images_per_s_median"], r.get("peak_rss_mb")
        row = rows.setdefault(name, {"ips": [], "mem": [], "foreign": []})
        row["ips"].append(ips)
        row["mem"].append(mem)
        row["foreign"].append(r.get("foreign_cpu_cores"))
    med = {k: statistics.median(v["ips"]) for k, v in rows.items() if v["ips"]}
    freia = next((v for k, v in med.items() if k.startswith("torch-freia-t")), None)
    torch = {k: v for k, v in med.items() if k.startswith("torch-")}
    best = max(torch, key=torch.get) if torch else None
    out = [f"| configuration | images/s | peak RSS (MB) | foreign CPU cores (max) | "
           f"x FrEIA float32 | x best PyTorch ({best}) |", "|---|---|---|---|---|---|"]
    for k in sorted(rows, key=lambda k: -med.get(k, 0)):
        v = rows[k]
        if k not in med:
            out.append(f"| {k} | error: {v['error'][:80]} | | | | |")
            continue
        mem = max((m for m in v["mem"] if m is not None), default=None)
        foreign = max((f for f in v["foreign"] if f is not None), default=None)
        out.append(f"| {k} | {med[k]:.1f} | {mem if mem is not None else 'n/a'} | "
                   f"{foreign if foreign is not None else 'n/a'} | "
                   f"{med[k] / freia:.2f} | {med[k] / torch[best]:.2f} |" if freia and best else
                   f"| {k} | {med[k]:.1f} | {mem} | {foreign} | | |")
    return "\n".join(out)


if __name__ == "__main__":
    import sys
    with open(sys.argv[1]) as f:
        print(table(f.readlines()))
