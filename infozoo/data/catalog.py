"""The dataset catalog: the one place that knows each built-in dataset (its example shape,
value range, where it comes from, and the parameters its name carries, ``toy25:<spacing>``).

A dataset name is ``<catalog name>[:<parameters>]``; :func:`find` reads it. Loading the
arrays is :mod:`infozoo.data.loaders`' job, which asks the spec where they come from. No
TensorFlow or numpy is imported here (the CLI and the zoo configs read it).
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

#: the value range of image datasets: float pixels in [0, 1]
PIXELS = (0.0, 1.0)


@dataclass(frozen=True)
class DatasetSpec:
    """One built-in dataset.

    ``shape``: one example, ``(height, width, channels)``; ``value_range``: ``(low, high)`` of
    its values, or None for any finite values (points, not pixels); ``tfds_name``: its
    TensorFlow Datasets name, if it is downloaded from there; ``generate``: ``name ->
    (x_train, y_train, x_test, y_test)`` for a dataset made in memory (no files, no
    ``data=``); ``parameters``: ``name -> dict`` of what the name carries after ``:``
    (ValueError for a bad one); ``mixture``: the labels are the components of a Gaussian
    mixture on a grid (``parameters(name)["spacing"]``), so the IPAE E metric applies."""
    name: str
    shape: tuple
    value_range: Optional[tuple] = PIXELS
    tfds_name: Optional[str] = None
    generate: Optional[Callable] = field(default=None, compare=False)
    parameters: Callable = field(default=lambda name: {}, compare=False)
    mixture: bool = False

    @property
    def generated(self):
        return self.generate is not None


def _toy25_arrays(name):
    from infozoo.data.toy import toy25_arrays
    return toy25_arrays(name)


def _toy25_parameters(name):
    from infozoo.data.toy import parse_name
    return {"spacing": parse_name(name)}


#: every built-in dataset, by name (this order is the order ``dataset_for_shape`` tries)
DATASETS = {s.name: s for s in (
    DatasetSpec("mnist", (28, 28, 1), tfds_name="mnist"),
    DatasetSpec("fashion_mnist", (28, 28, 1), tfds_name="fashion_mnist"),
    DatasetSpec("cifar10", (32, 32, 3), tfds_name="cifar10"),
    DatasetSpec("digits", (8, 8, 1)),  # scikit-learn's 8x8 digits, no download
    # IPAE §4.1's 25 Gaussians: 2-D points as [N, 1, 1, 2] "images" (infozoo.data.toy)
    DatasetSpec("toy25", (1, 1, 2), value_range=None, generate=_toy25_arrays,
                parameters=_toy25_parameters, mixture=True),
)}


def find(name):
    """The :class:`DatasetSpec` of dataset ``name`` (``"toy25:3"`` is toy25's), or None for
    a name the catalog does not hold (e.g. a user's files under ``--data-dir``)."""
    if not isinstance(name, str):
        return None
    return DATASETS.get(name.split(":", 1)[0])


def names():
    """The names of every built-in dataset, sorted."""
    return sorted(DATASETS)


def shape_of(name):
    """One example's shape for a built-in dataset name, or None."""
    spec = find(name)
    return None if spec is None else spec.shape


def value_range_of(name):
    """The value range of a dataset's examples: ``PIXELS`` for images and for names the
    catalog does not hold, None (any finite values) for point sets like toy25."""
    spec = find(name)
    return PIXELS if spec is None else spec.value_range
