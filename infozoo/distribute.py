"""``tf.distribute`` strategies: ``default`` or ``mirrored`` over every GPU there is.

On a machine without GPUs, ``cpu_replicas = N`` splits the CPU into N logical
devices so that ``mirrored`` runs N replicas: the same code path a multi-GPU
machine runs. Logical devices must be configured before TensorFlow
initialises its devices, so :func:`configure_cpu_replicas` runs first thing.
"""


def configure_cpu_replicas(n):
    import tensorflow as tf
    n = int(n)
    if n <= 1:
        return
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
    except RuntimeError:
        have = len(tf.config.list_logical_devices("CPU"))
        if have != n:
            raise RuntimeError(f"cannot split the CPU into {n} logical devices: TensorFlow "
                               f"already initialised {have}. Set cpu_replicas before any "
                               f"TensorFlow work (a fresh process).") from None


def make_strategy(name="default", cpu_replicas=1):
    import tensorflow as tf
    if name == "default":
        return tf.distribute.get_strategy()
    if name != "mirrored":
        raise ValueError(f"unknown strategy {name!r}: use 'default' or 'mirrored'")
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return tf.distribute.MirroredStrategy()
    configure_cpu_replicas(cpu_replicas)
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")][:max(1, int(cpu_replicas))]
    return tf.distribute.MirroredStrategy(
        devices=cpus, cross_device_ops=tf.distribute.ReductionToOneDevice())
