"""einsum as a composite of existing ops, the way PyTorch and tinygrad lower it:

    tg.einsum("bij,bjk->bik", a, b)     tg.einsum("ii->", x)     tg.einsum("...ij->...ji", x)

The equation follows torch.einsum: letters a-z and A-Z, at most one '...' per operand
(dims broadcast from the right), an explicit output after '->' or, without it, the
letters that appear exactly once, in alphabetical order (upper case first), after the
'...' dims. Dims of size 1 broadcast against the same letter's size elsewhere. A letter
repeated within one operand takes its diagonal ('ii->i'), and a trace when it is then
summed ('ii->'). An explicit output without '...' sums the '...' dims.

How it is computed, operand by operand, left to right:
  1. diagonals: the repeated dims are moved to the front and indexed with one arange
     per copy (getitem; its backward scatters into the diagonal);
  2. a dim of size 1 whose letter is larger elsewhere is dropped (broadcasting);
  3. letters no later operand and not the output needs are summed out (`sum`);
  4. the running result and the next operand are contracted by one batched matmul:
     permuted to (batch, kept, contracted) and (batch, contracted, kept), reshaped to
     3-D, multiplied, reshaped back;
  5. at the end the remaining letters are permuted into the output's order.
Every step is a registered op, so autograd differentiates it and every device runs it.
"""
import string

import numpy as np

from .errors import OpError

LETTERS = frozenset(string.ascii_letters)


def _term(term, equation):
    """'ab...c' -> (['a', 'b', '...', 'c']); errors name the equation."""
    out, i = [], 0
    while i < len(term):
        if term.startswith("...", i):
            if "..." in out:
                raise OpError(f"einsum: more than one '...' in a term of {equation!r}")
            out.append("...")
            i += 3
        elif term[i] in LETTERS:
            out.append(term[i])
            i += 1
        else:
            raise OpError(f"einsum: invalid subscript {term[i]!r} in {equation!r} (use letters a-z, A-Z "
                             f"and '...')")
    return out


def parse(equation, ndims):
    """Labels of each operand's dims and of the output: letters, and ints 0 .. E-1 for the
    '...' dims (right-aligned across operands)."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    eq = equation.replace(" ", "")
    if eq.count("->") > 1:
        raise OpError(f"einsum: more than one '->' in {equation!r}")
    lhs, arrow, rhs = eq.partition("->")
    terms = [_term(t, equation) for t in lhs.split(",")]
    if len(terms) != len(ndims):
        raise OpError(f"einsum: {equation!r} has {len(terms)} operand terms but {len(ndims)} operands were given")
    ellipsis_dims = []
    for k, (term, nd) in enumerate(zip(terms, ndims)):
        letters = len(term) - ("..." in term)
        extra = nd - letters
        if extra < 0 or (extra and "..." not in term):
            raise OpError(f"einsum: term {''.join(term)!r} of {equation!r} has {letters} subscripts for "
                             f"operand {k} with {nd} dims")
        ellipsis_dims.append(extra)
    E = max(ellipsis_dims, default=0)
    inputs = []
    for term, extra in zip(terms, ellipsis_dims):
        labels = []
        for s in term:
            labels.extend(range(E - extra, E) if s == "..." else [s])
        inputs.append(labels)
    counts = {}
    for labels in inputs:
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
    if not arrow:
        return inputs, list(range(E)) + sorted(l for l, c in counts.items() if isinstance(l, str) and c == 1)
    output = []
    for s in _term(rhs, equation):
        if s in output:
            raise OpError(f"einsum: output subscript {s!r} appears more than once in {equation!r}")
        if s != "..." and s not in counts:
            raise OpError(f"einsum: output subscript {s!r} of {equation!r} appears in no operand")
        output.extend(range(E) if s == "..." else [s])
    return inputs, output


def _sizes(operands, inputs, equation):
    """Each label's size; a dim of size 1 broadcasts against a larger one."""
    sizes = {}
    for k, (t, labels) in enumerate(zip(operands, inputs)):
        for label, n in zip(labels, t.shape):
            have = sizes.get(label)
            if have is None or have == 1:
                sizes[label] = n
            elif n != 1 and n != have:
                name = "'...' dim" if isinstance(label, int) else f"subscript {label!r}"
                raise OpError(f"einsum: {name} of {equation!r} has size {n} in operand {k} "
                                 f"{tuple(t.shape)} but {have} elsewhere")
    return sizes


def _permute(t, labels, order):
    if order == labels:
        return t
    return t.permute(*[labels.index(label) for label in order])


def _diagonals(t, labels, k, equation):
    """Take the diagonal of every letter repeated within one operand."""
    while len(set(labels)) != len(labels):
        label = next(l for l in labels if labels.count(l) > 1)
        at = [i for i, l in enumerate(labels) if l == label]
        n = t.shape[at[0]]
        if any(t.shape[i] != n for i in at):
            raise OpError(f"einsum: subscript {label!r} is repeated in operand {k} of {equation!r} "
                             f"with different sizes {[t.shape[i] for i in at]}")
        rest = [i for i in range(len(labels)) if i not in at]
        t = t.permute(*(at + rest)) if at + rest != list(range(len(labels))) else t
        t = t[(np.arange(n),) * len(at)]         # the repeated dims become one, at the front
        labels = [label] + [labels[i] for i in rest]
    return t, labels


def _sum_out(t, labels, keep):
    axes = tuple(i for i, l in enumerate(labels) if l not in keep)
    if not axes:
        return t, labels
    return t.sum(axis=axes), [l for l in labels if l in keep]


def _contract(a, la, b, lb, later, sizes):
    """The product of a and b over their shared labels that nothing later needs."""
    a, la = _sum_out(a, la, set(lb) | later)
    b, lb = _sum_out(b, lb, set(la) | later)
    batch = [l for l in la if l in lb and l in later]
    summed = [l for l in la if l in lb and l not in later]
    a_only = [l for l in la if l not in lb]
    b_only = [l for l in lb if l not in la]
    count = lambda labels: int(np.prod([sizes[l] for l in labels], dtype=np.int64))
    nb, nk = count(batch), count(summed)
    a3 = _permute(a, la, batch + a_only + summed).reshape(nb, count(a_only), nk)
    b3 = _permute(b, lb, batch + summed + b_only).reshape(nb, nk, count(b_only))
    labels = batch + a_only + b_only
    return (a3 @ b3).reshape(*[sizes[l] for l in labels]), labels


def _subscript(n):
    """A sublist entry as a letter, as torch.einsum maps them: 0..25 -> A..Z, 26..51 -> a..z."""
    if n is Ellipsis:
        return "..."
    if isinstance(n, (int, np.integer)) and 0 <= n < 52:
        return chr(ord("A") + n) if n < 26 else chr(ord("a") + n - 26)
    raise OpError(f"einsum: a sublist entry must be an int in [0, 52) or Ellipsis, got {n!r}")


def _from_sublists(args):
    """einsum(x, [0, 1], y, [1, 2], [0, 2]) -> ("AB,BC->AC", (x, y))."""
    output = None
    if len(args) % 2:
        args, output = args[:-1], args[-1]
    terms = ["".join(_subscript(n) for n in sub) for sub in args[1::2]]
    equation = ",".join(terms) + ("" if output is None else "->" + "".join(_subscript(n) for n in output))
    return equation, tuple(args[0::2])


def einsum(equation, *operands):
    """torch.einsum(equation, *operands): operands may also be one list, and the equation
    may be given as sublists, einsum(x, [0, 1], y, [1, 2], [0, 2])."""
    from .tensor import Tensor
    if isinstance(equation, Tensor):
        equation, operands = _from_sublists((equation,) + operands)
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands or not all(isinstance(t, Tensor) for t in operands):
        raise TypeError(f"einsum: expected one or more tensors after the equation {equation!r}")
    inputs, output = parse(equation, [t.ndim for t in operands])
    sizes = _sizes(operands, inputs, equation)
    terms = []
    for k, (t, labels) in enumerate(zip(operands, inputs)):
        t, labels = _diagonals(t, labels, k, equation)
        broadcast = [i for i, l in enumerate(labels) if t.shape[i] == 1 and sizes[l] != 1]
        if broadcast:
            t = t.reshape(*[n for i, n in enumerate(t.shape) if i not in broadcast])
            labels = [l for i, l in enumerate(labels) if i not in broadcast]
        terms.append((t, labels))
    result, labels = terms[0]
    for k in range(1, len(terms)):
        later = set(output).union(*[set(l) for _, l in terms[k + 1:]])
        result, labels = _contract(result, labels, *terms[k], later, sizes)
    result, labels = _sum_out(result, labels, set(output))
    return _permute(result, labels, output)
