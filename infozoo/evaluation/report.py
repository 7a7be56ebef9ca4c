"""The one reporter: writes an evaluator's :class:`~infozoo.evaluation.evaluators.Report` into a run.

Image grids go through :func:`infozoo.viz.images.write_grid`, scatters through
:mod:`infozoo.viz.plots` (PNG, and PDF/SVG on request), both also as TensorBoard
images with a summary writer; tables go to ``run_dir/<name>`` (``.json`` or text).
"""
import json
import os

from infozoo.util.io import atomic_open


def write_report(report, run_dir, writer=None, step=0, formats=("png",)):
    """Writes every grid, scatter and table of ``report``; returns the paths written."""
    from infozoo.viz import plots
    from infozoo.viz.images import write_grid
    paths = []
    for name, rows in report.grids.items():
        paths.append(write_grid(run_dir, name, rows, step, writer))
    for name, (kind, args) in report.scatters.items():
        fig = getattr(plots, kind)(**args)
        paths += plots.write_figure(fig, os.path.join(run_dir, "images"), name, formats,
                                    writer, step)
    for name, obj in report.tables.items():
        path = os.path.join(run_dir, name)
        with atomic_open(path) as f:
            if name.endswith(".json"):
                json.dump(obj, f, indent=2)
            else:
                f.write(str(obj).rstrip("\n") + "\n")
        paths.append(path)
    return paths
