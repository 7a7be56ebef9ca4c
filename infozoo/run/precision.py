"""Training precision: Keras dtype policies, ``auto`` resolved from the hardware.

``train.precision`` is one of :data:`PRECISIONS`. ``mixed_bfloat16`` and
``mixed_float16`` are Keras' mixed policies: variables in float32, the plain
networks (coupling subnets, encoders, decoders) compute in the low precision,
while invertible layers, log-dets, priors, losses and metrics compute in
float32 (``infozoo.layers.base``, ``infozoo.models.base``). float16 needs
loss scaling (``keras.optimizers.LossScaleOptimizer``, made by
``infozoo.run.factory.make_optimizer``); bfloat16 has float32's exponent range and
does not.

``auto`` picks what the hardware runs fast (:func:`resolve`): a GPU of compute
capability >= 8.0 (bf16 tensor cores) or a CPU with AMX or AVX-512 bf16 units
(``amx_bf16`` / ``avx512_bf16`` in ``/proc/cpuinfo``): ``mixed_bfloat16``; a
GPU of capability >= 7.0 (fp16 tensor cores): ``mixed_float16``; anything
else: ``float32``, since mixed precision without such units is slower. A run
resolves ``auto`` before its ``config.yaml`` is written, so the config records
what was used.

No TensorFlow at import time; :func:`resolve` imports it only to list GPUs.
"""
import contextlib

from infozoo.settings.run import TRAIN

PRECISIONS = TRAIN["precision"].choices  # the declaration of train.precision
MIXED = ("mixed_bfloat16", "mixed_float16")


def cpu_flags(path="/proc/cpuinfo"):
    """The CPU feature flags of the first processor in ``path`` (empty set if unreadable)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def choose(gpu_capabilities, flags):
    """The policy for GPUs of ``gpu_capabilities`` (list of ``(major, minor)``) or, with no
    GPU, a CPU with feature ``flags``; see the module docstring."""
    if gpu_capabilities:
        cap = min(tuple(c) for c in gpu_capabilities)   # every replica must run it fast
        if cap >= (8, 0):
            return "mixed_bfloat16"
        if cap >= (7, 0):
            return "mixed_float16"
        return "float32"
    if {"amx_bf16", "avx512_bf16"} & set(flags):
        return "mixed_bfloat16"
    return "float32"


def gpu_capabilities():
    import tensorflow as tf
    caps = []
    for gpu in tf.config.list_physical_devices("GPU"):
        cap = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        caps.append(tuple(cap) if cap else (0, 0))
    return caps


def resolve(precision):
    """``precision`` with ``auto`` replaced by the policy this machine runs fast."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    return choose(gpu_capabilities(), cpu_flags())


@contextlib.contextmanager
def policy_scope(policy):
    """Keras' global dtype policy set to ``policy`` (a name, a ``DTypePolicy`` or its
    serialised dict; None: unchanged) inside the block, restored after it."""
    import keras
    if policy is None:
        yield
        return
    if isinstance(policy, dict):
        policy = keras.dtype_policies.deserialize(policy)
    old = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(old)
