"""The exceptions an op raises for bad input, typed so that both habits catch them.

The project's rule is a clear ValueError (shapes, values), TypeError (dtypes) or
IndexError (a dim out of range) naming the op. PyTorch raises RuntimeError for most of
what it refuses inside an op ("The size of tensor a (3) must match ..."), and code ported
from PyTorch catches that. So each class below is both: `except ValueError` and
`except RuntimeError` catch an OpError alike, as numpy's AxisError is both a ValueError
and an IndexError.

Ops raise plain ValueError/TypeError in `infer`; autograd turns them into these at the
one place every op call passes through (autograd._infer, on a shape-cache miss only), so
op code stays plain and the hot path pays nothing.
"""


class OpError(ValueError, RuntimeError):
    """An op refused its input's shapes or values."""


class OpTypeError(TypeError, RuntimeError):
    """An op refused its input's dtypes."""


class DimensionError(IndexError, ValueError):
    """A dim out of range for a tensor (PyTorch: IndexError 'Dimension out of range')."""


def as_op_error(e):
    """The OpError / OpTypeError with e's message, for a ValueError / TypeError; other
    exceptions (IndexError, DimensionError, the typed ones already) as they are."""
    if isinstance(e, (OpError, OpTypeError, IndexError)):
        return e
    if isinstance(e, ValueError):
        return OpError(*e.args)
    if isinstance(e, TypeError):
        return OpTypeError(*e.args)
    return e
