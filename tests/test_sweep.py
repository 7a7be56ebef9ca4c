"""`infozoo sweep` as a user runs it: a real subprocess on tiny settings."""
import csv
import json
import os

import pytest

from conftest import run_cli

pytestmark = pytest.mark.slow  # a 4-run sweep through the CLI, twice

TINY = ["--dataset", "digits", "--train-size", "64", "--batch-size", "32", "--epochs", "1",
        "--conv-blocks", "1",
        "--conv-hidden", "4", "--fc-hidden", "8", "--set", "train.image_every=0"]


def test_bad_grids_exit_2(tmp_path):
    for grid, needle in (("bottleneck", "write KEY=V1,V2"), ("bottleneck=4,,8", "no empty value"),
                         ("bottleneck=0", "model_args.bottleneck: 0; must be >= 1"),
                         ("nokey=1", "unknown config key 'nokey'"),
                         ("seed=1,2", "use --seeds N")):
        p = run_cli("sweep", "inn", "--grid", grid, *TINY, "--out", tmp_path / "s", check=2)
        assert needle in p.stderr, (grid, p.stderr)
    assert not (tmp_path / "s").exists()
    p = run_cli("sweep", "inn", "--grid", "bottleneck=4", "--seed", "3", check=2)
    assert "--seeds" in p.stderr


def test_sweep_runs_aggregates_resumes_and_survives_a_failing_run(tmp_path):
    out = tmp_path / "sweep"
    # bottleneck 100000 passes the config's checks but not the model's (the images have 64
    # pixels): those runs fail at start, after the grid was validated; the others go on
    args = ["sweep", "inn", "--grid", "bottleneck=4,100000", "--seeds", "2", "--jobs", "2",
            "--out", out, *TINY]
    p = run_cli(*args, timeout=900, check=1)
    assert "Failed runs" in p.stderr and "bottleneck=100000" in p.stderr
    lines = (out / "commands.txt").read_text().splitlines()
    assert len(lines) == 4 and all(ln.startswith("infozoo train inn ") for ln in lines)
    rows = list(csv.DictReader(open(out / "summary.csv")))
    l1 = {r["setting"]: r for r in rows if r["metric"] == "test_l1"}
    assert set(l1) == {"bottleneck=4"}
    for r in l1.values():
        assert r["n"] == "2" and float(r["ci_low"]) <= float(r["mean"]) <= float(r["ci_high"])
        # the sample standard deviation (n - 1) of the two seeds' metrics.json values
        vals = [json.load(open(out / "bottleneck=4" / f"seed={seed}" / "metrics.json"))["test_l1"]
                for seed in (0, 1)]
        assert float(r["std"]) == pytest.approx(abs(vals[0] - vals[1]) / 2 ** 0.5, rel=1e-6)
        assert float(r["mean"]) == pytest.approx(sum(vals) / 2, rel=1e-6)
    assert (out / "plots" / "test_l1.png").stat().st_size > 1000
    for seed in (0, 1):
        assert (out / "bottleneck=4" / f"seed={seed}" / "metrics.json").exists()
    # again: the finished runs are skipped, the failing ones are tried again
    p = run_cli(*args, timeout=900, check=1)
    assert "2 of 4 runs already finished: skipped" in p.stdout
    # another grid in the same directory is refused
    p = run_cli("sweep", "inn", "--grid", "bottleneck=16", "--out", out, *TINY, check=2)
    assert "holds another sweep" in p.stderr
    assert sorted(os.listdir(out / "bottleneck=4")) == ["seed=0", "seed=1"]
