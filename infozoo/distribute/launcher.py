"""A cluster on one machine: ``infozoo train MODEL --strategy multiworker --local-workers N``.

Starts N copies of the same ``infozoo train`` command, each with a ``TF_CONFIG``
naming N ports on 127.0.0.1 and its own task index (worker 0 is the chief and
writes the run directory), streams their output line by line with a
``[worker i]`` prefix, and when one exits with an error or is killed waits up
to ``grace`` seconds for the others to notice the lost worker themselves (they
print why and exit), then stops whoever is left. Returns the first non-zero
exit code (0 when every worker succeeded). No TensorFlow here.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

#: seconds the other workers get to stop by themselves after one died
GRACE = 120


def free_ports(n):
    """``n`` distinct TCP ports on 127.0.0.1 that were free a moment ago."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def cluster_env(n, ports=None):
    """One ``TF_CONFIG`` string per worker of an ``n``-worker cluster on 127.0.0.1."""
    ports = ports or free_ports(n)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    return [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
            for i in range(n)]


def strip_args(argv, run_dir):
    """``argv`` without ``--local-workers N`` and ``--run-dir D``, then ``--run-dir run_dir``
    (every worker must see the same run directory)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--local-workers", "--run-dir"):
            skip = True
            continue
        if a.startswith("--local-workers=") or a.startswith("--run-dir="):
            continue
        out.append(a)
    return out + ["--run-dir", str(run_dir)]


def _pump(proc, prefix, lock, sink):
    for line in proc.stdout:
        with lock:
            sink.write(f"{prefix} {line}" if line.endswith("\n") else f"{prefix} {line}\n")
            sink.flush()


def launch(args, n, grace=GRACE, sink=None, env=None):
    """Runs ``python -m infozoo.cli ARGS`` as ``n`` workers; returns the cluster's exit code."""
    sink = sink or sys.stdout
    lock = threading.Lock()
    procs, pumps = [], []
    base = {**os.environ, **(env or {})}
    for i, tf_config in enumerate(cluster_env(n)):
        p = subprocess.Popen([sys.executable, "-m", "infozoo.cli", *args],
                             env={**base, "TF_CONFIG": tf_config, "PYTHONUNBUFFERED": "1"},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             bufsize=1)
        procs.append(p)
        t = threading.Thread(target=_pump, args=(p, f"[worker {i}]", lock, sink), daemon=True)
        t.start()
        pumps.append(t)
        with lock:
            sink.write(f"[launcher] worker {i}: pid {p.pid}, TF_CONFIG={tf_config}\n")
            sink.flush()

    def say(msg):
        with lock:
            sink.write(f"[launcher] {msg}\n")
            sink.flush()

    code, failed_at = 0, None
    try:
        while any(p.poll() is None for p in procs):
            for i, p in enumerate(procs):
                rc = p.poll()
                if rc not in (None, 0) and code == 0:
                    code = rc if rc > 0 else 128 - rc  # killed by signal -rc: shell convention
                    failed_at = time.time()
                    how = f"was killed by signal {-rc}" if rc < 0 else f"exited with code {rc}"
                    say(f"worker {i} {how}; waiting up to {grace:.0f} s for the others to stop")
            if failed_at is not None and time.time() - failed_at > grace:
                say("stopping the remaining workers")
                _stop(procs)
                break
            time.sleep(0.2)
    except KeyboardInterrupt:
        say("interrupted: stopping every worker")
        _stop(procs)
        code = code or 130
    for p in procs:
        p.wait()
    for t in pumps:
        t.join(timeout=5)
    if code == 0:
        bad = [p.returncode for p in procs if p.returncode]
        code = bad[0] if bad else 0
    return code


def _stop(procs, wait=10):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    end = time.time() + wait
    for p in procs:
        try:
            p.wait(timeout=max(0.1, end - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()


def launch_from_argv(argv, n, run_dir):
    """The CLI's ``--local-workers``: relaunches this very command as ``n`` workers."""
    args = strip_args(argv, run_dir)
    print(f"[launcher] {n} workers on 127.0.0.1, run directory {run_dir}", flush=True)
    return launch(args, n)
