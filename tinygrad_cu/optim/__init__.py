"""Optimisers (torch.optim's names): SGD, Adam, AdamW, RMSprop, Adagrad, and learning-rate schedulers."""
from . import lr_scheduler  # noqa: F401
from .adam import Adam, AdamW  # noqa: F401
from .lr_scheduler import (CosineAnnealingLR, ExponentialLR, LambdaLR, MultiStepLR, OneCycleLR,  # noqa: F401
                           ReduceLROnPlateau, StepLR)
from .optimizer import Optimizer  # noqa: F401
from .sgd import SGD  # noqa: F401
from .rmsprop import Adagrad, RMSprop  # noqa: F401
