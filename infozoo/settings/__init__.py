"""What can be configured, and by which name: zoo configs (:mod:`infozoo.settings.config`:
the YAMLs of ``zoo_configs/``, common train/data defaults, overrides, ``ConfigError``) and the
one registry of models by name (:mod:`infozoo.settings.registry`, plug-ins by entry point).
The models' hyperparameter declarations live beside them in ``infozoo.hparams``. No
TensorFlow is imported by this package."""
