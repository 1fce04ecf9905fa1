"""mlpcore: a small, PyTorch-shaped NumPy library for the course."""
from mlpcore.module import Module, Parameter

__version__ = "0.1.0"
