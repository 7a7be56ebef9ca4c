"""Which code ran: infozoo's version and, for a git checkout, its commit. No TensorFlow.

Every training segment records :func:`code_version` in ``segments.jsonl`` so that a number
can be traced to the code that produced it (``infozoo presets make`` takes its commit from
there)."""
import functools
import os
import subprocess


def _git(*args):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        out = subprocess.run(["git", "-C", here, *args], capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def code_version():
    """``{"infozoo": version, "commit": sha or None, "modified": bool or None}``: ``commit``
    is the HEAD of the git checkout infozoo is imported from (None for an installed wheel or
    without git); ``modified`` says whether files under ``infozoo/`` differ from it."""
    import infozoo
    commit = (_git("rev-parse", "HEAD") or "").strip() or None
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ".") if commit else None
    return {"infozoo": infozoo.__version__, "commit": commit,
            "modified": None if status is None else bool(status.strip())}
