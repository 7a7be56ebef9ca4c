"""One training run on disk: :mod:`~infozoo.run.rundir` (layout, lock, config history,
checkpoint state, markers), :mod:`~infozoo.run.factory` (model, optimizer, compile; a run's
model with its newest weights), :mod:`~infozoo.run.train` (prepare, fit, finalise),
:mod:`~infozoo.run.callbacks`, :mod:`~infozoo.run.precision`, :mod:`~infozoo.run.export`,
:mod:`~infozoo.run.tensorboard`; many runs: :mod:`~infozoo.run.sweep`; their speed:
:mod:`~infozoo.run.bench` (``python -m infozoo.run.bench``)."""
