"""Registry test cases of the movement/reduction tail (issue t2): ops/pad_mode.py and
ops/logcumsumexp.py, ops/strided_view.py (used by tests/op_cases.py). Small shapes; pads as large as each
mode allows (reflect: n - 1, circular: n), 0-d and size-1 dims."""


import numpy as np


def tail_cases(name, v, rng):
    """Cases (arrays, attrs) for op `name`; v(*shape) draws values from the op's domain."""
    if name == "pad_mode":
        return [([v(3, 4)], dict(pad_width=((2, 1), (3, 0)), mode="reflect")),
                ([v(2, 1, 5)], dict(pad_width=((0, 0), (0, 0), (4, 4)), mode="reflect")),
                ([v(3, 4)], dict(pad_width=((4, 1), (0, 6)), mode="replicate")),
                ([v(1, 2)], dict(pad_width=((2, 3), (1, 1)), mode="replicate")),
                ([v(3, 4)], dict(pad_width=((3, 1), (2, 4)), mode="circular")),
                ([v()], dict(pad_width=(), mode="reflect"))]
    if name == "logcumsumexp":      # 300: several chunks of a block; a row far apart in scale
        spread = np.array([[0.0, 30.0, -30.0, 29.5, 1.0]], dtype=v(1).dtype)
        return [([v(7)], dict(axis=-1)), ([v(3, 5)], dict(axis=0)), ([v(2, 4, 3)], dict(axis=1)),
                ([v()], dict(axis=0)), ([v(2, 300)], dict(axis=-1)), ([spread], dict(axis=1))]
    if name == "diagonal":          # offsets above, below and past the plane; a plane not last
        return [([v(3, 4)], dict(offset=0, dim1=0, dim2=1)), ([v(2, 3, 4)], dict(offset=1, dim1=0, dim2=2)),
                ([v(4, 2, 3)], dict(offset=-2, dim1=2, dim2=0)), ([v(2, 3)], dict(offset=5, dim1=-1, dim2=0))]
    if name == "unfold":            # overlapping windows (their gradients add), gaps, 0-d, size 0
        return [([v(7)], dict(dimension=0, size=3, step=1)), ([v(2, 8, 3)], dict(dimension=1, size=2, step=3)),
                ([v(3, 5)], dict(dimension=-1, size=5, step=2)), ([v()], dict(dimension=0, size=1, step=1)),
                ([v(2, 4)], dict(dimension=0, size=0, step=1))]
    return None
