"""Products: ``dot``, ``matmul``, ``tensordot``, ``einsum``, ``inner``, ``outer``,
``vdot`` -- all written with the single ``dot_general`` primitive."""
import builtins
import string

import numpy as np

from ..config import config
from ..core.avals import get_aval, promote_avals
from ..primitives import elementwise as E
from ..primitives import shape as S
from ..primitives.linalg import dot_general, dot_general_p
from ..primitives.reductions import reduce_sum
from ..primitives._util import shape_any, shape_error
from ._array import asarray
from ._shape import diagonal, ravel, reshape, transpose


def _arr(x):
    return asarray(x) if isinstance(x, (list, tuple)) else x


def _nd(x):
    return len(shape_any(x))


def dot(a, b):
    """NumPy's ``dot``: a sum over the last axis of ``a`` and the second-to-last of ``b``."""
    a, b = _arr(a), _arr(b)
    na, nb = _nd(a), _nd(b)
    if na == 0 or nb == 0:
        return E.mul(a, b)
    return dot_general(a, b, ((na - 1,), (builtins.max(nb - 2, 0),)))


_MATRIX_RIGHT = {n: (((n - 1,), (0,)), ((), ())) for n in range(1, 9)}  # x (..., k) @ w (k, n)


def matmul(a, b):
    """NumPy's ``matmul``: matrix product over the last two axes, batch axes broadcast."""
    if type(a) is np.ndarray and type(b) is np.ndarray and not config.debug_nans:
        try:  # eager NumPy arrays: NumPy's matmul, as the primitive's NumPy rule would run it
            out = np.matmul(a, b)
        except ValueError:
            pass  # the general path explains the error
        else:
            if out.dtype.kind in "iuf":  # (bool and complex take the general path)
                return out
    sb = getattr(b, "shape", None)
    if sb is not None and len(sb) == 2:  # the dense-layer case, straight to the primitive
        sa = getattr(a, "shape", None)
        spec = None if sa is None else _MATRIX_RIGHT.get(len(sa))
        if spec is not None:
            return dot_general_p.bind(a, b, contract=spec[0], batch=spec[1])
    a, b = _arr(a), _arr(b)
    na, nb = _nd(a), _nd(b)
    if na == 0 or nb == 0:
        raise shape_error("matmul", [get_aval(a), get_aval(b)], "operands must not be scalars",
                          "use multiply (*) for scalars")
    if nb == 1:
        return dot_general(a, b, ((na - 1,), (0,)))
    if na == 1:
        return dot_general(a, b, ((0,), (nb - 2,)))
    if nb == 2:
        return dot_general(a, b, ((na - 1,), (0,)))
    sa, sb = np.shape(a), np.shape(b)
    try:
        batch = np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise shape_error("matmul", [get_aval(a), get_aval(b)], "batch dimensions do not broadcast",
                          "make the leading (batch) dimensions broadcast-compatible") from None
    a = S.broadcast_to(a, batch + sa[-2:])
    b = S.broadcast_to(b, batch + sb[-2:])
    nbat = len(batch)
    bd = tuple(range(nbat))
    return dot_general(a, b, ((nbat + 1,), (nbat,)), (bd, bd))


def vdot(a, b):
    return dot_general(ravel(_arr(a)), ravel(_arr(b)), ((0,), (0,)))


def inner(a, b):
    a, b = _arr(a), _arr(b)
    if _nd(a) == 0 or _nd(b) == 0:
        return E.mul(a, b)
    return dot_general(a, b, ((_nd(a) - 1,), (_nd(b) - 1,)))


def outer(a, b):
    a, b = ravel(_arr(a)), ravel(_arr(b))
    return E.mul(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def tensordot(a, b, axes=2):
    a, b = _arr(a), _arr(b)
    na, nb = _nd(a), _nd(b)
    if np.ndim(axes) == 0:
        n = int(axes)
        ca, cb = tuple(range(na - n, na)), tuple(range(n))
    else:
        ca, cb = axes
        ca = (ca,) if np.ndim(ca) == 0 else tuple(ca)
        cb = (cb,) if np.ndim(cb) == 0 else tuple(cb)
        ca = tuple(int(i) % na for i in ca)
        cb = tuple(int(i) % nb for i in cb)
    return dot_general(a, b, (ca, cb))


def kron(a, b):
    a, b = _arr(a), _arr(b)
    sa, sb = np.shape(a), np.shape(b)
    nd = builtins.max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + tuple(sa), (1,) * (nd - len(sb)) + tuple(sb)
    a, b = reshape(a, sa), reshape(b, sb)
    inter_a = reshape(a, tuple(x for s in sa for x in (s, 1)))
    inter_b = reshape(b, tuple(x for s in sb for x in (1, s)))
    return reshape(E.mul(inter_a, inter_b), tuple(x * y for x, y in zip(sa, sb, strict=True)))


# ----------------------------------------------------------------------------- einsum

def _parse(subscripts, shapes):
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        lhs, out = subscripts.split("->")
    else:
        lhs, out = subscripts, None
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"einsum: {len(ins)} operand subscripts for {len(shapes)} operands")
    if any("..." in s for s in ins + ([out] if out else [])):
        free = [c for c in string.ascii_letters if c not in subscripts]
        nell = builtins.max((len(sh) - (len(s) - 3) for s, sh in zip(ins, shapes, strict=True) if "..." in s),
                            default=0)
        ell = "".join(free[:nell])
        new_ins = []
        for s, sh in zip(ins, shapes, strict=True):
            if "..." in s:
                k = len(sh) - (len(s) - 3)
                s = s.replace("...", ell[nell - k:])
            new_ins.append(s)
        ins = new_ins
        if out is not None:
            out = out.replace("...", ell)
        else:
            out = ell + "".join(sorted(c for c in set("".join(ins)) if "".join(ins).count(c) == 1 and c not in ell))
    if out is None:
        joined = "".join(ins)
        out = "".join(sorted(c for c in set(joined) if joined.count(c) == 1))
    return ins, out


def _take_diagonals(x, s):
    """Collapse repeated letters of one operand (``ii -> i``)."""
    while True:
        dup = next((c for c in s if s.count(c) > 1), None)
        if dup is None:
            return x, s
        i = s.index(dup)
        j = s.index(dup, i + 1)
        x = diagonal(x, 0, i, j)
        s = "".join(c for k, c in enumerate(s) if k not in (i, j)) + dup


def _broadcast_labels(subscripts, ops, terms):
    """Size-1 dimensions take the size their letter has in the other operands (NumPy
    broadcasts them); sizes that differ otherwise are an error."""
    sizes = {}
    for x, s in terms:
        for c, n in zip(s, np.shape(x), strict=True):
            if n != 1:
                if sizes.setdefault(c, n) != n:
                    raise shape_error("einsum", [get_aval(o) for o in ops],
                                      f"letter {c!r} of {subscripts!r} has sizes {sizes[c]} and {n}",
                                      "give every dimension of one letter the same size (or size 1)")
    out = []
    for x, s in terms:
        shape = tuple(np.shape(x))
        full = tuple(sizes.get(c, 1) for c in s)
        out.append((S.broadcast_to(x, full) if full != shape else x, s))
    return out


def einsum(subscripts, *operands, optimize=None, precision=None):
    """Einstein summation, contracted pairwise left to right with ``dot_general``."""
    ops = [_arr(o) for o in operands]
    ins, out = _parse(subscripts, [np.shape(o) for o in ops])
    terms = []
    for x, s in zip(ops, ins, strict=True):
        if len(s) != _nd(x):
            raise shape_error("einsum", [get_aval(o) for o in ops],
                              f"subscripts {s!r} name {len(s)} dimensions of an operand of shape {np.shape(x)}",
                              "write one letter per dimension (or use '...')")
        x, s = _take_diagonals(x, s)
        terms.append((x, s))
    terms = _broadcast_labels(subscripts, ops, terms)

    def needed(exclude_idx):
        return set(out).union(*[set(s) for k, (_, s) in enumerate(terms) if k not in exclude_idx])

    # sum out letters that appear in only one operand and not in the output
    for k, (x, s) in enumerate(terms):
        keep = needed({k})
        axes = tuple(i for i, c in enumerate(s) if c not in keep)
        if axes:
            x = reduce_sum(x, axes)
            s = "".join(c for c in s if c in keep)
        terms[k] = (x, s)
    x, s = terms[0]
    for k in range(1, len(terms)):
        y, t = terms[k]
        later = set(out).union(*[set(u) for _, u in terms[k + 1:]])
        common = [c for c in s if c in t]
        batch = [c for c in common if c in later]
        contract = [c for c in common if c not in later]
        x = dot_general(x, y, (tuple(s.index(c) for c in contract), tuple(t.index(c) for c in contract)),
                        (tuple(s.index(c) for c in batch), tuple(t.index(c) for c in batch)))
        s = "".join(batch) + "".join(c for c in s if c not in common) + "".join(c for c in t if c not in common)
    extra = tuple(i for i, c in enumerate(s) if c not in out)
    if extra:
        x = reduce_sum(x, extra)
        s = "".join(c for c in s if c in out)
    x = transpose(x, tuple(s.index(c) for c in out)) if s != out else x
    want = promote_avals([get_aval(o) for o in ops])[0]
    if get_aval(x).dtype != want:  # sums of ints and bools were widened: NumPy keeps the operands' dtype
        x = E.ne(x, 0) if want == np.bool_ else E.convert_element_type(x, want)
    return x
