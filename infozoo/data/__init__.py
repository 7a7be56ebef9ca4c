"""Datasets: :mod:`infozoo.data.catalog` (the one place that knows each dataset's shape, value
range and name parameters, e.g. ``toy25:3``), :mod:`infozoo.data.loaders` (IDX, npz, TFDS,
sklearn digits; ``tf.data`` train/eval streams; image checks), :mod:`infozoo.data.toy` (IPAE's
toy25 set and its E), :mod:`infozoo.data.inputs` (the input rules every entry point applies)."""
