"""What can be configured, and by which name. Every setting is declared once, as an
:class:`~infozoo.settings.hparams.HParam` (type, default, help, rule): each model family's
hyperparameters in :mod:`infozoo.settings.hparams`, the data and train settings of a run in
:mod:`infozoo.settings.run`. :mod:`infozoo.settings.config` resolves a zoo config (the
YAMLs of ``zoo_configs/``, which hold only where an entry differs from the declarations) with
the user's overrides into a :class:`~infozoo.settings.run_config.RunConfig`, the frozen record
of one run's settings; :mod:`infozoo.settings.registry` is the one registry of models by name
(plug-ins by entry point). No TensorFlow is imported by this package."""
