"""Neural-network layers (tinygrad_cu.nn) and their functional forms (nn.functional)."""
from . import functional  # noqa: F401
from . import functional as F  # noqa: F401
from . import init  # noqa: F401
from . import utils  # noqa: F401
from .attention import MultiheadAttention  # noqa: F401
from .activation import Identity, LogSoftmax, ReLU, Sigmoid, Sign, Softmax, Softplus, Tanh  # noqa: F401
from .activation_modules import (ELU, GELU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU,  # noqa: F401
                                 Mish, ReLU6, SiLU, Softsign, CELU, SELU, LogSigmoid)
from .container import Sequential  # noqa: F401
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d  # noqa: F401
from .dropout import Dropout  # noqa: F401
from .embedding import Embedding  # noqa: F401
from .linear import Linear  # noqa: F401
from .losses import (CrossEntropyLoss, MSELoss, OneMinusTargetProbLoss,  # noqa: F401
                     QuadraticClassDistanceLoss, one_minus_target_prob_loss,
                     quadratic_class_distance_loss)
from .loss_modules import (BCELoss, BCEWithLogitsLoss, HuberLoss, KLDivLoss, L1Loss, NLLLoss,  # noqa: F401
                           SmoothL1Loss)
from .module import Module  # noqa: F401
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, LayerNorm  # noqa: F401
from .parameter import Parameter  # noqa: F401
from .pooling import (AvgPool1d, AvgPool2d, AvgPool3d, Flatten, MaxPool1d, MaxPool2d, MaxPool3d,  # noqa: F401
                      MaxUnpool1d, MaxUnpool2d, MaxUnpool3d)
from .resample import AdaptiveAvgPool2d, Upsample  # noqa: F401
