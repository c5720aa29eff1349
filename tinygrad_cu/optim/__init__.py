"""Optimisers (torch.optim's names): SGD, Adam, AdamW, and learning-rate schedulers."""
from . import lr_scheduler  # noqa: F401
from .adam import Adam, AdamW  # noqa: F401
from .lr_scheduler import CosineAnnealingLR, StepLR  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from .sgd import SGD  # noqa: F401
