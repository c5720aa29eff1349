"""Tensor methods of the integer group: PyTorch's bitwise operators `& | ^ ~ << >>`
and their `bitwise_*` names (ops/bitwise.py). A mixin of `Tensor`: each method is one
op call; a Python number becomes a 0-d tensor of this tensor's dtype on its device, and
two integer or bool tensors of different dtypes meet in the wider one, as PyTorch
promotes (int32 | int64 is int64, bool & uint8 is uint8)."""
import numpy as np

from .autograd import apply


class IntegerOpsMixin:
    __slots__ = ()

    def _integer_binary(self, op_name, other, reverse=False):
        other = self._operand(other, op_name)
        a, b = (other, self) if reverse else (self, other)
        if a.dtype != b.dtype and a.dtype.kind in "iub" and b.dtype.kind in "iub":
            common = np.promote_types(a.dtype, b.dtype)
            a, b = a.to(common), b.to(common)
        return apply(op_name, a, b)      # floats: the op's TypeError names it and the dtypes

    def bitwise_and(self, other): return self._integer_binary("bitwise_and", other)
    def bitwise_or(self, other): return self._integer_binary("bitwise_or", other)
    def bitwise_xor(self, other): return self._integer_binary("bitwise_xor", other)
    def bitwise_left_shift(self, other): return self._integer_binary("bitwise_left_shift", other)
    def bitwise_right_shift(self, other): return self._integer_binary("bitwise_right_shift", other)
    def bitwise_not(self): return apply("bitwise_not", self)

    __and__, __or__, __xor__ = bitwise_and, bitwise_or, bitwise_xor
    __lshift__, __rshift__, __invert__ = bitwise_left_shift, bitwise_right_shift, bitwise_not

    def __rand__(self, other): return self._integer_binary("bitwise_and", other, reverse=True)
    def __ror__(self, other): return self._integer_binary("bitwise_or", other, reverse=True)
    def __rxor__(self, other): return self._integer_binary("bitwise_xor", other, reverse=True)
    def __rlshift__(self, other): return self._integer_binary("bitwise_left_shift", other, reverse=True)
    def __rrshift__(self, other): return self._integer_binary("bitwise_right_shift", other, reverse=True)
