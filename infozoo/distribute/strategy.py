"""``tf.distribute`` strategies, the helpers that make data-parallel training exact, and the
sharding of a global batch stream. ``TF_CONFIG`` and the chief: :mod:`infozoo.distribute.cluster`.

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

from infozoo.distribute.cluster import check_tf_config
from infozoo.settings.run import TRAIN


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


STRATEGIES = TRAIN["strategy"].choices  # the declaration of train.strategy
#: seconds a collective may wait for its peers before the run is declared lost (multiworker)
COLLECTIVE_TIMEOUT = 300


def make_strategy(name="default", cpu_replicas=1):
    """``default`` (one device), ``mirrored`` (every local GPU, or ``cpu_replicas`` logical
    CPUs) or ``multiworker`` (``MultiWorkerMirroredStrategy`` over the cluster of ``TF_CONFIG``;
    every local GPU of each worker, else its CPU)."""
    import tensorflow as tf
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multiworker":
        check_tf_config()
        opts = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.AUTO,
            timeout_seconds=COLLECTIVE_TIMEOUT)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=opts)
    if name != "mirrored":
        raise ValueError(f"unknown strategy {name!r}: use one of {', '.join(STRATEGIES)}")
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
    import tensorflow as tf
    ctx = _replica_context()
    if ctx is None:
        return x
    # tf.identity: MultiWorkerMirroredStrategy cannot all-gather a tf.function input itself,
    # and its gather loses the static shape, which ensure_shape restores
    return tf.ensure_shape(ctx.all_gather(tf.identity(x), axis=0), [None, *x.shape[1:]])


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


def _local_device(ctx):
    """This replica's device (MWMS numbers replicas worker by worker)."""
    import tensorflow as tf
    devices = ctx.strategy.extended.worker_devices
    return devices[int(tf.get_static_value(ctx.replica_id_in_sync_group)) % len(devices)]


def synced_results(metrics):
    """``{name: value}`` of ``keras.metrics.Mean`` trackers over every replica's examples.

    Keras reads a tracker per replica and averages the replicas' values, which is off
    when a batch splits unevenly; here totals and counts are summed over the replicas
    first (one all-reduce for all trackers). Under MultiWorkerMirroredStrategy each value
    gets a leading axis of 1 (Keras' cross-worker ``reduce(MEAN, axis=0)`` fails on
    scalars, tensorflow#72388) and a device (Keras names the value's device as the
    destination of that reduce, which is empty for an unplaced graph tensor)."""
    import tensorflow as tf
    ctx = _replica_context()
    if ctx is None:
        return {m.name: m.result() for m in metrics}
    # ``.value`` + 0: a plain tensor (all-reducing the on-read variable itself fails in MWMS)
    parts = tf.stack([tf.cast(v.value, tf.float32) + 0.0
                      for m in metrics for v in (m.total, m.count)])
    parts = ctx.all_reduce(tf.distribute.ReduceOp.SUM, parts)
    out = {}
    for i, m in enumerate(metrics):
        value = tf.cast(tf.math.divide_no_nan(parts[2 * i], parts[2 * i + 1]), m.dtype)
        if isinstance(ctx.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            with tf.device(_local_device(ctx)):
                value = tf.identity(tf.reshape(value, [1]))
        out[m.name] = value
    return out


def distribute_batches(strategy, make_dataset):
    """What Keras ``fit`` takes for ``make_dataset()``, a dataset of *global* batches.

    Under MultiWorkerMirroredStrategy every worker builds the same global stream (same
    seed, same ``skip`` on resume) and keeps only its replicas' rows: replica ``r`` of
    ``R`` gets rows ``[r n // R, (r + 1) n // R)`` of each batch of ``n``, so no example is
    duplicated in a global batch and replica order is row order (what the gathers and
    ``batch_rows`` assume). TensorFlow's own auto-sharding is off: it would rebatch
    before ``skip`` and break the exact resume. Other strategies: ``make_dataset()``."""
    import tensorflow as tf
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return make_dataset()

    def per_worker(ctx):
        n_rep = ctx.num_replicas_in_sync
        local = n_rep // ctx.num_input_pipelines
        first = ctx.input_pipeline_id * local
        opts = tf.data.Options()
        opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF

        def chunks(b):
            n = tf.shape(b)[0]

            def rows(i):
                r = first + tf.cast(i, tf.int32)
                return tf.ensure_shape(b[r * n // n_rep:(r + 1) * n // n_rep],
                                       [None, *b.shape[1:]])  # keep the static image shape
            return tf.data.Dataset.range(local).map(rows)
        return make_dataset().with_options(opts).flat_map(chunks)
    return strategy.distribute_datasets_from_function(per_worker)
