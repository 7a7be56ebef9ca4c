"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half.

Every file infozoo writes goes through :func:`atomic_open` (a file object),
:func:`atomic_write` (text) or :func:`atomic_path` (a temporary name for writers that
take a file name: ``np.savez``, ``savefig``). The temporary file sits beside the target
(same file system), carries the writer's pid (two processes never share one), is flushed
to disk and then moved over the target with :func:`move` (``os.replace``); on an error it is
removed and the target is left as it was. A finished directory (an export, a preset) is put in
place by :func:`replace_dir`. Every rename of infozoo is here. No TensorFlow.
"""
import contextlib
import os
import shutil
import tempfile


def move(src, dst):
    """Renames ``src`` to ``dst`` (same file system: one atomic ``os.replace``; a file ``dst``
    is replaced, a directory ``dst`` only if empty, else OSError)."""
    os.replace(src, dst)


def replace_dir(new, out):
    """Puts the finished directory ``new`` (infozoo's own, beside ``out``) at ``out`` by renames:
    an existing ``out`` is first renamed aside to a fresh name, then removed once ``new`` is in
    place; if that fails, it goes back to ``out``. Callers check first that an existing
    ``out`` is infozoo's to replace."""
    old = None
    if os.path.isdir(out):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.infozoo-old-",
                               dir=os.path.dirname(out))
        os.rmdir(old)
        move(out, old)
    try:
        move(new, out)
    except BaseException:
        if old and not os.path.exists(out):
            move(old, out)  # the earlier directory goes back where it was
        raise
    if old:
        shutil.rmtree(old, ignore_errors=True)


def temp_dir_beside(out):
    """A fresh, empty directory beside ``out`` (same file system, infozoo's alone) for a
    directory that :func:`replace_dir` later puts at ``out``. It gets the permissions of the
    user's umask, as ``os.makedirs`` would give ``out`` (``mkdtemp`` alone makes it 0700)."""
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.infozoo-tmp-",
                           dir=os.path.dirname(out))
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o777 & ~mask)
    return tmp


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
        move(tmp, path)
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
