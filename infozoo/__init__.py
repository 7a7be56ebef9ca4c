"""infozoo: invertible and information-theoretic autoencoders (Keras 3 / TensorFlow).

Importing ``infozoo`` does not import TensorFlow; ``infozoo.models`` and
``infozoo.layers`` do.
"""
__version__ = "0.1.0"
