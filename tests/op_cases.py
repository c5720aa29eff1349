"""Inputs for the registry-driven op tests: for each registered op, a list of cases
(arrays, attrs) with shapes that include size-1 and 0-d dims, broadcasting, and
sizes that are not multiples of any kernel's tile size.

Values come from the op's declared `domain`; ops whose input kinds are special
(labels, indices, several tensors) have their own case makers here.
"""
import numpy as np

from tinygrad_cu.op import REGISTRY

from op_cases_movement import movement_cases
from op_cases_tail import tail_cases

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
    if family in ("unary", "activation", "unary_math"):
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
    if family in ("binary_math", "logical", "ternary"):
        return elementwise_cases(name, rng, v, dtype)
    if family == "loss":    # pointwise losses: an input from `domain`, a target from `target_domain`
        td = op.target_domain
        return [([v(*s), np.asarray(rng.uniform(td.low, td.high, size=s), dtype=dtype)], a)
                for s in [(), (7,), (3, 5)] for a in _attrs(op)]
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
    if name == "matmul_int":                 # int64 beyond float's 2^53, int32 and uint8 that wrap, batches
        ints = lambda dt, lo, hi, *s: rng.integers(lo, hi, size=s).astype(dt)
        return [([ints(np.int64, -2 ** 40, 2 ** 40, 3, 4), ints(np.int64, -2 ** 20, 2 ** 20, 4, 5)], {}),
                ([ints(np.int32, -2 ** 31, 2 ** 31, 2, 3, 4), ints(np.int32, -9, 10, 4, 5)], {}),
                ([ints(np.uint8, 0, 256, 2, 1, 3, 7), ints(np.uint8, 0, 256, 3, 7, 2)], {}),
                ([ints(np.int32, -5, 5, 1, 1), ints(np.int32, -5, 5, 1, 1)], {})]
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
    if name in ("any", "all"):      # zeros where they decide the answer; float, int and bool inputs
        sparse = v(3, 4, 5) * (rng.random((3, 4, 5)) < 0.3)
        dense = v(2, 33) * (rng.random((2, 33)) < 0.97)
        flags = rng.random((4, 1, 6)) < 0.5
        counts = rng.integers(0, 2, size=(5, 3)).astype(np.int64)
        return [([x], a) for x in (sparse, dense, flags, counts) for a in _attrs(op)] + \
            [([np.zeros((0, 3), dtype)], dict(axis=0, keepdims=False)), ([v()], dict(axis=None, keepdims=False))]
    if name in ("cumsum", "cumprod", "argcummax", "argcummin"):
        shapes = [((7,), -1), ((3, 5), 0), ((2, 4, 3), 1), ((), 0), ((2, 300), -1)]   # 300: several chunks
        if name == "cumprod":            # zeros in the rows (the gradient's hard case), short rows
            with_zeros = v(4, 6) * (rng.random((4, 6)) < 0.7)
            return [([v(*sh)], dict(axis=ax)) for sh, ax in shapes[:4]] + [([with_zeros], dict(axis=-1))]
        if name.startswith("arg"):       # few distinct values: ties, where the index rule matters
            return [([rng.integers(0, 3, size=sh).astype(dtype)], dict(axis=ax)) for sh, ax in shapes]
        return [([v(*sh)], dict(axis=ax)) for sh, ax in shapes]
    if name in ("argsort", "argtopk"):   # ties (few distinct values) and NaN; 1100: the long-row path
        ties = rng.integers(0, 4, size=(3, 5)).astype(dtype)
        with_nan = np.where(rng.random((2, 4, 3)) < 0.2, np.nan, v(2, 4, 3))
        long_rows = rng.integers(0, 90, size=(2, 1100)).astype(dtype)
        xs = [(v(7,), -1), (ties, 0), (with_nan, 1), (v(), 0), (long_rows, -1)]
        # integer keys (t2), compared exactly: neighbours 1 apart beyond float32's 2^24, ties;
        # int64 beyond 2^32 on the long-row path
        exact = rng.integers(-2**30, 2**30, size=(2, 7)).astype(np.int32)
        exact[:, 1], exact[0, 2] = exact[:, 0] + 1, exact[0, 0]
        xs += [(exact, 1), (rng.integers(-2**40, 2**40, size=(1, 1100)) // 3, -1)]
        if name == "argsort":
            return [([x], dict(axis=ax, descending=d, stable=True))
                    for (x, ax), d in zip(xs, [False, True, True, False, True, True, False])]
        return [([x], dict(k=min(k, x.shape[ax] if x.ndim else 1), axis=ax, largest=lg, sorted=True))
                for (x, ax), k, lg in zip(xs, [3, 2, 4, 1, 50, 3, 20], [True, False, True, False, True, False, True])]
    if name == "values_at":
        rows = np.argsort(rng.random((3, 5)), axis=-1)[:, :2]           # distinct per row
        return [([v(3, 5), rows], dict(axis=-1, unique=True)),
                ([v(4, 3, 2), rng.integers(0, 3, size=(4, 5, 2))], dict(axis=1, unique=False)),
                ([v(2, 6), rng.integers(0, 2, size=(3, 6))], dict(axis=0, unique=False)),
                ([v(), np.zeros((), np.int64)], dict(axis=0, unique=True))]
    if name == "logsumexp":
        return [([v(*s)], dict(axis=ax, keepdims=kd)) for s, ax, kd in
                [((4, 7), -1, False), ((4, 7), 0, True), ((2, 3, 5), 1, False), ((1,), 0, False)]]
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
                ([v(2, 1, 5, 4, 6), v(2, 1, 2, 3, 3), v(2)], dict(stride=1, padding=(1, 0, 1))),  # 3-D
                ([v(2, 4, 7, 6), v(6, 2, 3, 2), v(6)], dict(stride=(1, 2), padding=1, dilation=(2, 1), groups=2)),
                ([v(1, 3, 10), v(3, 1, 3)], dict(stride=1, padding=2, dilation=3, groups=3)),    # depthwise
                ([v(1, 2, 4, 5, 4), v(2, 1, 2, 2, 2)], dict(stride=1, padding=0, dilation=(1, 2, 1), groups=2))]
    if name == "conv_transpose":
        return [([v(2, 4, 3, 4), v(4, 3, 3, 3)], dict(stride=2, padding=1, output_padding=1)),     # 2-D
                ([v(1, 4, 4, 3), v(4, 1, 2, 3)], dict(stride=(1, 2), padding=(0, 1), dilation=(2, 1), groups=2)),
                ([v(2, 3, 5), v(3, 2, 4)], dict(stride=3, padding=1, output_padding=2)),       # 1-D
                ([v(1, 2, 2, 3, 2), v(2, 2, 2, 2, 3)], dict(stride=(2, 1, 1), padding=(0, 0, 1)))]  # 3-D
    if name == "norm":     # batch_norm, layer_norm, group_norm layouts (ops/norm.py); eps larger than
        bn, ln = dict(eps=1e-3, affine=True), dict(eps=1e-3, affine=True, affine_stride=1)   # finite differences
        return [([v(4, 3, 5), v(3), v(3)], dict(bn, layout=(4, 3, 5), affine_stride=5)),          # BatchNorm1d
                ([v(3, 7), v(7), v(7)], dict(ln, layout=(1, 3, 7))),                               # LayerNorm
                ([v(2, 4, 3), v(4), v(4)], dict(bn, layout=(1, 4, 6), affine_stride=3)),          # GroupNorm(2, 4)
                ([v(5, 6)], dict(eps=1e-3, layout=(5, 6, 1))),                                     # no affine
                ([v(2, 3, 2, 2), v(2, 3), v(2, 3)], dict(ln, layout=(1, 2, 12))),   # rows of 12, a 6-long affine twice
                ([v(6, 2, 3), v(2), v(2), v(2), 1 + np.abs(v(2))],
                 dict(bn, layout=(6, 2, 3), affine_stride=3, update_running=True, momentum=0.1))]
    if name.startswith(("max_pool", "avg_pool")):    # 1-3 spatial dims; max_pool_indices on 2-D and ties
        shape = {"1d": (2, 3, 9), "3d": (1, 2, 5, 4, 6)}.get(name[-2:], (2, 3, 8, 9))
        cases = [([v(*shape)], a) for a in _attrs(op)]
        if name == "max_pool_indices":
            ties = np.round(v(1, 2, 6, 5))             # few distinct values: the first maximum's index
            cases += [([ties], dict(kernel_size=2, stride=1)), ([v(2, 3, 9)], dict(kernel_size=3, dilation=2))]
        return cases
    if family in ("gather", "scatter", "rearrange"):      # issue 11: tests/op_cases_movement.py
        return movement_cases(name, v, rng)
    if family in ("pad_mode", "logcumsumexp", "strided_view"):   # issue t2: tests/op_cases_tail.py
        return tail_cases(name, v, rng)
    return None


# --- issue 11's elementwise families (ops/binary_math.py, logical.py, ternary.py) ----------
TERNARY_SHAPES = [((3, 5), (3, 5), (3, 5)), ((3, 1), (1, 5), ()), ((2, 1, 4), (3, 1), (4,)), ((), (2, 3), (1, 3))]


def elementwise_cases(name, rng, v, dtype):
    if name in ("maximum", "minimum"):
        x = v(3, 5)      # plus exact ties, where the gradient is split in halves; int64 / int32 / uint8 / bool exact
        return [([v(*sa), v(*sb)], {}) for sa, sb in BINARY_SHAPES] + [([x, x.copy()], {})] + \
            integer_cases(rng, BINARY_SHAPES[:3])
    if name == "copysign":
        return [([v(*sa), v(*sb)], {}) for sa, sb in BINARY_SHAPES]
    if name in ("div_floor", "div_trunc"):
        # divisors kept away from 0, where the quotient's jumps crowd together
        divisor = lambda *s: np.asarray(rng.uniform(0.5, 2, s) * rng.choice([-1, 1], s), dtype=dtype)
        return [([v(*sa), divisor(*sb)], {}) for sa, sb in BINARY_SHAPES]
    if name in ("remainder", "fmod"):        # divisors of both signs, away from 0
        divisor = lambda *s: np.asarray(rng.uniform(0.5, 2, s) * rng.choice([-1, 1], s), dtype=dtype)
        return [([v(*sa), divisor(*sb)], {}) for sa, sb in BINARY_SHAPES]
    if name in ("atan2", "logaddexp", "logaddexp2"):
        x = v(3, 5)      # plus a == b, logaddexp's special case
        return [([v(*sa), v(*sb)], {}) for sa, sb in BINARY_SHAPES] + [([x, x.copy()], {})]
    if name == "pow_int":                    # int64 bases and exponents, negative ones too
        ints = lambda lo, hi, *s: rng.integers(lo, hi, size=s).astype(np.int64)
        return [([ints(-5, 6, 3, 5), ints(0, 9, 3, 5)], {}), ([ints(-3, 4, 4, 1), ints(-3, 4, 1, 6)], {}),
                ([ints(-9, 10, 7), np.array(13, np.int64)], {}), ([np.array(3, np.int64), ints(0, 30, 2, 3)], {})]
    if name in ("isnan", "isinf", "isfinite"):
        special = v(2, 7)
        special[0, :4] = [np.nan, np.inf, -np.inf, 0.0]
        return [([v(*s)], {}) for s in UNARY_SHAPES[:3]] + [([special], {})]
    with_zeros = lambda *s: np.where(rng.random(s) < 0.3, 0, v(*s)).astype(dtype)
    as_bool = lambda *s: rng.random(s) < 0.5
    if name == "logical_not":
        return [([with_zeros(*s)], {}) for s in UNARY_SHAPES] + [([as_bool(3, 4)], {})]
    if name.startswith("logical_"):
        return [([with_zeros(*sa), with_zeros(*sb)], {}) for sa, sb in BINARY_SHAPES] + \
               [([as_bool(3, 1), as_bool(1, 4)], {}), ([as_bool(), as_bool(5)], {})]
    if name == "where":
        return [([as_bool(*sc), v(*sx), v(*sy)], {}) for sc, sx, sy in TERNARY_SHAPES]
    if name == "lerp":
        weight = lambda *s: np.asarray(rng.uniform(-0.5, 1.5, s), dtype=dtype)
        return [([v(*sa), v(*sb), weight(*sw)], {}) for sa, sb, sw in TERNARY_SHAPES]
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
