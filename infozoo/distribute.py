"""``tf.distribute`` strategies, and the helpers that make data-parallel training exact.

Strategies: ``default`` or ``mirrored`` over every GPU there is. On a machine
without GPUs, ``cpu_replicas = N`` splits the CPU into N logical devices so that
``mirrored`` runs N replicas: the same code path a multi-GPU machine runs.
Logical devices must be configured before TensorFlow initialises its devices,
so :func:`configure_cpu_replicas` runs first thing.

#### Exactness across replica counts

A model computes on its replica's rows of the global batch. Three things couple
rows, and each is made independent of how the batch is split:

- batch statistics: batch norm is synchronised (``infozoo.nets.encoders``);
- batch-level estimators (MMD, IPAE eq. 10): the codes are gathered into the
  global batch (:func:`gather_batch`, differentiable: its gradient sums the
  replicas' upstream gradients) and every replica computes the same value;
- random draws: every replica shares one seed (the model's ``SeedGenerator`` is
  mirrored), draws the noise of the *global* batch and keeps its own rows
  (:func:`batch_rows`, ``ZooModel.batch_noise``). The global batch sees independent
  draws, and they are the draws a 1-replica run makes, so N replicas equal 1.

With one replica (or outside ``strategy.run``) every helper is the identity.
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


def _replica_context():
    """The replica context when more than one replica is in sync, else None."""
    import tensorflow as tf
    ctx = tf.distribute.get_replica_context()
    return ctx if ctx is not None and ctx.num_replicas_in_sync > 1 else None


def gather_batch(x):
    """Every replica's rows of ``x`` (axis 0) in replica order, i.e. the global batch.

    Differentiable: the gradient sums every replica's upstream gradient and keeps this
    replica's rows, so a loss on the gathered batch trains as on one device."""
    ctx = _replica_context()
    return x if ctx is None else ctx.all_gather(x, axis=0)


def batch_rows(n_local):
    """``(offset, total)``: this replica holds rows ``[offset, offset + n_local)`` of the
    global batch of ``total`` rows (``(0, n_local)`` with one replica). Uneven splits
    (the last evaluation batch) are handled: the sizes are gathered."""
    import tensorflow as tf
    ctx = _replica_context()
    if ctx is None:
        return 0, n_local
    n_local = tf.cast(n_local, tf.int32)
    sizes = ctx.all_gather(tf.reshape(n_local, [1]), axis=0)
    rid = tf.cast(ctx.replica_id_in_sync_group, tf.int32)
    return tf.reduce_sum(sizes[:rid]), tf.reduce_sum(sizes)


def own_rows(x_global, n_local):
    """This replica's rows of a global-batch tensor (``x_global`` itself with one replica)."""
    offset, total = batch_rows(n_local)
    if _replica_context() is None:
        return x_global
    return x_global[offset:offset + n_local]
