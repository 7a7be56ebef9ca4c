"""Figures and images: :mod:`~infozoo.viz.images` (image grids) and :mod:`~infozoo.viz.plots`
(matplotlib figures: information plane, scatters, curves)."""
