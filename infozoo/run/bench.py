"""Training throughput of zoo models on MNIST-shaped data, per precision and ``jit_compile``.

Prints one ``RESULT {json}`` line per (model, precision, jit) with the median
images/s of timed windows after warm-up, the peak resident memory of the
process so far (run one configuration per process to read it per
configuration, as ``bin/bench_inn_reference`` does) and ``foreign_cpu_cores``:
the CPU time other processes took per second of the timed windows (from
``/proc/stat``; a large value means the figure is disturbed), in the format of
the reference scripts in ``../shared/bench/``. ``input_pipeline`` times
``infozoo.data.loaders.train_pipeline`` alone.

:func:`op_profile` records training steps with TensorFlow's profiler and sums the
time of every executed op by op type (``python -m infozoo.run.bench profile``,
``bin/profile_step``).
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
    from infozoo.data.loaders import train_pipeline
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
    from infozoo.settings import config
    from infozoo.run import precision
    from infozoo.run.factory import build_model, make_optimizer
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


#: op-type groups of :func:`op_profile` (first match wins; oneDNN's ops are ``_MklNative*``)
OP_GROUPS = (("convolution", ("Conv2D", "Conv3D", "DepthwiseConv")),
             ("matmul", ("MatMul", "BatchMatMul", "Einsum")),
             ("cast", ("Cast",)),
             ("slice/concat/reshape", ("Slice", "Concat", "Pack", "Unpack", "Split", "Reshape",
                                       "Transpose", "Gather", "Tile", "Broadcast", "Pad",
                                       "SpaceToDepth", "DepthToSpace")),
             ("optimizer/variables", ("Variable", "Assign", "ApplyAdam", "ResourceApply")))


def op_group(op_type):
    """The :data:`OP_GROUPS` group of a TensorFlow op type (``elementwise/other`` if none)."""
    for group, keys in OP_GROUPS:
        if any(k in op_type for k in keys):
            return group
    return "elementwise/other"


def _op_times(logdir):
    """``{op type: (total ms, count)}`` over every op the profiler saw on the host."""
    import glob
    from tensorflow.tsl.profiler.protobuf import xplane_pb2
    files = sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True))
    space = xplane_pb2.XSpace()
    with open(files[-1], "rb") as f:
        space.ParseFromString(f.read())
    out = {}
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        for line in plane.lines:
            if line.name == "python":
                continue
            for e in line.events:
                md = plane.event_metadata[e.metadata_id]
                if ":" in md.name and md.display_name:      # "<op name>:<op type>"
                    ms, n = out.get(md.display_name, (0.0, 0))
                    out[md.display_name] = (ms + e.duration_ps / 1e9, n + 1)
    return out


def op_profile(name="inn", precision="mixed_bfloat16", batch_size=128, steps=3,
               shape=(28, 28, 1), jit=False, logdir=None):
    """Training steps of zoo model ``name`` under TensorFlow's profiler: wall time per step and
    the time of every op type, summed over the host's compute threads (ops running side by
    side on the inter-op pool both count, so the op total can exceed the wall time). Returns
    ``{"wall_ms_per_step", "images_per_s", "foreign_cpu_cores", "ops": {type: [ms per step, calls per step]},
    "groups": {group: ms per step}, "conv_share"}`` (``conv_share``: convolution time over
    all op time)."""
    import tempfile

    import keras
    import tensorflow as tf
    from infozoo.settings import config
    from infozoo.run.factory import build_model, make_optimizer
    cfg = config.resolve(name, {"train.precision": precision})
    keras.utils.set_random_seed(0)
    model = build_model(cfg, shape)
    model.compile(optimizer=make_optimizer(cfg), jit_compile=jit)
    x = np.random.RandomState(0).rand(batch_size, *shape).astype("float32")
    for _ in range(3):
        model.train_on_batch(x)
    logdir = logdir or tempfile.mkdtemp(prefix="infozoo-profile-")
    tf.profiler.experimental.start(logdir)
    b0, c0, t0 = _busy_seconds(), time.process_time(), time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x)
    wall = time.perf_counter() - t0
    foreign = max(0.0, _busy_seconds() - b0 - (time.process_time() - c0)) / wall
    wall /= steps
    tf.profiler.experimental.stop()
    ops = {k: [ms / steps, n // steps] for k, (ms, n) in _op_times(logdir).items()}
    groups = {}
    for k, (ms, _) in ops.items():
        groups[op_group(k)] = groups.get(op_group(k), 0.0) + ms
    total = sum(groups.values())
    return {"model": name, "precision": precision, "batch": batch_size, "steps": steps,
            "wall_ms_per_step": 1e3 * wall, "images_per_s": batch_size / wall,
            "foreign_cpu_cores": round(foreign, 2), "op_ms_per_step": total, "conv_share": groups.get("convolution", 0.0) / total,
            "groups": groups, "ops": ops, "logdir": logdir}


def profile_table(prof, top=12):
    """Markdown: the op groups, then the ``top`` op types, of an :func:`op_profile`."""
    tot = prof["op_ms_per_step"]
    out = [f"{prof['model']} {prof['precision']}, batch {prof['batch']}: "
           f"{prof['wall_ms_per_step']:.0f} ms per step wall ({prof['images_per_s']:.1f} "
           f"images/s), {tot:.0f} ms of op time; convolutions {100 * prof['conv_share']:.1f} %; "
           f"foreign CPU cores {prof['foreign_cpu_cores']}",
           "", "| op group | ms per step | share |", "|---|---|---|"]
    for g, ms in sorted(prof["groups"].items(), key=lambda kv: -kv[1]):
        out.append(f"| {g} | {ms:.1f} | {100 * ms / tot:.1f} % |")
    out += ["", "| op type | group | ms per step | calls per step | share |",
            "|---|---|---|---|---|"]
    for k, (ms, n) in sorted(prof["ops"].items(), key=lambda kv: -kv[1][0])[:top]:
        out.append(f"| {k} | {op_group(k)} | {ms:.1f} | {n} | {100 * ms / tot:.1f} % |")
    return "\n".join(out)


def _label(r):
    return f"infozoo {r['model']} {r['precision']} jit={'on' if r['jit_compile'] else 'off'}"


def _family(name):
    """The net a RESULT row times: ``inn`` for FrEIA / plain PyTorch (../shared/bench/
    inn_torch.py) and infozoo's inn, else the model (``torch-vae-bf16-t2`` -> ``vae``)."""
    if name.startswith("torch-"):
        kind = name.split("-")[1]
        return "inn" if kind in ("freia", "plain") else kind
    return name.split()[1]


def cpu_bf16_units(flags=None):
    """The CPU's bf16 units in ``/proc/cpuinfo``: ``amx_bf16`` / ``avx512_bf16`` present."""
    from infozoo.run.precision import cpu_flags
    flags = cpu_flags() if flags is None else flags
    return sorted({"amx_bf16", "avx512_bf16"} & set(flags)) or ["none"]


def table(lines):
    """A Markdown table of the ``RESULT`` lines of ``bin/bench_inn_reference``: images/s
    (median over rounds of each configuration's median), peak memory, foreign CPU, and per net
    the ratios to the PyTorch peer in float32 (the INN: FrEIA float32), to its best bf16
    autocast configuration (the INN: FrEIA under bf16 autocast) and to its fastest one."""
    rows, cpu = {}, None
    for line in lines:
        if "RESULT" not in line:
            continue
        r = json.loads(line.split("RESULT", 1)[1])
        if "cpu_bf16" in r:
            cpu = r["cpu_bf16"]
            continue
        if r.get("model") == "input_pipeline":
            continue
        if "error" in r:
            rows.setdefault(_label(r), {"ips": [], "mem": [], "foreign": [], "error": r["error"]})
            continue
        if "name" in r:       # a PyTorch reference (inn_torch.py, bin/stochastic_torch.py)
            name, ips = r["name"], r["images_per_s"]
        else:
            name, ips = _label(r), r["images_per_s_median"]
        row = rows.setdefault(name, {"ips": [], "mem": [], "foreign": []})
        row["ips"].append(ips)
        row["mem"].append(r.get("peak_rss_mb"))
        row["foreign"].append(r.get("foreign_cpu_cores"))
    med = {k: statistics.median(v["ips"]) for k, v in rows.items() if v["ips"]}
    peers = {}
    for k, v in med.items():
        if k.startswith("torch-"):
            peers.setdefault(_family(k), {})[k] = v
    out = [f"CPU bf16 units: {', '.join(cpu) if cpu else 'not recorded'}", "",
           "| configuration | images/s | peak RSS (MB) | foreign CPU cores (max) | "
           "x peer float32 | x peer bf16 | x fastest peer |", "|---|---|---|---|---|---|---|"]

    def ratio(v, ref):
        return f"{v / ref:.2f}" if ref else ""
    for fam in sorted({_family(k) for k in rows}):
        p = peers.get(fam, {})
        f32 = (p.get("torch-freia-t2") if fam == "inn" else None) or max(
            (v for k, v in p.items() if "bf16" not in k and "-cl" not in k), default=None)
        bf16 = (p.get("torch-freia-bf16-t2") if fam == "inn" else None) or max(
            (v for k, v in p.items() if "bf16" in k), default=None)
        best = max(p.values(), default=None)
        for k in sorted((k for k in rows if _family(k) == fam), key=lambda k: -med.get(k, 0)):
            v = rows[k]
            if k not in med:
                out.append(f"| {k} | error: {v['error'][:80]} | | | | | |")
                continue
            mem = max((m for m in v["mem"] if m is not None), default="n/a")
            foreign = max((f for f in v["foreign"] if f is not None), default="n/a")
            out.append(f"| {k} | {med[k]:.1f} | {mem} | {foreign} | {ratio(med[k], f32)} | "
                       f"{ratio(med[k], bf16)} | {ratio(med[k], best)} |")
    return "\n".join(out)


def compare_table(lines):
    """Markdown: median images/s over rounds per (model, precision, tree) of
    ``bin/bench_compare``'s RESULT lines, the windows' foreign CPU, and the ratio to the first
    tree."""
    rows, trees = {}, []
    for line in lines:
        if "RESULT" not in line:
            continue
        r = json.loads(line.split("RESULT", 1)[1])
        if "images_per_s_median" not in r:
            continue
        if r["tree"] not in trees:
            trees.append(r["tree"])
        row = rows.setdefault((r["model"], r["precision"], r["tree"]), {"ips": [], "foreign": []})
        row["ips"].append(r["images_per_s_median"])
        row["foreign"].append(r["foreign_cpu_cores"])
    out = ["| model | precision | tree | images/s (median; rounds) | foreign CPU cores (max) | "
           "x first tree |", "|---|---|---|---|---|---|"]
    for (model, prec, tree), v in rows.items():
        med = statistics.median(v["ips"])
        first = rows.get((model, prec, trees[0]))
        ratio = med / statistics.median(first["ips"]) if first else float("nan")
        out.append(f"| {model} | {prec} | {tree} | {med:.1f} ({', '.join(f'{i:.1f}' for i in v['ips'])}) "
                   f"| {max(v['foreign'])} | {ratio:.2f} |")
    return "\n".join(out)


def main(argv):
    """``profile MODEL [PRECISION [STEPS [BATCH]]]``: an :func:`op_profile` as Markdown and a
    ``PROFILE {json}`` line; ``compare RESULTS_FILE``: the table of ``bin/bench_compare``;
    ``RESULTS_FILE``: the table of ``bin/bench_inn_reference``."""
    if argv and argv[0] == "profile":
        args = argv[1:]
        prof = op_profile(args[0] if args else "inn",
                          args[1] if len(args) > 1 else "mixed_bfloat16",
                          steps=int(args[2]) if len(args) > 2 else 3,
                          batch_size=int(args[3]) if len(args) > 3 else 128)
        print(profile_table(prof))
        print("PROFILE " + json.dumps({k: v for k, v in prof.items() if k != "ops"}), flush=True)
        return
    if argv and argv[0] == "compare":
        with open(argv[1]) as f:
            print(compare_table(f.readlines()))
        return
    with open(argv[0]) as f:
        print(table(f.readlines()))


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
