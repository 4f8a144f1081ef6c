"""The public functions of ``funcgrad.lax``'s control flow: ``cond``, ``switch``,
``while_loop``, ``fori_loop``, ``scan`` and ``map``.

Each stages the user's functions into closed programs (``stage_closed``), checks what
they return (one structure for every branch; a carry that keeps its structure, shapes
and dtypes, a weak scalar carry settling to the type it meets) and binds the primitive
of ``control_flow.py`` on them, whose rules every transform uses.

Called outside every transform, they run the user's functions themselves on concrete
values instead: only the taken branch of a ``cond``, a Python loop for the loops. The
types settled by staging are remembered (``eager_types.py``) and checked against each
call's first step, so a repeated call stages nothing.  Staged programs pass through
``canonical`` (``core/ir.py``): a loop body staged again under an eager ``grad`` finds
its VJP and the generated Python of its backward loop already made.
"""
import numpy as np

from .. import tree as tree_util
from ..core.avals import get_aval
from ..core.ir import IR, Var, canonical, eval_ir
from ..core.staging import stage, stage_closed
from ..core.trace import Tracer, in_transform
from ..errors import (DTypeError, ScalarShapeError, ShapeError, TreeStructureError, api_boundary,
                      user_location)
from . import eager_types
from .control_flow import _strong, cond_p, scan_p, while_p


# ============================================================================ staging and types

def _public(fun):
    """A public entry point; constants it returns inside a transform stay indexable by traced values."""
    return api_boundary(fun, tree=True)


def _fun_name(fun):
    return getattr(fun, "__name__", type(fun).__name__)


def _coerce_leaves(leaves, avals):
    """Concrete outputs converted to ``avals`` where their types differ (a weak Python
    scalar becomes a NumPy scalar), as ``_coerce`` does to a staged program's."""
    from ..primitives.elementwise import convert_p
    return [x if a.weak_type or get_aval(x) == a else convert_p.impl(x, dtype=a.dtype)
            for x, a in zip(leaves, avals, strict=True)]


def _paths(tree):
    """Printable paths of the leaves of ``tree`` (``[0]['w']``)."""
    path_leaves, _ = tree_util._jtu.tree_flatten_with_path(tree)
    return [tree_util.keystr(p) for p, _ in path_leaves]


def _stage_fun(fun, in_tree, avals, name):
    """``fun`` (taking the pytree ``in_tree`` of leaves with ``avals``) as a closed
    program: ``(ir, operands, out_tree)``; ``ir`` takes ``operands + leaves``."""
    out_tree = [None]

    def flat(*xs):
        out = fun(*tree_util.unflatten(in_tree, xs))
        leaves, out_tree[0] = tree_util.flatten(out)
        return leaves

    ir, operands = stage_closed(flat, list(avals), fun_name=name)
    return canonical(ir), operands, out_tree[0]


def _coerce(ir, avals, start=0):
    """``ir`` with outputs ``start:`` converted to ``avals`` where their types differ."""
    outs = ir.out_avals[start:start + len(avals)]
    if all(o == a for o, a in zip(outs, avals, strict=True)):
        return ir

    def program(*args):
        res = eval_ir(ir, *args)
        for k, a in enumerate(avals):
            if res[start + k] is not None and get_aval(res[start + k]) != a:
                res[start + k] = _strong(res[start + k], a)
        return res

    return stage(program, ir.in_avals)


def _join_types(what, names, avals, paths):
    """The one type per leaf of outputs that must agree (branches, carries): equal
    types, or types that differ only by a weak scalar that promotes (as in JAX)."""
    joined = []
    for k, group in enumerate(zip(*avals)):
        first = group[0]
        if any(a.shape != first.shape for a in group):
            desc = ", ".join(f"{n}: {a.str_short()}" for n, a in zip(names, group, strict=True))
            raise ShapeError(f"{what}: output leaf {paths[k]} has different shapes ({desc}) "
                             f"(at {user_location()}).\nFix: make every output leaf the same shape and dtype.")
        strong = {a.dtype for a in group if not a.weak_type}
        dtypes = {a.dtype for a in group}
        if len(dtypes) == 1:
            joined.append(first.update(weak_type=not strong))
        elif len(strong) == 1 and all(np.result_type(a.standin(), np.zeros((), *strong)) == next(iter(strong))
                                      for a in group):
            joined.append(first.update(dtype=next(iter(strong)), weak_type=False))
        else:
            desc = ", ".join(f"{n}: {a.str_short()}" for n, a in zip(names, group, strict=True))
            raise DTypeError(f"{what}: output leaf {paths[k]} has different dtypes ({desc}) "
                             f"(at {user_location()}).\nFix: cast the outputs to one dtype, e.g. "
                             "`x.astype(jnp.float32)`.")
    return joined


def _carry_type(what, in_avals, out_avals, paths):
    """The carry types after one more trace of the body: the input types, unless an
    input is a weak scalar the output promotes (then the output's type); any other
    difference is an error naming the leaf and both types."""
    new = []
    for p, a, b in zip(paths, in_avals, out_avals, strict=True):
        if a == b:
            new.append(a)
            continue
        if a.shape == b.shape and a.dtype == b.dtype:
            new.append(a.update(weak_type=a.weak_type and b.weak_type))
            continue
        if (a.shape == b.shape and a.weak_type
                and np.result_type(a.standin(), b.standin()) == b.dtype):
            new.append(b.update(weak_type=a.weak_type and b.weak_type))
            continue
        err = ShapeError if a.shape != b.shape else DTypeError
        raise err(f"{what}: the carry output's type differs from its input's at leaf {p}: input "
                  f"{a.str_short()}, output {b.str_short()} (at {user_location()}).\nFix: return a carry with "
                  "the same structure, shapes and dtypes as the initial value (cast with .astype, or "
                  "start from a value of the right dtype).")
    return new


def _stage_carry_fun(what, fun, carry_leaves, carry_tree, extra_avals, extra_tree, name, split_out, view=None):
    """Stage a loop body ``fun(carry, *extra) -> out`` whose carry part of the output
    (``split_out(out)`` gives ``(carry, rest)``) must match the carry input.
    Returns ``(ir, operands, avals, out_tree)`` with the carry types settled.

    ``view = (k, n_hidden)`` says the carry is a tuple built around the user's value,
    its element ``k``, after ``n_hidden`` leaves of loop bookkeeping (``fori_loop``'s
    index and bound): errors then speak of the user's value alone."""
    carry = tree_util.unflatten(carry_tree, carry_leaves)
    if view is None:
        paths = _paths(carry)
    else:
        paths = ["<loop index>"] * view[1] + _paths(carry[view[0]])
    avals = [get_aval(x) for x in carry_leaves]
    nc = len(avals)
    for _ in range(4):
        trees = [None]

        def flat(*xs):
            carry = tree_util.unflatten(carry_tree, xs[:nc])
            extra = tree_util.unflatten(extra_tree, xs[nc:]) if extra_tree is not None else ()
            out = fun(carry, *extra)
            carry_out, rest = split_out(out)
            c_leaves, c_tree = tree_util.flatten(carry_out)
            r_leaves, r_tree = tree_util.flatten(rest)
            user = None if view is None else tree_util.structure(carry_out[view[0]])
            trees[0] = (c_tree, r_tree, user)
            return c_leaves + r_leaves

        ir, operands = stage_closed(flat, avals + list(extra_avals), fun_name=name)
        c_tree, r_tree, user = trees[0]
        if c_tree != carry_tree:
            got, want = (c_tree, carry_tree) if view is None else (user, tree_util.structure(carry[view[0]]))
            raise TreeStructureError(
                f"{what}: the carry output has structure {got} but the carry input has {want} "
                f"(at {user_location()}).\nFix: return a carry of the same pytree structure as the initial value.")
        out_avals = ir.out_avals[:nc]
        new = _carry_type(what, avals, out_avals, paths)
        if new == avals:
            return canonical(_coerce(ir, avals)), operands, avals, r_tree
        avals = new
    raise DTypeError(f"{what}: the carry types do not settle (at {user_location()})")  # pragma: no cover


def _cast_init(leaves, avals):
    out = []
    for x, a in zip(leaves, avals, strict=True):
        b = get_aval(x)
        if b == a or (b.dtype == a.dtype and a.weak_type):
            out.append(x)
        elif a.weak_type and not isinstance(x, Tracer):
            out.append({"f": float, "i": int, "b": bool}.get(a.dtype.kind, lambda v: v)(x))
        else:
            out.append(_strong(x, a))
    return out


# ============================================================================ cond, switch

def _branch_index(index, n, what):
    """The clamped int32 branch index (a Python int when concrete)."""
    from ..primitives.elementwise import convert_element_type, maximum, minimum
    a = index.aval if isinstance(index, Tracer) else get_aval(index)
    if a.shape != () or a.dtype.kind not in "biu":
        err = ScalarShapeError if a.shape != () else DTypeError
        raise err(f"{what}: the index must be an integer (or bool) scalar, got {a.str_short()} "
                  f"(at {user_location()}).\nFix: pass an integer scalar, e.g. `(x.sum() > 0).astype(int)` "
                  "or `fnp.argmax(scores)`.")
    if not isinstance(index, Tracer):
        return min(max(int(index), 0), n - 1)
    idx = convert_element_type(index, np.int32)
    if n == 1 or (a.dtype.kind == "b" and n == 2):  # a predicate is already 0 or 1
        return idx
    return minimum(maximum(idx, np.int32(0)), np.int32(n - 1))


_MISS = object()  # an eager run whose types differ from those remembered: stage again


def _switch_eagerly(branch, operands, types, k, exact):
    """Outside every transform: the taken branch, run on the concrete operands, its
    outputs converted to the types joined over all branches."""
    out_tree, joined, branch_avals = types
    leaves, tree = tree_util.flatten(branch(*operands))
    if exact and (tree != out_tree or [get_aval(x) for x in leaves] != branch_avals[k]):
        return _MISS
    return tree_util.unflatten(out_tree, _coerce_leaves(leaves, joined))


def _switch(index, branches, operands, what, names):
    leaves, in_tree = tree_util.flatten(tuple(operands))
    key = None
    if not isinstance(index, Tracer) and _eager(leaves):  # run the taken branch's Python function
        taken = _branch_index(index, len(branches), what)
        key = (what, tuple(eager_types.fun_key(b) for b in branches), in_tree, eager_types.avals_key(leaves))
        types = eager_types.lookup(key)
        if types is not None:
            out = _switch_eagerly(branches[taken], operands, types, taken, exact=True)
            if out is not _MISS:
                return out
    avals = [get_aval(x) for x in leaves]
    staged = [_stage_fun(b, in_tree, avals, _fun_name(b)) for b in branches]
    trees = [s[2] for s in staged]
    for k in range(1, len(staged)):
        if trees[k] != trees[0]:
            raise TreeStructureError(
                f"{what}: {names[0]} and {names[k]} return different structures: {trees[0]} and {trees[k]} "
                f"(at {user_location()}).\nFix: make every branch return the same pytree structure, with leaves "
                "of the same shapes and dtypes.")
    paths = _paths(tree_util.unflatten(trees[0], [0] * len(staged[0][0].outs)))
    joined = _join_types(what, names, [s[0].out_avals for s in staged], paths)
    if key is not None:
        types = (trees[0], joined, [s[0].out_avals for s in staged])
        eager_types.store(key, types)
        return _switch_eagerly(branches[taken], operands, types, taken, exact=False)
    counts = [len(s[1]) for s in staged]
    const_avals = [[get_aval(c) for c in s[1]] for s in staged]
    irs = []
    for k, (ir, _, _) in enumerate(staged):
        ir = _coerce(ir, joined)
        before = [a for j in range(k) for a in const_avals[j]]
        after_consts = [a for j in range(k + 1, len(staged)) for a in const_avals[j]]
        # inputs: all branches' closed-over values in order, then the operands
        irs.append(canonical(IR([Var(a) for a in before] + ir.in_vars[:counts[k]] + [Var(a) for a in after_consts]
                                + ir.in_vars[counts[k]:], ir.const_vars, ir.consts, ir.eqns, ir.outs)))
    consts = [c for s in staged for c in s[1]]
    idx = _branch_index(index, len(branches), what)
    outs = cond_p.bind(idx, *consts, *leaves, branches=tuple(irs))
    return tree_util.unflatten(trees[0], outs)


@_public
def switch(index, branches, *operands):
    """Apply ``branches[index](*operands)``, with ``index`` clamped to the branches' range."""
    branches = list(branches)
    if not branches:
        raise TreeStructureError(f"switch: the list of branches is empty (at {user_location()}).\nFix: pass at "
                                 "least one branch function, e.g. `switch(i, [f, g], x)`.")
    names = [f"branch {k} ({_fun_name(b)})" for k, b in enumerate(branches)]
    return _switch(index, branches, operands, "switch", names)


@_public
def cond(pred, true_fun, false_fun, *operands):
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``; under ``jit``
    both branches are compiled and one runs; under ``vmap`` with a batched ``pred``
    both run and their outputs are selected."""
    a = pred.aval if isinstance(pred, Tracer) else get_aval(pred)
    if a.shape != ():
        raise ScalarShapeError(f"cond: pred must be a scalar, got {a.str_short()} (at {user_location()}).\n"
                              "Fix: reduce it first (e.g. `fnp.all(x > 0)`), or use funcgrad.numpy.where "
                              "for an elementwise choice.")
    if not isinstance(pred, Tracer):
        pred = bool(np.asarray(pred))
    elif a.dtype.kind != "b":
        from ..primitives.elementwise import ne
        pred = ne(pred, 0)
    names = [f"false_fun ({_fun_name(false_fun)})", f"true_fun ({_fun_name(true_fun)})"]
    return _switch(pred, [false_fun, true_fun], operands, "cond", names)


# ============================================================================ while_loop, fori_loop

@_public
def while_loop(cond_fun, body_fun, init_val):
    """``val = init_val; while cond_fun(val): val = body_fun(val); return val``.

    Works eagerly, under ``jit``, ``vmap`` and forward mode; reverse mode raises
    ``NonDifferentiableError`` (use ``fori_loop`` with concrete bounds or ``scan``)."""
    return _while_loop(cond_fun, body_fun, init_val, "while_loop body_fun")


def _is_bool_scalar(p):
    a = get_aval(p)
    return a.shape == () and a.dtype.kind == "b"


def _while_eagerly(cond_fun, body_fun, leaves, tree, avals, exact):
    """Outside every transform: the Python functions themselves in a Python loop.
    The first step's types are checked against ``avals`` (when ``exact``, a
    mismatch returns ``_MISS``; otherwise every step's carry is converted)."""
    val = tree_util.unflatten(tree, _cast_init(leaves, avals))
    p = cond_fun(val)
    if exact and not _is_bool_scalar(p):
        return _MISS
    convert = False
    first = True
    while bool(p):
        val = body_fun(val)
        if first or convert:
            first = False
            out, out_tree = tree_util.flatten(val)
            if out_tree != tree or [get_aval(x) for x in out] != avals:
                if exact:
                    return _MISS
                convert = True
                val = tree_util.unflatten(tree, _coerce_leaves(out, avals))
        p = cond_fun(val)
    return val


def _while_loop(cond_fun, body_fun, init_val, what, view=None):
    leaves, tree = tree_util.flatten(init_val)
    key = None
    if _eager(leaves):
        key = (what, eager_types.fun_key(cond_fun), eager_types.fun_key(body_fun), tree,
               eager_types.avals_key(leaves))
        avals = eager_types.lookup(key)
        if avals is not None:
            out = _while_eagerly(cond_fun, body_fun, leaves, tree, avals, exact=True)
            if out is not _MISS:
                return out
    body_ir, bconsts, avals, _ = _stage_carry_fun(
        what, lambda c: (body_fun(c), None), leaves, tree, [], None,
        _fun_name(body_fun), lambda out: out, view)
    cond_ir, cconsts, ctree = _stage_fun(cond_fun, tree_util.structure((init_val,)), avals, _fun_name(cond_fun))
    if len(cond_ir.outs) != 1 or cond_ir.out_avals[0].shape != () or cond_ir.out_avals[0].dtype.kind != "b":
        got = ", ".join(a.str_short() for a in cond_ir.out_avals) or str(ctree)
        err = DTypeError if len(cond_ir.outs) == 1 and cond_ir.out_avals[0].shape == () else ScalarShapeError
        raise err(f"while_loop: cond_fun must return a boolean scalar, got {got} "
                  f"(at {user_location()}).\nFix: return e.g. `i < n` or `fnp.all(err > tol)`.")
    if key is not None:  # no transform at all: the Python functions run directly
        eager_types.store(key, avals)
        return _while_eagerly(cond_fun, body_fun, leaves, tree, avals, exact=False)
    init = _cast_init(leaves, avals)
    outs = while_p.bind(*cconsts, *bconsts, *init, cond_ir=cond_ir, body_ir=body_ir,
                        n_cc=len(cconsts), n_bc=len(bconsts))
    return tree_util.unflatten(tree, outs)


# ============================================================================ scan, map

def _pair(out):
    if not isinstance(out, tuple) or len(out) != 2:
        raise TypeError(f"scan: the body must return a pair (carry, y), got {type(out).__name__} "
                        f"(at {user_location()}).")
    return out


def _eager(leaves):
    return not in_transform() and not any(isinstance(x, Tracer) for x in leaves)


def _scan_eagerly(f, c_leaves, c_tree, x_leaves, x_tree, types, length, reverse, exact):
    """Outside every transform: ``f`` itself in a Python loop over the slices of
    ``xs``.  The first step's types are checked against ``types`` (when ``exact``, a
    mismatch returns ``_MISS``; otherwise every step's carry is converted)."""
    avals, y_tree, y_avals = types
    carry = tree_util.unflatten(c_tree, _cast_init(c_leaves, avals))
    xs = [np.asarray(x) for x in x_leaves]
    ys = [np.empty((length,) + a.shape, a.dtype) for a in y_avals]
    one_x = len(xs) == 1 and x_tree.num_nodes == 1  # xs is one array: no pytree per step
    one_y = len(ys) == 1 and y_tree.num_nodes == 1
    check = convert = True
    for t in (range(length - 1, -1, -1) if reverse else range(length)):
        out = f(carry, xs[0][t] if one_x else tree_util.unflatten(x_tree, [x[t] for x in xs]))
        if check:
            carry, y = _pair(out)
            c_out, tree = tree_util.flatten(carry)
            y_out, ytree = tree_util.flatten(y)
            same = (tree == c_tree and ytree == y_tree and [get_aval(x) for x in c_out] == avals
                    and all(get_aval(v).shape == a.shape and get_aval(v).dtype == a.dtype
                            for v, a in zip(y_out, y_avals, strict=True)))
            if not same and exact:
                return _MISS
            check = convert = not same  # the types of step 1 are those of every step
        if convert:
            carry, y = out
            c_out, y_out = tree_util.leaves(carry), tree_util.leaves(y)
            carry = tree_util.unflatten(c_tree, _coerce_leaves(c_out, avals))
            for Y, v in zip(ys, _coerce_leaves(y_out, y_avals), strict=True):
                Y[t] = v
            continue
        carry, y = out
        if one_y:
            ys[0][t] = y
        elif ys:
            for Y, v in zip(ys, tree_util.leaves(y), strict=True):
                Y[t] = v
    return carry, tree_util.unflatten(y_tree, ys)


def _scan(f, init, xs, length, reverse, unroll, what, view=None):
    x_leaves, x_tree = tree_util.flatten(xs)
    x_avals = [get_aval(x) for x in x_leaves]
    sizes = []
    for k, a in enumerate(x_avals):
        if not a.shape:
            raise ShapeError(f"scan: xs leaf {_paths(xs)[k]} is a scalar; each leaf of xs needs a leading axis to "
                             f"scan over (at {user_location()}).")
        sizes.append(a.shape[0])
    if length is not None:
        length = int(length)
    if len(set(sizes + ([length] if length is not None else []))) > 1:
        desc = ", ".join(f"xs{p} has {s}" for p, s in zip(_paths(xs), sizes, strict=True))
        if length is not None:
            desc += f", length={length}"
        raise ShapeError(f"scan: the leaves of xs have different leading sizes ({desc}) "
                         f"(at {user_location()}).\nFix: give every leaf of xs the same length along axis 0.")
    if length is None:
        if not sizes:
            raise ValueError(f"scan: with no xs, give length= (at {user_location()}).")
        length = sizes[0]
    c_leaves, c_tree = tree_util.flatten(init)
    x_avals = [a.update(shape=a.shape[1:]) for a in x_avals]
    key = None
    if _eager(c_leaves + x_leaves):  # no transform at all: the Python function runs directly
        key = (what, eager_types.fun_key(f), c_tree, eager_types.avals_key(c_leaves), x_tree, tuple(x_avals))
        types = eager_types.lookup(key)
        if types is not None:
            out = _scan_eagerly(f, c_leaves, c_tree, x_leaves, x_tree, types, length, reverse, exact=True)
            if out is not _MISS:
                return out
    body, consts, avals, y_tree = _stage_carry_fun(
        what, f, c_leaves, c_tree, x_avals, tree_util.structure((xs,)), _fun_name(f), _pair, view)
    if key is not None:
        types = (avals, y_tree, [a.update(weak_type=False) for a in body.out_avals[len(avals):]])
        eager_types.store(key, types)
        return _scan_eagerly(f, c_leaves, c_tree, x_leaves, x_tree, types, length, reverse, exact=False)
    init_leaves = _cast_init(c_leaves, avals)
    outs = scan_p.bind(*consts, *init_leaves, *x_leaves, body=body, n_consts=len(consts), n_carry=len(avals),
                       length=length, reverse=bool(reverse), unroll=unroll)
    n = len(avals)
    return tree_util.unflatten(c_tree, outs[:n]), tree_util.unflatten(y_tree, outs[n:])


@_public
def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs``; returns the final
    carry and the stacked ``y`` (as ``jax.lax.scan``)."""
    return _scan(f, init, xs, length, reverse, unroll, "scan body")


@_public
def map(f, xs):  # noqa: A001  (mirrors jax.lax.map)
    """``f`` applied to each slice of ``xs`` along axis 0, stacked: a ``scan`` with no carry."""
    return scan(lambda c, x: (c, f(x)), (), xs)[1]


@_public
def fori_loop(lower, upper, body_fun, init_val):
    """``val = init_val; for i in range(lower, upper): val = body_fun(i, val)``.

    With concrete bounds it is a ``scan`` (reverse-differentiable); with traced bounds a
    ``while_loop``."""
    if not isinstance(lower, Tracer) and not isinstance(upper, Tracer):
        if type(lower) is int and type(upper) is int:
            lo, n = lower, upper - lower
        else:
            dt = np.result_type(np.asarray(lower), np.asarray(upper))
            lo, n = np.asarray(lower, dt), int(upper) - int(lower)

        def step(carry, _):
            i, x = carry
            return (i + 1, body_fun(i, x)), None

        (_, out), _ = _scan(step, (lo, init_val), None, max(n, 0), False, 1,
                            "fori_loop body_fun", view=(1, 1))
        return out
    from ..primitives.elementwise import lt

    def body(c):
        i, hi, x = c
        return i + 1, hi, body_fun(i, x)

    return _while_loop(lambda c: lt(c[0], c[1]), body, (lower, upper, init_val),
                       "fori_loop body_fun", (2, 2))[2]


__all__ = ["cond", "switch", "while_loop", "fori_loop", "scan", "map"]
