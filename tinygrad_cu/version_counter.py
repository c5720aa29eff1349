"""Version counters: how many times a tensor's buffer was written in place.

Every Tensor has one (`t._version`, made on first need: a tensor never written in
place reads version 0). Tensors that view one buffer (reshape/view results, detach())
share one counter, so writing through any of them is seen through all. An op that saves
tensors for backward notes their versions when it is recorded, and backward compares
(tinygrad_cu/autograd.py): a saved tensor changed in place is an error, never a silent
wrong gradient. The in-place ops themselves: tinygrad_cu/tensor_inplace.py."""


class VersionCounter:
    __slots__ = ("value", "shared")

    def __init__(self):
        self.value, self.shared = 0, False      # shared: more than one tensor views the buffer


def counter_of(t):
    if t._vc is None:
        t._vc = VersionCounter()
    return t._vc


def share_counter(view, base):
    """`view` shares `base`'s buffer (reshape, detach): one counter for both."""
    c = counter_of(base)
    c.shared = True
    view._vc = c
