"""mlpcore: a small, PyTorch-shaped NumPy library for the course.

Layers and losses are importable from the top level (``from mlpcore import Linear``);
the rest lives in submodules named as in PyTorch where PyTorch has the concept:
``mlpcore.functional`` (the math as pure functions, like ``torch.nn.functional``),
``mlpcore.init``, ``mlpcore.optim``, plus ``mlpcore.data``, ``mlpcore.train``,
``mlpcore.gradcheck``, ``mlpcore.diagnostics``, ``mlpcore.plotting`` (matplotlib),
``mlpcore.baseline`` (chapter 0's split, model and recipe, which every chapter reuses)
and ``mlpcore.exercises``.
"""
from mlpcore import clip, functional, init, optim
from mlpcore.gradcheck import GradcheckReport, gradcheck, gradcheck_loss
from mlpcore.layers import (ELU, BatchNorm1d, Dropout, LayerNorm, LeakyReLU, Linear, ReLU,
                            Residual, Sequential, Sigmoid, Tanh)
from mlpcore.losses import CrossEntropyLoss, MSELoss
from mlpcore.module import Module, Parameter
from mlpcore.train import History, TrainingDivergedError, evaluate, fit

__version__ = "0.1.0"

__all__ = [
    "Module", "Parameter",
    "Linear", "ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Dropout", "BatchNorm1d",
    "LayerNorm", "Residual", "Sequential",
    "CrossEntropyLoss", "MSELoss",
    "gradcheck", "gradcheck_loss", "GradcheckReport",
    "fit", "evaluate", "History", "TrainingDivergedError",
]
