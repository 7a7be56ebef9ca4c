"""The cluster of a multi-worker run: ``TF_CONFIG``, the chief, per-worker scratch
directories and the errors that mean a worker was lost. No TensorFlow at import. The strategies
themselves: :mod:`infozoo.distribute.strategy`; the local launcher of N worker processes:
:mod:`infozoo.distribute.launcher`."""
TF_CONFIG_EXAMPLE = ('TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                     '"task": {"type": "worker", "index": 0}}\'')


def tf_config():
    """``TF_CONFIG`` parsed (``{}`` when unset); ValueError when it is not valid JSON."""
    import json
    import os
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return {}
    try:
        cfg = json.loads(raw)
    except ValueError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON ({e}); it should look like "
                         f"{TF_CONFIG_EXAMPLE}") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object like {TF_CONFIG_EXAMPLE}")
    return cfg


def check_tf_config():
    """ValueError unless ``TF_CONFIG`` names a cluster and this process's task in it."""
    cfg = tf_config()
    if not cfg:
        raise ValueError("--strategy multiworker needs TF_CONFIG (the cluster and this worker's "
                         f"task), e.g. {TF_CONFIG_EXAMPLE} on the first machine and index 1 on "
                         "the second; or try it on one machine with --local-workers N")
    cluster, task = cfg.get("cluster"), cfg.get("task")
    if not isinstance(cluster, dict) or not any(cluster.get(j) for j in ("chief", "worker")):
        raise ValueError(f"TF_CONFIG has no cluster with 'worker' (or 'chief') addresses: "
                         f"{cfg}; expected e.g. {TF_CONFIG_EXAMPLE}")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise ValueError(f"TF_CONFIG's task {task!r} is not a job of its cluster "
                         f"({', '.join(cluster)}); expected e.g. {TF_CONFIG_EXAMPLE}")
    idx = task.get("index", 0)
    if not isinstance(idx, int) or not 0 <= idx < len(cluster[task["type"]]):
        raise ValueError(f"TF_CONFIG's task index {idx!r} is out of range: the cluster has "
                         f"{len(cluster[task['type']])} {task['type']} address(es)")
    return cfg


def task():
    """``(type, index)`` of this process in ``TF_CONFIG`` (``(None, 0)`` without it)."""
    t = tf_config().get("task") or {}
    return t.get("type"), int(t.get("index", 0))


def is_chief():
    """True for the process that writes the run's files: no ``TF_CONFIG``, the ``chief``
    task, or worker 0 of a cluster without a chief (TensorFlow's convention)."""
    cfg = tf_config()
    if not cfg:
        return True
    kind, index = task()
    if "chief" in (cfg.get("cluster") or {}):
        return kind == "chief"
    return kind in (None, "worker") and index == 0


SCRATCH_MARKER = ".infozoo-worker-scratch"


def writable_dir(run_dir):
    """Where this process writes: ``run_dir`` on the chief; on another worker a scratch
    directory under the system temporary directory, named after the worker and ``run_dir``
    (its checkpoints, logs and images duplicate the chief's). A scratch directory left by a
    killed worker is emptied when that worker starts again; :func:`cleanup` removes it."""
    if is_chief():
        return run_dir
    import hashlib
    import os
    import tempfile
    kind, index = task()
    key = hashlib.sha1(os.path.abspath(run_dir).encode()).hexdigest()[:12]
    path = os.path.join(tempfile.gettempdir(), f"infozoo-{kind}{index}-{key}")
    cleanup(path, run_dir)
    os.makedirs(path)
    open(os.path.join(path, SCRATCH_MARKER), "w").close()
    return path


def cleanup(write_dir, run_dir):
    """Removes a non-chief worker's scratch directory (only one carrying the marker)."""
    import os
    import shutil
    if (os.path.abspath(write_dir) != os.path.abspath(run_dir)
            and os.path.isfile(os.path.join(write_dir, SCRATCH_MARKER))):
        shutil.rmtree(write_dir, ignore_errors=True)


def error_summary(e, limit=300):
    """The line of a TensorFlow error that says what happened (TF's first line is often just
    "Graph execution error:")."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    for key in ("unhealthy", "heartbeat", "aborted", "is down", "deadline", "unavailable"):
        hit = [ln for ln in lines if key in ln.lower()]
        if hit:
            return hit[0][:limit]
    return (lines[0] if lines else type(e).__name__)[:limit]


def is_lost_worker_error(e):
    """True for the errors TensorFlow raises in a worker whose peer died or hung."""
    import tensorflow as tf
    return isinstance(e, (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                          tf.errors.AbortedError, tf.errors.CancelledError,
                          tf.errors.InternalError, tf.errors.FailedPreconditionError))
