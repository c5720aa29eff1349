"""Neural-network layers (tinygrad_cu.nn) and their functional forms (nn.functional)."""
from . import functional  # noqa: F401
from . import functional as F  # noqa: F401
