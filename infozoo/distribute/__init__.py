"""Training on several devices or machines: :mod:`~infozoo.distribute.strategy` (strategies,
the exact data-parallel helpers, sharding), :mod:`~infozoo.distribute.cluster` (``TF_CONFIG``,
the chief, scratch directories, lost-worker errors), :mod:`~infozoo.distribute.launcher`
(N local worker processes for ``--local-workers N``)."""
