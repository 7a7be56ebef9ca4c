"""Import TensorFlow without its C++ start-up banners on stderr.

TensorFlow prints "oneDNN custom operations are on", "Could not find cuda drivers" and
"failed call to cuInit" from C++ before ``TF_CPP_MIN_LOG_LEVEL`` takes effect. While it
initialises, stderr (file descriptor 2) goes to a temporary file; afterwards every captured
line that is not one of those known banners is written back, so real errors still show.
Set ``INFOZOO_TF_LOGS=1`` to see everything.
"""
import os
import re
import sys
import tempfile

_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} .*"
    r"|E\d{4} .*(cuInit|cuda|CUDA|TensorRT|cuDNN|cuFFT|cuBLAS).*)$")

_done = False


def import_tensorflow():
    """Imports tensorflow and keras (and initialises the device list) quietly; idempotent."""
    global _done
    if _done or os.environ.get("INFOZOO_TF_LOGS") == "1":
        import tensorflow  # noqa: F401
        _done = True
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            import keras  # noqa: F401
            import tensorflow as tf
            tf.config.list_physical_devices()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            kept = [line for line in tmp.read().decode(errors="replace").splitlines()
                    if line.strip() and not _NOISE.match(line)]
    if kept:
        print("\n".join(kept), file=sys.stderr, flush=True)
    _done = True
