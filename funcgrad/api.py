"""The public transforms: thin wrappers that flatten pytrees, pick arguments,
check inputs and outputs, and call the transform modules."""
import functools

import numpy as np

from . import tree as tree_util
from .core.avals import ShapedArray, get_aval
from .core.ir import eval_ir as _eval_ir
from .core.staging import stage
from .core.trace import Tracer
from .errors import (ArgumentError, DTypeError, NonDifferentiableError, ShapeError, TreeStructureError, api_boundary,
                     check_callable, tree_boundary, user_location)
from .transforms.jvp import jvp_flat
from .transforms.reverse import vjp_flat


def _fun_name(fun):
    return getattr(fun, "__name__", type(fun).__name__)


def _zeros_like(x):
    return np.zeros(np.shape(x), get_aval(x).dtype)


def _check_float_leaves(transform, fun, tree, argname):
    """NonDifferentiableError naming the first integer/bool leaf and its path."""
    for leaf in tree_util.leaves(tree):
        if type(leaf) is not np.ndarray or leaf.dtype.kind != "f":
            break
    else:
        return  # float NumPy arrays only (the common case): nothing to report
    for path, leaf in tree_util._jtu.tree_flatten_with_path(tree)[0]:
        if not (hasattr(leaf, "shape") or isinstance(leaf, (int, float, bool, complex))):
            raise NonDifferentiableError(
                f"{transform} of {_fun_name(fun)}: {argname}{tree_util._jtu.keystr(path)} is a "
                f"{type(leaf).__name__} ({leaf!r:.60}), not an array, so it has no derivative (at {user_location()})."
                "\nFix: register its class as a pytree (funcgrad.tree.register_node) so its array fields become "
                "leaves, or leave this argument out of argnums (close over it, or pass it as another argument).")
        aval = get_aval(leaf)
        if aval.dtype.kind != "f":
            raise NonDifferentiableError(
                f"{transform} of {_fun_name(fun)}: {argname}{tree_util._jtu.keystr(path)} has dtype "
                f"{aval.dtype} ({aval.str_short()}); only floating-point inputs can be differentiated "
                f"(at {user_location()}).\nFix: pass a float array (x.astype(float32) / 1.0 instead of 1), or "
                "leave this argument out of argnums.")


def _is_index(a):
    return isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_))


def _check_argnums(transform, argnums):
    """:class:`ArgumentError` unless ``argnums`` is an int or a non-empty tuple/list of ints."""
    if _is_index(argnums) or (isinstance(argnums, (tuple, list)) and argnums and all(map(_is_index, argnums))):
        return
    raise ArgumentError(
        f"{transform}: argnums must be an int or a tuple of ints (positions of positional arguments), got "
        f"{type(argnums).__name__} {argnums!r:.60} (at {user_location()}).\nFix: pass positions, e.g. "
        f"{transform}(f, argnums=0) or {transform}(f, argnums=(0, 1)); to differentiate with respect to a "
        "keyword argument, pass it positionally.")


def _argnums_tuple(transform, argnums, nargs):
    _check_argnums(transform, argnums)
    nums = (int(argnums),) if _is_index(argnums) else tuple(int(a) for a in argnums)
    for a in nums:
        if not -nargs <= a < nargs:
            raise ArgumentError(f"{transform}: argnums {argnums!r} is out of range for a function called with "
                                f"{nargs} positional argument(s) (at {user_location()}).\n"
                                f"Fix: use argnums in range({nargs}), or pass the argument positionally.")
    return tuple(a % nargs for a in nums)


def _finished_aux(aux):
    """``aux`` as values of the enclosing level: tracers of the transform that just
    finished (``has_aux`` outputs are not differentiated) are replaced by their primals."""
    from .transforms.jvp import JVPTracer
    from .transforms.reverse import ReverseTracer

    def lower(x):
        while isinstance(x, (JVPTracer, ReverseTracer)) and x._trace.dead:
            x = x.primal
        return x
    return tree_util.map(lower, aux)


def _looks_like_value_and_aux(out_tree, outs):
    """Whether a function's output is a pair whose first part is one scalar: ``(loss, aux)``."""
    if out_tree is None:
        return False
    shaped = tree_util.unflatten(out_tree, range(len(outs)))
    return (isinstance(shaped, (tuple, list)) and len(shaped) == 2 and isinstance(shaped[0], int)
            and get_aval(outs[shaped[0]]).shape == ())


def _flat_fun(fun, args, kwargs, argnums, in_tree, has_aux, aux_box, out_box):
    """A flat-to-flat version of ``fun`` differentiated in ``args[argnums]``."""
    def flat(*leaves):
        diff = tree_util.unflatten(in_tree, leaves)
        full = list(args)
        for i, d in zip(argnums, diff, strict=True):
            full[i] = d
        out = fun(*full, **kwargs)
        if has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise TypeError(f"{_fun_name(fun)} was transformed with has_aux=True, so it must return a "
                                f"pair (output, aux); it returned {type(out).__name__}")
            out, aux_box[0] = out
        out_leaves, out_box[0] = tree_util.flatten(out)
        return out_leaves
    return flat


# ----------------------------------------------------------------------------- vjp / grad

@tree_boundary
def vjp(fun, *primals, has_aux=False):
    """``(out, vjp_fn)`` (and ``aux``): ``vjp_fn(cotangent)`` returns a tuple of one
    cotangent per primal, each shaped and typed like it."""
    check_callable("vjp", fun)
    leaves, in_tree = tree_util.flatten(primals)
    _check_float_leaves("vjp", fun, primals, "primals")
    aux, out_tree = [None], [None]
    flat = _flat_fun(fun, primals, {}, tuple(range(len(primals))), in_tree, has_aux, aux, out_tree)
    outs, back = vjp_flat(flat, leaves, origin=f"vjp of {_fun_name(fun)}")
    out = tree_util.unflatten(out_tree[0], outs)

    @tree_boundary
    def vjp_fn(ct):
        ct_leaves, ct_tree = tree_util.flatten(ct)
        if ct_tree != out_tree[0]:
            raise TreeStructureError(
                f"vjp_fn of {_fun_name(fun)}: the cotangent's structure {ct_tree} does not match the "
                f"output's {out_tree[0]} (at {user_location()}).\nFix: pass a cotangent shaped like the output.")
        for c, o in zip(ct_leaves, outs, strict=True):
            ca, oa = get_aval(c), get_aval(o)
            if ca.shape != oa.shape:
                raise ShapeError(f"vjp_fn of {_fun_name(fun)}: cotangent of shape {ca.shape} for an output of "
                                 f"shape {oa.shape} (at {user_location()}).\nFix: pass a cotangent of the "
                                 "output's shape.")
            if ca.dtype != oa.dtype and not ca.weak_type:
                raise DTypeError(f"vjp_fn of {_fun_name(fun)}: cotangent of dtype {ca.dtype} for an output of "
                                 f"dtype {oa.dtype} (at {user_location()}).\nFix: pass a cotangent of the "
                                 f"output's dtype (ct.astype({oa.dtype.name})).")
        cts = back(list(ct_leaves))
        cts = [_fix_ct(c, p) for c, p in zip(cts, leaves, strict=True)]
        return tuple(tree_util.unflatten(in_tree, cts))

    return (out, vjp_fn, _finished_aux(aux[0])) if has_aux else (out, vjp_fn)


def _fix_ct(ct, primal):
    """Zeros for symbolic-zero cotangents; the primal's dtype and shape always."""
    if type(ct) is np.ndarray and type(primal) is np.ndarray and ct.dtype == primal.dtype \
            and ct.shape == primal.shape:
        return ct
    aval = get_aval(primal)
    if ct is None:
        return np.zeros(aval.shape, aval.dtype)
    from .primitives.elementwise import convert_element_type
    from .primitives.shape import broadcast_to
    if get_aval(ct).dtype != aval.dtype:
        ct = convert_element_type(ct, aval.dtype)
    if np.shape(ct) != aval.shape:
        ct = broadcast_to(ct, aval.shape)
    return ct


@api_boundary
def value_and_grad(fun, argnums=0, has_aux=False):
    """``fun``'s value and its gradient in ``args[argnums]`` (``((value, aux), grads)`` with has_aux)."""
    check_callable("value_and_grad", fun)
    _check_argnums("value_and_grad", argnums)
    return _value_and_grad(fun, argnums, has_aux, "value_and_grad")


def _value_and_grad(fun, argnums, has_aux, transform):
    @functools.wraps(fun)
    @tree_boundary
    def value_and_grad_fun(*args, **kwargs):
        nums = _argnums_tuple(transform, argnums, len(args))
        diff = tuple(args[i] for i in nums)
        for i in nums:
            _check_float_leaves("grad", fun, args[i], f"argument {i}")
        leaves, in_tree = tree_util.flatten(diff)
        aux, out_tree = [None], [None]
        flat = _flat_fun(fun, args, kwargs, nums, in_tree, has_aux, aux, out_tree)
        outs, back = vjp_flat(flat, leaves, origin=f"grad of {_fun_name(fun)}")
        if len(outs) != 1 or get_aval(outs[0]).shape != ():
            shapes = [get_aval(o).shape for o in outs]
            fix = ("reduce the output to a scalar (e.g. .sum() or .mean()), or use funcgrad.jacrev / funcgrad.vjp "
                   "for non-scalar outputs.")
            if not has_aux and _looks_like_value_and_aux(out_tree[0], outs):
                fix = ("the function returns a pair (scalar, more); if that is (loss, auxiliary data), pass "
                       "has_aux=True: grad(f, has_aux=True)(...) returns (gradient, aux). Otherwise " + fix)
            raise NonDifferentiableError(
                f"grad of {_fun_name(fun)}: the output must be a scalar, got shape(s) {shapes} "
                f"(at {user_location()}).\nFix: {fix}")
        out = outs[0]
        oa = get_aval(out)
        if oa.dtype.kind != "f":
            raise NonDifferentiableError(
                f"grad of {_fun_name(fun)}: the output has dtype {oa.dtype}; grad needs a real floating-point "
                f"scalar (at {user_location()}).\nFix: return a float value (x.astype(float32)), or use "
                "funcgrad.vjp / funcgrad.jacrev.")
        cts = back([np.ones((), oa.dtype)], free=True)  # the only call: free the tape as it goes
        cts = [_fix_ct(c, p) for c, p in zip(cts, leaves, strict=True)]
        grads = tree_util.unflatten(in_tree, cts)
        g = grads[0] if _is_index(argnums) else tuple(grads)
        value = tree_util.unflatten(out_tree[0], outs)
        return ((value, _finished_aux(aux[0])), g) if has_aux else (value, g)

    return value_and_grad_fun


@api_boundary
def grad(fun, argnums=0, has_aux=False):
    """The gradient of scalar-valued ``fun`` in ``args[argnums]``, shaped like those arguments."""
    check_callable("grad", fun)
    _check_argnums("grad", argnums)
    vg = _value_and_grad(fun, argnums, has_aux, "grad")

    @functools.wraps(fun)
    @tree_boundary
    def grad_fun(*args, **kwargs):
        out, g = vg(*args, **kwargs)
        return (g, out[1]) if has_aux else g

    return grad_fun


# ----------------------------------------------------------------------------- jvp / linearize

def _check_tangents(fun, primals, tangents):
    p_leaves, p_tree = tree_util.flatten(primals)
    t_leaves, t_tree = tree_util.flatten(tangents)
    if p_tree != t_tree:
        raise TreeStructureError(f"jvp of {_fun_name(fun)}: primals {p_tree} and tangents {t_tree} have different "
                                 f"structures (at {user_location()}).\nFix: pass tangents shaped like the primals.")
    out = []
    for p, t in zip(p_leaves, t_leaves, strict=True):
        pa, ta = get_aval(p), get_aval(t)
        if pa.shape != ta.shape:
            raise ShapeError(f"jvp of {_fun_name(fun)}: tangent of shape {ta.shape} for a primal of shape "
                             f"{pa.shape} (at {user_location()}).\nFix: pass tangents of the primals' shapes.")
        if ta.dtype != pa.dtype and not ta.weak_type and not pa.weak_type:
            raise DTypeError(f"jvp of {_fun_name(fun)}: tangent of dtype {ta.dtype} for a primal of dtype "
                             f"{pa.dtype} (at {user_location()}).\nFix: pass tangents of the primals' dtypes.")
        out.append(t)
    return p_leaves, p_tree, out


@tree_boundary
def jvp(fun, primals, tangents):
    """Forward mode: ``(fun(*primals), J @ tangents)``."""
    check_callable("jvp", fun)
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples or lists (one entry per argument), "
                        f"got {type(primals).__name__} and {type(tangents).__name__}")
    _check_float_leaves("jvp", fun, tuple(primals), "primals")
    p_leaves, p_tree, t_leaves = _check_tangents(fun, tuple(primals), tuple(tangents))
    out_tree = [None]
    flat = _flat_fun(fun, tuple(primals), {}, tuple(range(len(primals))), p_tree, False, [None], out_tree)
    outs, touts = jvp_flat(flat, p_leaves, t_leaves, origin=f"jvp of {_fun_name(fun)}")
    touts = [_fix_ct(t, o) for t, o in zip(touts, outs, strict=True)]
    return tree_util.unflatten(out_tree[0], outs), tree_util.unflatten(out_tree[0], touts)


@tree_boundary
def linearize(fun, *primals):
    """``(fun(*primals), jvp_fn)``: the forward pass runs once; ``jvp_fn(*tangents)``
    replays only the recorded linear (tangent) program."""
    check_callable("linearize", fun)
    _check_float_leaves("linearize", fun, primals, "primals")
    p_leaves, p_tree = tree_util.flatten(primals)
    out_tree, primal_out = [None], [None]
    flat = _flat_fun(fun, primals, {}, tuple(range(len(primals))), p_tree, False, [None], out_tree)

    def tangent_program(*t_leaves):
        outs, touts = jvp_flat(flat, p_leaves, list(t_leaves), origin=f"linearize of {_fun_name(fun)}")
        primal_out[0] = outs
        return [_fix_ct(t, o) for t, o in zip(touts, outs, strict=True)]

    ir = stage(tangent_program, [get_aval(p).update(weak_type=False) for p in p_leaves],
               fun_name=_fun_name(fun))

    @tree_boundary
    def jvp_fn(*tangents):
        _, _, t_leaves = _check_tangents(fun, primals, tangents)
        return tree_util.unflatten(out_tree[0], _eval_ir(ir, *t_leaves))

    jvp_fn.ir = ir
    outs = primal_out[0]
    if any(isinstance(o, Tracer) for o in outs):
        # a primitive holding a sub-program (cond, scan, while, checkpoint, custom_jvp) binds
        # its primal and tangent parts as one equation, staged with the tangents: its primal
        # results are staging tracers, dead outside ``stage``.  Compute them concretely.
        outs = flat(*p_leaves)
    return tree_util.unflatten(out_tree[0], outs), jvp_fn


# ----------------------------------------------------------------------------- jacobians

def _batched(x, d, size):
    """A vmap output with its batch dimension first (broadcast when it had none)."""
    from .transforms.batching import move_to_front
    return move_to_front(x, d, size)


@api_boundary
def jacfwd(fun, argnums=0, has_aux=False):
    """The Jacobian by forward mode: the JVP of every input basis vector, vectorised
    with ``vmap`` into one pass.

    The result is a pytree shaped like the output whose leaves are pytrees shaped like
    the chosen arguments; each block has shape ``out.shape + in.shape``.
    """
    check_callable("jacfwd", fun)
    _check_argnums("jacfwd", argnums)
    @functools.wraps(fun)
    @tree_boundary
    def jac_fun(*args, **kwargs):
        from . import numpy as fnp
        from .transforms.batching import vmap_flat
        nums = _argnums_tuple("jacfwd", argnums, len(args))
        diff = tuple(args[i] for i in nums)
        _check_float_leaves("jacfwd", fun, diff, "argument")
        leaves, in_tree = tree_util.flatten(diff)
        aux, out_tree = [None], [None]
        flat = _flat_fun(fun, args, kwargs, nums, in_tree, has_aux, aux, out_tree)
        sizes = [int(np.prod(np.shape(x))) for x in leaves]
        starts = np.cumsum([0] + sizes).tolist()
        n = starts[-1]
        eye = np.eye(n)
        basis = [eye[:, starts[i]:starts[i + 1]].reshape((n,) + np.shape(x)).astype(get_aval(x).dtype)
                 for i, x in enumerate(leaves)]
        outs_box = []

        def tangents_out(*ts):
            outs, touts = jvp_flat(flat, leaves, list(ts))
            outs_box[:] = outs
            return [_fix_ct(t, o) for t, o in zip(touts, outs, strict=True)]

        if n:
            cols, dims = vmap_flat(tangents_out, basis, [0] * len(basis), n)
            cols = [_batched(c, d, n) for c, d in zip(cols, dims, strict=True)]
            outs = outs_box
        else:
            outs = flat(*leaves)
        blocks = []
        for oi, o in enumerate(outs):
            oshape = tuple(np.shape(o))
            per_in = []
            for li, leaf in enumerate(leaves):
                if sizes[li]:
                    part = cols[oi][starts[li]:starts[li + 1]]          # (size, *oshape)
                    part = fnp.moveaxis(part, 0, -1) if oshape else part
                    per_in.append(fnp.reshape(part, oshape + tuple(np.shape(leaf))))
                else:
                    per_in.append(np.zeros(oshape + np.shape(leaf), get_aval(o).dtype))
            inner = tree_util.unflatten(in_tree, per_in)
            blocks.append(inner[0] if _is_index(argnums) else inner)
        jac = tree_util.unflatten(out_tree[0], blocks)
        return (jac, _finished_aux(aux[0])) if has_aux else jac

    return jac_fun


@api_boundary
def jacrev(fun, argnums=0, has_aux=False):
    """The Jacobian by reverse mode: one forward pass, then the VJP of every output basis
    vector, vectorised with ``vmap`` into one backward pass per output."""
    check_callable("jacrev", fun)
    _check_argnums("jacrev", argnums)
    @functools.wraps(fun)
    @tree_boundary
    def jac_fun(*args, **kwargs):
        from . import numpy as fnp
        from .transforms.batching import vmap_flat
        nums = _argnums_tuple("jacrev", argnums, len(args))
        diff = tuple(args[i] for i in nums)
        _check_float_leaves("jacrev", fun, diff, "argument")
        leaves, in_tree = tree_util.flatten(diff)
        aux, out_tree = [None], [None]
        flat = _flat_fun(fun, args, kwargs, nums, in_tree, has_aux, aux, out_tree)
        outs, back = vjp_flat(flat, leaves, origin=f"jacrev of {_fun_name(fun)}")
        blocks = []
        for oi, o in enumerate(outs):
            oa = get_aval(o)
            m = oa.size

            def row(e, oi=oi):
                cts = [None] * len(outs)
                cts[oi] = e
                return [_fix_ct(c, p) for c, p in zip(back(cts), leaves, strict=True)]

            per_in = []
            if m:
                basis = np.eye(m, dtype=oa.dtype).reshape((m,) + oa.shape)
                rows, dims = vmap_flat(row, [basis], [0], m)
                for r, d, leaf in zip(rows, dims, leaves, strict=True):
                    per_in.append(fnp.reshape(_batched(r, d, m), oa.shape + tuple(np.shape(leaf))))
            else:
                per_in = [np.zeros(oa.shape + np.shape(leaf), get_aval(leaf).dtype) for leaf in leaves]
            inner = tree_util.unflatten(in_tree, per_in)
            blocks.append(inner[0] if _is_index(argnums) else inner)
        jac = tree_util.unflatten(out_tree[0], blocks)
        return (jac, _finished_aux(aux[0])) if has_aux else jac

    return jac_fun


@api_boundary
def hessian(fun, argnums=0):
    """Second derivatives: ``jacfwd(jacrev(fun))``."""
    check_callable("hessian", fun)
    _check_argnums("hessian", argnums)
    hess = jacfwd(jacrev(fun, argnums), argnums)

    @functools.wraps(fun)
    @tree_boundary
    def hessian_fun(*args, **kwargs):
        _argnums_tuple("hessian", argnums, len(args))
        return hess(*args, **kwargs)

    return hessian_fun


# ----------------------------------------------------------------------------- IR

def _static_split(args, static_argnums):
    # Indices beyond the positional arguments given (a static argument passed by keyword)
    # are ignored, as jax.jit does; negative ones count from the end.
    n = len(args)
    nums = tuple(a % n for a in ((static_argnums,) if isinstance(static_argnums, int) else static_argnums)
                 if -n <= a < n)
    dyn = tuple(a for i, a in enumerate(args) if i not in nums)
    return nums, dyn


def _rebuild(args, nums, dyn):
    it = iter(dyn)
    return [args[i] if i in nums else next(it) for i in range(len(args))]


def make_ir(fun, static_argnums=()):
    """``make_ir(fun)(*args)``: the IR of ``fun`` traced at the args' shapes and dtypes.

    Works on any function, transformed ones included: ``make_ir(grad(loss))(params)``
    shows the forward and backward equations.  ``str(ir)`` is readable text.
    """
    check_callable("make_ir", fun)
    @functools.wraps(fun)
    @api_boundary
    def make_ir_fun(*args, **kwargs):
        nums, dyn = _static_split(args, static_argnums)
        leaves, in_tree = tree_util.flatten((dyn, kwargs))
        out_tree = [None]

        def flat(*xs):
            d, kw = tree_util.unflatten(in_tree, xs)
            out = fun(*_rebuild(args, nums, d), **kw)
            out_leaves, out_tree[0] = tree_util.flatten(out)
            return out_leaves

        ir = stage(flat, [get_aval(x) for x in leaves], fun_name=_fun_name(fun),
                   origin=f"make_ir of {_fun_name(fun)}")
        ir.in_tree, ir.out_tree = in_tree, out_tree[0]
        return ir

    return make_ir_fun


@api_boundary
def eval_ir(ir, *args):
    """Run an IR on flat array arguments; returns its flat outputs (a list)."""
    return _eval_ir(ir, *args)


@api_boundary
def eval_shape(fun, *args, **kwargs):
    """The output's shapes and dtypes (``ShapedArray`` leaves), computing nothing."""
    ir = make_ir(fun)(*args, **kwargs)
    return tree_util.unflatten(ir.out_tree, [ShapedArray(a.shape, a.dtype) for a in ir.out_avals])


@tree_boundary
def stop_gradient(x):
    """The value of ``x`` (a pytree) with no derivative flowing through it."""
    from .primitives.misc import stop_gradient as sg
    return tree_util.map(lambda leaf: sg(leaf) if get_aval(leaf).dtype.kind == "f" else leaf, x)


def debug_print(fmt, *args, **kwargs):
    """Print values with ``fmt.format(*args, **kwargs)`` eagerly, and from inside
    ``jit`` (lowered to ``jax.debug.print``), ``grad`` and ``jvp`` (the primal values)."""
    from .primitives.misc import debug_print_p
    names = tuple(kwargs)
    vals = list(args) + [kwargs[k] for k in names]
    debug_print_p.bind(*vals, fmt=fmt, names=names)



# ----------------------------------------------------------------------------- vmap

def _broadcast_prefix(what, prefix, tree):
    """One spec per leaf of ``tree``, from ``prefix``: an int/None, or a pytree prefix of ``tree``."""
    out = []

    def visit(spec, sub):
        n = len(tree_util.leaves(sub))
        out.extend([spec] * n)

    try:
        tree_util._jtu.tree_map(visit, prefix, tree, is_leaf=lambda x: x is None)
    except (ValueError, TypeError) as e:
        raise TreeStructureError(f"vmap: {what} {prefix!r} is not a pytree prefix of the arguments "
                                 f"({e}) (at {user_location()}).\nFix: give an int, None, or a pytree with the "
                                 "arguments' structure down to where one axis applies to a whole subtree.") from None
    return out


def vmap(fun, in_axes=0, out_axes=0, axis_size=None):
    """Vectorise ``fun`` over an axis of its arguments: ``vmap(f)(xs)[i] == f(xs[i])``.

    ``in_axes``/``out_axes``: an int, None (not mapped), or a pytree prefix of the
    arguments / outputs.  Every primitive batches (those without a vectorised rule by
    a loop over the batch).
    """
    check_callable("vmap", fun)
    @functools.wraps(fun)
    @tree_boundary
    def vmapped(*args, **kwargs):
        from .primitives.shape import broadcast_to
        from .transforms.batching import move_to_front, vmap_flat
        axes = in_axes
        if isinstance(axes, list):
            axes = tuple(axes)
        if isinstance(axes, tuple) and not hasattr(axes, "_fields") and len(axes) != len(args):
            raise TreeStructureError(f"vmap of {_fun_name(fun)}: in_axes has {len(axes)} entries for {len(args)} "
                             f"positional arguments (at {user_location()}).\nFix: one entry per argument.")
        # Keyword arguments are always mapped over their leading axis (as in JAX).
        leaves, in_tree = tree_util.flatten((args, kwargs))
        specs = _broadcast_prefix("in_axes", axes if isinstance(axes, tuple) else (axes,) * len(args), args)
        specs += [0] * (len(leaves) - len(specs))
        dims, sizes = [], {}
        from .numpy._array import Array
        # unmapped NumPy arrays become funcgrad arrays, so that a batched index can index them
        leaves = [x.view(Array) if type(x) is np.ndarray and d is None else x
                  for x, d in zip(leaves, specs, strict=True)]
        for i, (x, d) in enumerate(zip(leaves, specs, strict=True)):
            if d is None:
                dims.append(None)
                continue
            if not (hasattr(x, "shape") or isinstance(x, (int, float, bool, complex))):
                path = tree_util._jtu.tree_flatten_with_path((args, kwargs))[0][i][0]
                head = f"argument {path[1].idx}" if path[0].idx == 0 else f"keyword argument {path[1].key!r}"
                where = head + (tree_util._jtu.keystr(path[2:]) if len(path) > 2 else "")
                raise TreeStructureError(
                    f"vmap of {_fun_name(fun)}: {where} is a {type(x).__name__} ({x!r:.60}), not an "
                    f"array, and in_axes maps it (at {user_location()}).\nFix: give it in_axes None (or close over "
                    "it), or register its class as a pytree (funcgrad.tree.register_node) so its arrays are leaves.")
            nd = len(np.shape(x))
            if not isinstance(d, int) or not -nd <= d < max(nd, 1) or nd == 0:
                raise ShapeError(f"vmap of {_fun_name(fun)}: in_axes {d} for an argument of shape {np.shape(x)} "
                                 f"(at {user_location()}).\nFix: map over an existing axis, or pass None.")
            d %= nd
            dims.append(d)
            sizes.setdefault(np.shape(x)[d], []).append(np.shape(x))
        if len(sizes) > 1:
            raise ShapeError(f"vmap of {_fun_name(fun)}: the mapped axes have different sizes "
                             f"{sorted(sizes)} (shapes {[s for v in sizes.values() for s in v]}) "
                             f"(at {user_location()}).\nFix: give every mapped argument the same size along "
                             "its in_axes.")
        size = next(iter(sizes)) if sizes else axis_size
        if size is None:
            raise ShapeError(f"vmap of {_fun_name(fun)}: no argument is mapped, so the batch size is unknown "
                             f"(at {user_location()}).\nFix: map at least one argument, or pass axis_size.")
        if axis_size is not None and size != axis_size:
            raise ShapeError(f"vmap of {_fun_name(fun)}: axis_size={axis_size} but the mapped axes have size "
                             f"{size} (at {user_location()}).")
        out_tree = [None]

        def flat(*xs):
            a, kw = tree_util.unflatten(in_tree, xs)
            out = fun(*a, **kw)
            out_leaves, out_tree[0] = tree_util.flatten(out)
            return out_leaves

        outs, out_dims = vmap_flat(flat, leaves, dims, size, fun_name=_fun_name(fun),
                                   origin=f"vmap of {_fun_name(fun)}")
        out = tree_util.unflatten(out_tree[0], list(range(len(outs))))
        ospecs = _broadcast_prefix("out_axes", out_axes, out)
        result = []
        for o, d, spec in zip(outs, out_dims, ospecs, strict=True):
            if spec is None:
                if d is not None:
                    raise ShapeError(f"vmap of {_fun_name(fun)}: out_axes=None for an output that depends on "
                                     f"the mapped axis (at {user_location()}).\nFix: map that output.")
                result.append(o)
                continue
            o = move_to_front(o, d, size) if d is not None else broadcast_to(o, (size,) + tuple(np.shape(o)))
            nd = len(np.shape(o))
            spec %= nd
            if spec:
                from .primitives.shape import transpose
                perm = list(range(1, nd))
                perm.insert(spec, 0)
                o = transpose(o, tuple(perm))
            result.append(o)
        return tree_util.unflatten(out_tree[0], result)

    return vmapped
