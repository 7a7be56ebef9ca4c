"""Helpers every test file shares: the CLI and scripts in fresh processes, random weights.

Tiny model configs and the tiny INN's CLI flags are in ``tests/tiny.py``."""
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args, timeout=300, env=None, check=None):
    """Runs ``python -m infozoo.cli ARGS`` as a real subprocess."""
    e = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    p = subprocess.run([sys.executable, "-m", "infozoo.cli", *map(str, args)],
                       capture_output=True, text=True, timeout=timeout, cwd=REPO, env=e)
    if check is not None:
        assert p.returncode == check, f"exit {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


def invoke_cli(*args, env=None, check=None):
    """Runs ``infozoo ARGS`` in this process (click's CliRunner): the same command, options
    and exit codes as :func:`run_cli` without a fresh interpreter's TensorFlow import. For
    tests that do not test the process boundary (signals, fresh-process loading, logical
    CPU devices, multi-worker). ``env`` is set in ``os.environ`` for the call only. Returns an
    object with ``returncode``, ``stdout``, ``stderr``."""
    import types
    import keras
    from click.testing import CliRunner
    import infozoo.cli
    args = [str(a) for a in args]
    policy, argv = keras.config.dtype_policy(), sys.argv
    sys.argv = [infozoo.cli.__file__, *args]  # as `python -m infozoo.cli` sees it (segments)
    try:
        r = CliRunner().invoke(infozoo.cli.main, args, env=env, catch_exceptions=True)
    finally:
        keras.config.set_dtype_policy(policy)
        sys.argv = argv
    err = r.stderr
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        import traceback
        err += "".join(traceback.format_exception(*r.exc_info))
    p = types.SimpleNamespace(returncode=r.exit_code, stdout=r.stdout, stderr=err)
    if check is not None:
        assert p.returncode == check, f"exit {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


def run_script(script, *args, timeout=600, env=None):
    """Runs ``python -c SCRIPT ARGS`` in a fresh process (from the repository root) and returns
    the JSON the script printed after ``RESULT`` (its last such line)."""
    e = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    p = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True,
                       text=True, timeout=timeout, cwd=REPO, env=e)
    assert p.returncode == 0, p.stderr[-3000:]
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT")]
    assert lines, f"the script printed no RESULT line\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return json.loads(lines[-1][len("RESULT"):])


def copy_run(run, tmp_path, name="run"):
    """A copy of a module-scoped finished run that a test may change."""
    import shutil
    dst = tmp_path / name
    shutil.copytree(run, dst)
    return dst


def interrupt_at_first_checkpoint(args, run_dir, timeout=240):
    """Starts ``python -m infozoo.cli ARGS``, sends SIGINT once ``RUN_DIR`` holds a
    checkpoint (or the process ends), and returns ``(returncode, stdout, stderr)``."""
    import signal
    import time
    proc = subprocess.Popen([sys.executable, "-m", "infozoo.cli", *map(str, args)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    state = os.path.join(str(run_dir), "checkpoints", "state.json")
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None and not os.path.exists(state):
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def perturb(variables, scale=0.05, seed=0):
    """Random non-zero weights, so zero-initialised couplings are not the identity."""
    import numpy as np
    rng = np.random.RandomState(seed)
    for v in variables:
        v.assign(rng.normal(0.0, scale, tuple(v.shape)).astype(v.dtype.name if hasattr(v.dtype, "name") else v.dtype))


@pytest.fixture
def rng():
    import numpy as np
    return np.random.RandomState(0)
