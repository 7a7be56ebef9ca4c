"""Small helpers every part of infozoo uses: :mod:`infozoo.util.io` (atomic file writes, no
TensorFlow) and :mod:`infozoo.util.draws` (random draws a seed fixes)."""
