"""Every op of tinygrad_cu, one module per op family, each with its `.cu` kernels beside it.

Importing this package registers all ops in `tinygrad_cu.op.REGISTRY`. It is the
repository's `ops/` folder, installed as `tinygrad_cu.ops`.
"""
from . import bitwise, inplace  # noqa: F401  (integer group, in-place writers: issue 11)
from . import unary, binary, reduce, matmul, movement, softmax, conv, pool, optim  # noqa: F401
