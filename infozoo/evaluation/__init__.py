"""What a trained model scores: :mod:`~infozoo.evaluation.evaluate` (test metrics of a model or
a run), :mod:`~infozoo.evaluation.evaluators` (one per model family, returning a ``Report``),
:mod:`~infozoo.evaluation.report` (the one reporter that writes a ``Report``), and the metrics
:mod:`~infozoo.evaluation.sharpness` and :mod:`~infozoo.evaluation.svm_robustness` (linear-SVM
accuracy on codes of corrupted inputs). The information probe is ``infozoo.probe``."""
