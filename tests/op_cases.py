"""Inputs for the registry-driven op tests: for each registered op, a list of cases
(arrays, attrs) with shapes that include size-1 and 0-d dims, broadcasting, and
sizes that are not multiples of any kernel's tile size.

Values come from the op's declared `domain`; ops whose input kinds are special
(labels, indices, several tensors) have their own case makers here.
"""
import numpy as np

from tinygrad_cu.op import REGISTRY

UNARY_SHAPES = [(), (1,), (7,), (3, 5), (2, 1, 33)]
BINARY_SHAPES = [((3, 5), (3, 5)), ((3, 1), (1, 5)), ((), (2, 3)), ((7,), (2, 3, 7)), ((2, 1, 4), (3, 1))]


def values(rng, op, shape, dtype=np.float64):
    d = op.domain
    x = rng.uniform(d.low, d.high, size=shape)
    if d.avoid_zero:   # keep finite differences away from the kink at 0
        x = np.where(np.abs(x) < 0.05, 0.05 * np.sign(x) + (x == 0) * 0.05, x)
    return np.asarray(x, dtype=dtype)


def _attrs(op):
    return list(getattr(op, "test_attrs", None) or [{}])


def cases_for(name, rng, dtype=np.float64):
    op = REGISTRY[name]
    v = lambda *shape: values(rng, op, shape, dtype)
    family = type(op).__module__.rsplit(".", 1)[-1]
    if family == "unary":
        return [([v(*s)], a) for s in UNARY_SHAPES for a in _attrs(op)]
    if family == "bitwise":                  # integer and bool inputs, whatever `dtype` says
        return bitwise_cases(name, rng)
    if name == "masked_fill":                # x and a bool mask broadcast together
        mask = lambda *s: rng.integers(0, 2, size=s).astype(bool)
        return [([v(3, 4), mask(3, 4)], dict(value=-1.5)), ([v(3, 1), mask(2, 1, 5)], dict(value=2.0)),
                ([v(2, 5), mask(5)], dict(value=0.0)), ([v(), mask(2, 3)], dict(value=7.0)),
                ([rng.integers(-5, 5, size=(2, 3)), mask(2, 3)], dict(value=9))]
    if family == "binary" and not op.differentiable:     # comparisons: integers and bool too
        return [([v(*sa), v(*sb)], {}) for sa, sb in BINARY_SHAPES] + integer_cases(rng, BINARY_SHAPES[:3])
    if family == "binary":
        return [([v(*sa), v(*sb)], {}) for sa, sb in BINARY_SHAPES]
    if family == "reduce":
        shapes = [(3, 4, 5), (1, 7), (2, 33)]
        floats = [([v(*s)], a) for s in shapes for a in _attrs(op)]
        if name in ("max", "min", "argmax", "argmin"):           # exact on integers and bool too
            return floats + [(arrays, a) for arrays, _ in integer_cases(rng, [((3, 4, 5),), ((2, 33),)])
                             for a in _attrs(op)[:2]]
        return floats
    if name == "matmul":
        return [([v(*a), v(*b)], {}) for a, b in [((3, 4), (4, 5)), ((1, 1), (1, 1)), ((17, 33), (33, 18)),
                                                   ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (3, 4, 2))]]
    if name == "matmul_nt":
        return [([v(*a), v(*b)], {}) for a, b in [((3, 4), (5, 4)), ((1, 1), (1, 1)), ((17, 33), (70, 33)),
                                                   ((65, 3), (2, 3))]]
    if name == "linear":
        return [([v(*x), v(*w), v(w[0])], {}) for x, w in [((3, 4), (5, 4)), ((1, 1), (1, 1)), ((17, 33), (70, 33))]] \
            + [([v(65, 3), v(2, 3)], {})]
    if name == "reshape":
        return [([v(3, 4)], dict(shape=(2, 6))), ([v(2, 3, 4)], dict(shape=(-1, 4))), ([v(1)], dict(shape=()))]
    if name == "permute":
        return [([v(3, 4)], dict(dims=(1, 0))), ([v(2, 3, 5)], dict(dims=(2, 0, 1))), ([v(1, 4, 1, 3)], dict(dims=(3, 1, 0, 2)))]
    if name == "expand":
        return [([v(3, 1)], dict(shape=(3, 4))), ([v(4)], dict(shape=(2, 3, 4))), ([v()], dict(shape=(2, 2)))]
    if name == "getitem":
        idx = [(1,), (slice(None, None, -1), slice(1, 3)), (np.array([0, 0, 2]),), (None, Ellipsis, 1),
               (slice(None), np.array([3, 1, 3])), (np.array([[0, 1], [1, 0]]), np.array([2, 3]))]
        # an integer and an index array separated by a slice: PyTorch's placement (ops/indexing.py)
        mixed = [([v(2, 3, 4)], dict(index=(1, slice(None), np.array([0, 3, 0])))),
                 ([v(2, 3, 4)], dict(index=(np.array([1, 0]), slice(None, 2), 2)))]
        return [([v(3, 4)], dict(index=i)) for i in idx] + mixed
    if name == "cat":
        return [([v(2, 3), v(4, 3)], dict(axis=0)), ([v(2, 3), v(2, 1), v(2, 5)], dict(axis=-1)), ([v(1)], dict(axis=0))]
    if name == "pad":
        return [([v(3, 4)], dict(pad_width=((1, 2), (0, 3)), value=0.0)),
                ([v(2, 1, 3)], dict(pad_width=((0, 0), (2, 2), (1, 0)), value=-1.5))]
    if name == "cast":
        return [([v(3, 4)], dict(dtype=np.dtype(dtype)))]
    if name in ("softmax", "log_softmax"):
        return [([v(*s)], dict(axis=ax)) for s, ax in [((4, 7), -1), ((4, 7), 0), ((2, 3, 5), 1), ((1,), 0)]]
    if name == "cross_entropy":
        out = []
        for n, c in [(5, 7), (1, 3), (33, 10)]:
            for a in _attrs(op):
                out.append(([v(n, c), rng.integers(0, c, size=n)], a))
        return out
    if name == "conv":
        # 2-D first: the race-mode test runs the first two cases, and 2-D has the tiled kernels
        return [([v(2, 3, 7, 6), v(4, 3, 3, 3), v(4)], dict(stride=1, padding=1)),     # 2-D (images)
                ([v(1, 2, 9, 8), v(3, 2, 3, 2)], dict(stride=(2, 1), padding=(0, 1))),
                ([v(2, 3, 9), v(4, 3, 3), v(4)], dict(stride=1, padding=0)),           # 1-D (audio)
                ([v(2, 3, 11), v(2, 3, 4)], dict(stride=2, padding=1)),
                ([v(2, 1, 5, 4, 6), v(2, 1, 2, 3, 3), v(2)], dict(stride=1, padding=(1, 0, 1)))]  # 3-D
    if name in ("max_pool2d", "avg_pool2d"):
        return [([v(2, 3, 8, 9)], a) for a in _attrs(op)]
    return None


def bitwise_cases(name, rng):
    """Every dtype the op takes, broadcasting and one-element operands; shift counts
    include ones outside [0, bits), where PyTorch's result differs from C's."""
    dts = [np.int32, np.int64, np.uint8] + ([] if "shift" in name else [np.bool_])
    out = []
    for dt, (sa, sb) in zip(dts, [((3, 5), (3, 5)), ((3, 1), (1, 5)), ((), (2, 3)), ((7,), (2, 3, 7))]):
        info = np.iinfo(dt) if dt != np.bool_ else None
        draw = (lambda s: rng.integers(0, 2, size=s).astype(dt)) if info is None else \
            (lambda s: rng.integers(info.min, info.max, size=s, endpoint=True).astype(dt))
        if name == "bitwise_not":
            out.append(([draw(sa)], {}))
            continue
        b = draw(sb)
        if "shift" in name:
            bits = 8 * np.dtype(dt).itemsize
            b = rng.integers(-2 if info.min < 0 else 0, bits + 3, size=sb).astype(dt)
        out.append(([draw(sa), b], {}))
    return out


def integer_cases(rng, shape_lists):
    """Integer and bool inputs (int64 with values beyond float32's 2^24, int32, uint8,
    bool), one dtype per shape list, few distinct values so that ties happen."""
    out = []
    for dt, shapes in zip([np.int64, np.int32, np.uint8, np.bool_], shape_lists * 2):
        base = 2 ** 40 if dt == np.int64 else 0
        low, high = (-3, 4) if dt in (np.int64, np.int32) else (0, 2 if dt == np.bool_ else 4)
        out.append(([(base + rng.integers(low, high, size=s)).astype(dt) for s in shapes], {}))
    return out
