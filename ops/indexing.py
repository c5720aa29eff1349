"""PyTorch's rule for where advanced indexing puts the index dimensions (getitem).

numpy and PyTorch agree on every index except one: an integer mixed with index arrays.
numpy counts the integer as an advanced index, so in `x[1, :, [0, 1]]` the "advanced
indices" (1 and [0, 1]) are separated by a slice and numpy puts their broadcast
dimensions FIRST. PyTorch applies integers first, as a plain `select` that removes the
dimension, and only then the index arrays: [0, 1] is then the only advanced index and
its dimension stays WHERE IT WAS. For x of shape (2, 5, 6, 5, 3, 4):

    x[1, :, 3:11:2, [0, 1], 0:2]      numpy (2, 5, 2, 2, 4)      PyTorch (5, 2, 2, 2, 4)

`index_steps` splits such an index into PyTorch's two steps, each an ordinary numpy
index: a basic one (integers, slices, None, ...; index arrays replaced by full slices),
then an advanced one on its result (the arrays, full slices elsewhere). Where the
integers cannot change the answer (no integer, or no index array) the index stays one
step. The rest of the rule is numpy's and PyTorch's alike: index arrays broadcast
together; adjacent ones put their dims where the first one was, separated ones put
them first.
"""
import numpy as np


def _is_int(item):
    return isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_))


def _is_array(item):
    return isinstance(item, np.ndarray)


def index_steps(index):
    """(basic, advanced): x[index] in PyTorch is x[basic][advanced]; advanced is None when
    the index is one numpy step already (numpy's and PyTorch's rules agree on it)."""
    index = tuple(index)
    if not (any(_is_int(i) for i in index) and any(_is_array(i) for i in index)):
        return index, None
    basic, advanced = [], []
    for item in index:
        if _is_int(item):
            basic.append(item)                     # select: the dim disappears in step 1
        elif _is_array(item):
            # a bool mask covers as many dims as it has; an integer array one
            width = item.ndim if item.dtype == np.bool_ else 1
            basic.extend([slice(None)] * width)
            advanced.append(item)
        elif item is None:
            basic.append(None)                     # the new dim exists after step 1
            advanced.append(slice(None))
        elif item is Ellipsis:
            basic.append(Ellipsis)                 # covers the same dims in both steps
            advanced.append(Ellipsis)
        else:                                      # a slice
            basic.append(item)
            advanced.append(slice(None))
    return tuple(basic), tuple(advanced)


def index_array(array, index):
    """array[index] with PyTorch's rule (a view where numpy gives one)."""
    basic, advanced = index_steps(index)
    view = array[basic]
    return view if advanced is None else view[advanced]


def add_at(out, index, values):
    """out[index] += values with PyTorch's rule; repeated positions add up (np.add.at)."""
    basic, advanced = index_steps(index)
    if advanced is None:
        np.add.at(out, basic, values)
    else:
        np.add.at(out[basic], advanced, values)    # out[basic] is a view: writes reach out
