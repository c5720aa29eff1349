"""Registry test cases of the movement ops of ops/gather.py, ops/scatter.py and
ops/rearrange.py (used by tests/op_cases.py): small shapes, 0-d and empty ones, repeated
indices where the op allows them, and an index smaller than the input (and src).

scatter's indices never repeat a target: which of two values it keeps is unspecified
(as in PyTorch), so a repeat would not have one right answer."""
import numpy as np

REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def distinct_along(rng, shape, dim, size):
    """An int64 index of `shape` whose values along `dim` are distinct, in [0, size)."""
    moved = list(shape)
    length = moved.pop(dim)
    rows = [rng.permutation(size)[:length] for _ in range(int(np.prod(moved, dtype=np.int64)))]
    return np.moveaxis(np.array(rows, np.int64).reshape(moved + [length]), -1, dim)


def movement_cases(name, v, rng):
    """Cases (arrays, attrs) for op `name`; v(*shape) draws values from the op's domain."""
    ints = lambda high, *shape: rng.integers(0, high, size=shape).astype(np.int64)
    if name == "gather":
        return [([v(3, 4), ints(3, 2, 3)], dict(dim=0)), ([v(2, 3, 5), ints(5, 2, 3, 4)], dict(dim=-1)),
                ([v(), np.array(0)], dict(dim=0)), ([v(2, 3), ints(2, 0, 3)], dict(dim=0))]
    if name == "index_select":
        return [([v(3, 4), np.array([2, 0, 2])], dict(dim=0)), ([v(2, 3, 4), np.array([3, 1])], dict(dim=-1)),
                ([v(3, 4), np.array(1)], dict(dim=1)), ([v(3, 4), np.zeros(0, np.int64)], dict(dim=0))]
    if name == "one_hot":
        return [([ints(4, 5)], dict(num_classes=4)), ([ints(3, 2, 3)], dict(num_classes=3)),
                ([np.array(1)], dict(num_classes=2)), ([np.zeros(0, np.int64)], dict(num_classes=3))]
    if name == "scatter":
        return [([v(3, 5), distinct_along(rng, (2, 3), 1, 5), v(2, 4)], dict(dim=1)),
                ([v(4, 3), distinct_along(rng, (2, 3), 0, 4), v(3, 3)], dict(dim=0)),
                ([v(), np.array(0), v()], dict(dim=0))]
    if name == "scatter_add":
        return [([v(3, 5), ints(5, 2, 4), v(2, 4)], dict(dim=1)),
                ([v(4, 2, 3), ints(4, 3, 2, 2), v(3, 2, 3)], dict(dim=0)),
                ([v(3, 5), ints(3, 0, 5), v(0, 5)], dict(dim=0))]
    if name == "scatter_reduce":
        return [([v(3, 5), ints(5, 2, 4), v(2, 4)], dict(dim=1, reduce=r, include_self=inc))
                for r in REDUCTIONS for inc in (True, False)] + \
               [([v(4, 3), ints(4, 3, 3), v(3, 3)], dict(dim=0, reduce="amax", include_self=True))]
    if name == "flip":
        return [([v(3, 4)], dict(dims=(0, 1))), ([v(2, 3, 5)], dict(dims=(-1,))), ([v()], dict(dims=())),
                ([v(2, 0)], dict(dims=(1,)))]
    if name == "roll":
        return [([v(3, 4)], dict(shifts=(1, -5), dims=(1, 0))), ([v(7)], dict(shifts=(3,), dims=None)),
                ([v(2, 3)], dict(shifts=(4,), dims=None)), ([v(2, 3, 2)], dict(shifts=(1, 1), dims=(0, 0)))]
    if name == "repeat":
        return [([v(3, 4)], dict(repeats=(2, 1, 2))), ([v(2)], dict(repeats=(3, 2))), ([v()], dict(repeats=(2,))),
                ([v(2, 3)], dict(repeats=(0, 1)))]
    if name in ("tril", "triu"):
        return [([v(4, 5)], dict(diagonal=0)), ([v(2, 3, 4)], dict(diagonal=-1)), ([v(3, 3)], dict(diagonal=2))]
    return None
