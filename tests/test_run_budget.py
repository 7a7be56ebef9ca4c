"""Tiny runs: --no-export and --evaluate; one figure per quantity in metrics.json."""
import json

import numpy as np
import pytest

from conftest import invoke_cli


@pytest.mark.slow
def test_no_export_and_quick_evaluation(tmp_path):
    run = tmp_path / "run"
    p = invoke_cli("train", "classic", "--dataset", "digits", "--bottleneck", "4", "--epochs", "1",
                "--train-size", "64", "--batch-size", "32", "--run-dir", run, "--quiet",
                "--no-export", "--evaluate", "quick", check=0)
    assert "(not exported)" in p.stdout
    assert not (run / "export").exists()
    m = json.loads((run / "metrics.json").read_text())
    assert np.isfinite(m["test_loss"]) and np.isfinite(m["test_l1"])
    # --evaluate none: the run's own figures only
    p = invoke_cli("train", "classic", "--dataset", "digits", "--bottleneck", "4", "--epochs", "1",
                "--train-size", "64", "--batch-size", "32", "--run-dir", tmp_path / "r2",
                "--quiet", "--no-export", "--evaluate", "none", check=0)
    m = json.loads((tmp_path / "r2" / "metrics.json").read_text())
    assert "test_loss" not in m and m["epochs"] == 1
    assert invoke_cli("train", "classic", "--evaluate", "some", "--dry-run").returncode == 2


@pytest.mark.slow
def test_density_model_reports_one_nll(tmp_path):
    """PIE's loss is its NLL: metrics.json gives it once, as test_loss (no test_nll beside
    it from another draw of the dequantisation noise)."""
    from infozoo.evaluation.evaluate import evaluate_model
    from tiny import SHAPE, make
    m = make("pie", sharpness_samples=4)
    x = np.random.RandomState(0).rand(12, *SHAPE).astype("float32")
    out = evaluate_model(m, x, batch_size=6, run_dir=str(tmp_path))
    assert "test_nll" not in out and np.isfinite(out["test_loss"])
    assert out["test_bits_per_dim"] == pytest.approx(float(m.bits_per_dim(out["test_loss"])))
