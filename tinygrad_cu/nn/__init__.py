"""Neural-network layers (tinygrad_cu.nn) and their functional forms (nn.functional)."""
from . import functional  # noqa: F401
from . import functional as F  # noqa: F401
from . import init  # noqa: F401
from .activation import Identity, LogSoftmax, ReLU, Sigmoid, Sign, Softmax, Softplus, Tanh  # noqa: F401
from .activation_modules import (ELU, GELU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU,  # noqa: F401
                                 Mish, ReLU6, SiLU, Softsign, CELU, SELU, LogSigmoid)
from .container import Sequential  # noqa: F401
from .conv import Conv1d, Conv2d, Conv3d  # noqa: F401
from .dropout import Dropout  # noqa: F401
from .linear import Linear  # noqa: F401
from .losses import (CrossEntropyLoss, MSELoss, OneMinusTargetProbLoss,  # noqa: F401
                     QuadraticClassDistanceLoss, one_minus_target_prob_loss,
                     quadratic_class_distance_loss)
from .module import Module  # noqa: F401
from .parameter import Parameter  # noqa: F401
from .pooling import AvgPool2d, Flatten, MaxPool2d  # noqa: F401
