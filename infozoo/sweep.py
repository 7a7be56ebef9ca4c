"""``infozoo sweep``: a grid of ordinary ``infozoo train`` runs, resumable, aggregated.

Every run is one plain ``infozoo train MODEL ... --run-dir OUT/<setting>/seed=<s>``
command, written to ``OUT/commands.txt`` so a cluster scheduler (a SLURM array, ...) can
run them instead of ``--jobs``. Finished runs (``metrics.json`` present) are skipped,
interrupted ones resume (the usual run-directory resume), a failed run does not stop the
others. ``OUT/summary.csv`` holds mean, standard deviation, n and a 95 % Student-t
interval per setting and metric; ``OUT/plots/<metric>.png`` each metric against the first
swept variable; every run logs its HParams to TensorBoard (``tensorboard --logdir OUT``).
"""
import csv
import itertools
import json
import math
import os
import re
import shlex
import subprocess
import sys
import time

from infozoo import config as config_lib
from infozoo.util.io import atomic_open, atomic_write

DEFAULT_METRICS = ("test_loss", "test_l1", "test_mse")


class SweepError(config_lib.ConfigError):
    """A bad grid or sweep option; the message says what to do."""


def split_values(text):
    """``"8,16,[64,32]"`` -> ``["8", "16", "[64,32]"]``: commas inside brackets stay."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "[{("
        depth -= ch in "]})"
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    out.append(cur.strip())
    if depth or any(v == "" for v in out):
        raise SweepError(f"--grid values {text!r}: write KEY=V1,V2,... with no empty value "
                         f"and balanced brackets")
    return out


def parse_grid(items):
    """``["bottleneck=8,16", "lr=1e-3"]`` -> ``[("bottleneck", ["8", "16"]), ...]``."""
    grid, seen = [], set()
    for item in items:
        if "=" not in item:
            raise SweepError(f"--grid {item!r}: write KEY=V1,V2,... (e.g. --grid "
                             f"bottleneck=8,16,32)")
        key, values = item.split("=", 1)
        key = key.strip()
        if not key or key in seen:
            raise SweepError(f"--grid {item!r}: {'empty' if not key else 'repeated'} key")
        if key in ("seed", "train.seed"):
            raise SweepError("--grid seed=...: use --seeds N (seeds 0..N-1) instead")
        seen.add(key)
        grid.append((key, split_values(values)))
    return grid


def _slug(text):
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", text).strip("_")[:80] or "x"


def plan(model, grid, seeds, out_dir, train_args):
    """The runs of the sweep: ``[{"name", "setting", "seed", "run_dir", "argv"}]``."""
    keys = [k for k, _ in grid]
    runs = []
    for values in itertools.product(*[v for _, v in grid]) if grid else [()]:
        setting = dict(zip(keys, values))
        name = ",".join(f"{_slug(k)}={_slug(v)}" for k, v in setting.items()) or "default"
        for seed in range(seeds):
            run_dir = os.path.join(out_dir, name, f"seed={seed}")
            argv = ["train", model, *train_args,
                    *[a for k, v in setting.items() for a in ("--set", f"{k}={v}")],
                    "--seed", str(seed), "--run-dir", run_dir]
            runs.append({"name": name, "setting": setting, "seed": seed, "run_dir": run_dir,
                         "argv": argv})
    return runs


def validate(runs, check):
    """``check(argv) -> None or a message`` on every run before anything starts (the CLI
    passes its own ``train --dry-run``, which resolves the config without TensorFlow): bad
    grid values or train flags are a SweepError naming the run."""
    for r in runs:
        problem = check(r["argv"])
        if problem:
            raise SweepError(f"run {r['name']} seed {r['seed']}: {problem}")


def command_line(argv):
    return "infozoo " + " ".join(shlex.quote(a) for a in argv)


def finished(run):
    return os.path.isfile(os.path.join(run["run_dir"], "metrics.json"))


def execute(runs, jobs=1, log_dir=None, echo=print):
    """Runs the unfinished runs, ``jobs`` at a time; returns ``{run name/seed: exit code}``
    for the runs that failed. Output goes to ``log_dir/<name>,seed=<s>.log``."""
    todo = [r for r in runs if not finished(r)]
    if len(todo) < len(runs):
        echo(f"{len(runs) - len(todo)} of {len(runs)} runs already finished: skipped")
    os.makedirs(log_dir, exist_ok=True)
    running, failed, done = [], {}, 0
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    queue = list(todo)
    try:
        while queue or running:
            while queue and len(running) < jobs:
                r = queue.pop(0)
                log = open(os.path.join(log_dir, f"{r['name']},seed={r['seed']}.log"), "a")
                proc = subprocess.Popen([sys.executable, "-m", "infozoo.cli", *r["argv"],
                                         "--quiet"], stdout=log, stderr=subprocess.STDOUT,
                                        env=env)
                running.append((r, proc, log))
                echo(f"started  {r['name']} seed {r['seed']}")
            time.sleep(0.2)
            for item in list(running):
                r, proc, log = item
                if proc.poll() is None:
                    continue
                log.close()
                running.remove(item)
                done += 1
                status = "done" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
                if proc.returncode:
                    failed[f"{r['name']}/seed={r['seed']}"] = proc.returncode
                echo(f"[{done}/{len(todo)}] {status}  {r['name']} seed {r['seed']}")
    except KeyboardInterrupt:
        for r, proc, log in running:
            proc.send_signal(2)
        for r, proc, log in running:
            proc.wait()
            log.close()
        raise
    return failed


def t_quantile(n):
    """Two-sided 95 % Student-t quantile for n samples (n - 1 degrees of freedom)."""
    from scipy.stats import t
    return float(t.ppf(0.975, n - 1))


def aggregate(runs):
    """``[{"setting": {...}, "metric", "mean", "std", "n", "ci_low", "ci_high"}]`` over the
    seeds of each setting, for every numeric metric of ``metrics.json``."""
    by_setting = {}
    for r in runs:
        path = os.path.join(r["run_dir"], "metrics.json")
        if not os.path.isfile(path):
            continue
        with open(path) as f:
            m = json.load(f)
        bucket = by_setting.setdefault(r["name"], {"setting": r["setting"], "values": {}})
        for k, v in m.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v is not None \
                    and math.isfinite(v):
                bucket["values"].setdefault(k, []).append(float(v))
    rows = []
    for name, b in by_setting.items():
        for metric, vals in sorted(b["values"].items()):
            n = len(vals)
            mean = sum(vals) / n
            std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else float("nan")
            half = t_quantile(n) * std / math.sqrt(n) if n > 1 else float("nan")
            rows.append({"setting": name, **b["setting"], "metric": metric, "mean": mean,
                         "std": std, "n": n, "ci_low": mean - half, "ci_high": mean + half})
    return rows


def write_summary(rows, grid, path):
    keys = [k for k, _ in grid]
    cols = ["setting", *keys, "metric", "mean", "std", "n", "ci_low", "ci_high"]
    with atomic_open(path, newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in cols})


def _number(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def write_plots(rows, grid, metrics, out_dir):
    """One PNG per metric: mean and 95 % interval against the first swept variable, one line
    per combination of the others. Returns the paths."""
    from infozoo import plots
    if not grid:
        return []
    xkey, xvals = grid[0]
    numeric = all(_number(v) is not None for v in xvals)
    xs = [_number(v) for v in xvals] if numeric else list(range(len(xvals)))
    others = [k for k, _ in grid[1:]]
    paths = []
    for metric in metrics:
        sel = [r for r in rows if r["metric"] == metric]
        if not sel:
            continue
        series, intervals = {}, {}
        for r in sel:
            label = ", ".join(f"{k}={r[k]}" for k in others) or metric
            i = xvals.index(r[xkey])
            series.setdefault(label, [float("nan")] * len(xvals))[i] = r["mean"]
            intervals.setdefault(label, [[float("nan")] * 2 for _ in xvals])[i] = \
                [r["ci_low"], r["ci_high"]]
        positive = numeric and all(x > 0 for x in xs)
        spread = positive and max(xs) / min(xs) >= 16
        fig = plots.metric_curve(xs, series, xlabel=xkey, ylabel=metric,
                                 title=f"{metric}: mean and 95 % interval over seeds",
                                 intervals=intervals, logx=spread)
        if not numeric:
            fig.axes[0].set_xticks(xs, xvals)
        paths += plots.write_figure(fig, os.path.join(out_dir, "plots"), metric)
    return paths


def sweep(model, grid_items, seeds=1, jobs=1, out_dir=None, train_args=(), metrics=(),
          dry_run=False, echo=print, check=None):
    """Plans, validates (with ``check``, see :func:`validate`; None: each run's own
    ``infozoo train`` refuses bad settings when it starts), runs and aggregates a sweep (see
    the module docstring); returns ``(runs, failed, rows)``."""
    if seeds < 1 or jobs < 1:
        raise SweepError("--seeds and --jobs must be >= 1")
    grid = parse_grid(grid_items)
    out_dir = out_dir or os.path.join("sweeps", f"{model}-{time.strftime('%Y%m%d-%H%M%S')}")
    runs = plan(model, grid, seeds, out_dir, list(train_args))
    if check is not None:
        validate(runs, check)
    if dry_run:
        for r in runs:
            echo(command_line(r["argv"]))
        return runs, {}, []
    os.makedirs(out_dir, exist_ok=True)
    manifest = os.path.join(out_dir, "sweep.json")
    spec = {"model": model, "grid": grid, "seeds": seeds, "train_args": list(train_args)}
    if os.path.isfile(manifest):
        with open(manifest) as f:
            old = json.load(f)
        if {k: old.get(k) for k in spec} != json.loads(json.dumps(spec)):
            raise SweepError(f"{out_dir} holds another sweep ({old}); use another --out, or "
                             f"the same grid, seeds and flags to resume it")
    atomic_write(manifest, json.dumps(spec, indent=2))
    atomic_write(os.path.join(out_dir, "commands.txt"),
                 "".join(command_line(r["argv"]) + "\n" for r in runs))
    failed = execute(runs, jobs, os.path.join(out_dir, "logs"), echo)
    rows = aggregate(runs)
    write_summary(rows, grid, os.path.join(out_dir, "summary.csv"))
    present = {r["metric"] for r in rows}
    wanted = list(metrics) or [m for m in DEFAULT_METRICS if m in present]
    write_plots(rows, grid, wanted, out_dir)
    return runs, failed, rows
