"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half.

Every file infozoo writes goes through :func:`atomic_open` (a file object),
:func:`atomic_write` (text) or :func:`atomic_path` (a temporary name for writers that
take a file name: ``np.savez``, ``savefig``). The temporary file sits beside the target
(same file system), carries the writer's pid (two processes never share one), is flushed
to disk and then moved over the target with ``os.replace``; on an error it is removed and
the target is left as it was. No TensorFlow.
"""
import contextlib
import os


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yields a temporary file name beside ``path`` (ending in ``suffix``, e.g. ``".npz"`` for
    ``np.savez``); once the block has written it, it replaces ``path``."""
    tmp = f"{path}.tmp-{os.getpid()}{suffix}"
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path, mode="w", **kwargs):
    """``open(path, mode)`` for writing, made atomic (see the module doc)."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as f:
            yield f


def atomic_write(path, data):
    """Writes ``data`` (``str`` or ``bytes``) to ``path`` atomically."""
    with atomic_open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
