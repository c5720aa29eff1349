"""Every op of tinygrad_cu, one module per op family, each with its `.cu` kernels beside it.

Importing this package registers all ops in `tinygrad_cu.op.REGISTRY`. It is the
repository's `ops/` folder, installed as `tinygrad_cu.ops`.
"""
from . import bitwise, inplace  # noqa: F401  (integer group, in-place writers: issue 11)
from . import unary, binary, reduce, matmul, movement, softmax, conv, pool, optim  # noqa: F401
from . import any_all, scan, values_at, sort  # noqa: F401  (reductions group and sorting, issue 11)
from . import gather, scatter, rearrange  # noqa: F401  (issue 11: more movement ops)
from . import pad_mode, logcumsumexp, strided_view  # noqa: F401  (issue t2: F.pad's modes, diagonal, unfold)
from . import activation, unary_math, binary_math, logical, ternary  # noqa: F401  (elementwise, issue 11)
from . import norm, loss  # noqa: F401  (normalisation and losses, issue 12)
from . import matmul_int  # noqa: F401  (exact integer matmul, task t4)
