"""The ``infozoo`` command (``python -m infozoo.cli`` runs it too): flags are parsed here and
the work is done by the packages (``infozoo.run``, ``infozoo.evaluation``, ``infozoo.probe``).
``infozoo --help`` does not import TensorFlow."""
from infozoo.cli.main import main  # noqa: F401
