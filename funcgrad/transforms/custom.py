"""User-defined derivatives (``custom_jvp``, ``custom_vjp``) and ``checkpoint``, as
primitives that hold a sub-program.

Called on values of a transform, each traces the user's function into a closed
program and binds one primitive on it, so every transform meets it through a rule
of its own -- none is skipped:

=================== ===========================================================
``custom_jvp_call`` forward mode runs the user's JVP rule; reverse mode the VJP of
                    its tangent map (a linear map's VJP is its transpose); vmap
                    batches the function and the rule
``custom_vjp_call`` reverse mode runs the user's ``fwd`` and ``bwd``; vmap batches
                    them; forward mode is an error (as in JAX)
``remat``           reverse mode keeps only the inputs and recomputes the forward
                    pass inside the backward one
=================== ===========================================================

Eagerly and under ``jit`` (after the derivatives are taken) each runs its
function's program; the printed IR shows the program nested.  Called with no traced
value, each simply calls the function.
"""
import functools

from .. import tree as tree_util
from ..core.avals import get_aval
from ..core.primitive import Primitive
from ..core.staging import stage_closed
from ..core.trace import find_top_trace, in_transform
from ..errors import NonDifferentiableError, tree_boundary, user_location
from . import subprograms as sp
from .batching import vmap_ir
from .reverse import vjp_flat


def _fun_name(fun):
    return getattr(fun, "__name__", type(fun).__name__)


def _trace_call(fun, args, kwargs=None):
    """``(ir, operands, leaves, out_tree)``: ``fun(*args)`` traced into a closed program
    over the flat leaves of ``args``."""
    leaves, in_tree = tree_util.flatten(args)
    out_tree = [None]

    def flat(*xs):
        out = fun(*tree_util.unflatten(in_tree, xs), **(kwargs or {}))
        out_leaves, out_tree[0] = tree_util.flatten(out)
        return out_leaves

    ir, operands = stage_closed(flat, [get_aval(x) for x in leaves], fun_name=_fun_name(fun))
    return ir, operands, leaves, in_tree, out_tree[0]


def _has_tracer(leaves):
    """Whether to bind the primitive: an argument is traced, or a transform is active
    whose values the function may close over (the closure becomes explicit operands)."""
    return in_transform() or find_top_trace(leaves) is not None


def _closure_error(kind, name):
    return NonDifferentiableError(
        f"{kind} function {name} closes over a value that is being differentiated (at {user_location()}).\n"
        f"Its rule only says how to differentiate with respect to its arguments.\nFix: pass that value "
        f"to {name} as an argument.")


# ----------------------------------------------------------------------------- custom_jvp_call

custom_jvp_call_p = Primitive("custom_jvp_call", multiple_results=True)
custom_jvp_call_p.impl = sp.sub_impl
custom_jvp_call_p.shape = sp.sub_shape("custom_jvp_call")
custom_jvp_call_p.lower = sp.sub_lower


def _cjvp_jvp(primals, tangents, *, ir, jvp, n_consts, name):
    if any(t is not None for t in tangents[:n_consts]):
        raise _closure_error("custom_jvp", name)
    explicit = list(primals[n_consts:])
    ts = sp.instantiate(tangents[n_consts:], ir.in_avals[n_consts:])
    outs, touts = jvp(explicit, ts)
    return list(outs), list(touts)


def _cjvp_vjp_fwd(*inputs, ir, jvp, n_consts, name):
    """The primal outputs as the user's rule computes them (so that a derivative of
    higher order differentiates the rule, as forward mode does); the residuals are the
    inputs."""
    explicit = list(inputs[n_consts:])
    outs, _ = jvp(explicit, [sp.zeros_like_aval(a) for a in ir.in_avals[n_consts:]])
    return list(outs), list(inputs)


def _cjvp_vjp_bwd(needed, residuals, g, *, ir, jvp, n_consts, name):
    """The transpose of the user's (linear) tangent map at the residual primals."""
    if any(needed[:n_consts]):
        raise _closure_error("custom_jvp", name)
    explicit = list(residuals[n_consts:])
    avals = ir.in_avals[n_consts:]
    want = needed[n_consts:]

    def tangent_map(*ts):
        it = iter(ts)
        full = [next(it) if w else sp.zeros_like_aval(a) for w, a in zip(want, avals, strict=True)]
        return jvp(explicit, full)[1]

    _, back = vjp_flat(tangent_map, [sp.zeros_like_aval(a) for w, a in zip(want, avals, strict=True) if w])
    cts = iter(back(list(g), free=True))
    return [None] * n_consts + [next(cts) if w else None for w in want]


def _cjvp_batch(size, vals, dims, *, ir, jvp, n_consts, name):
    vals, dims = sp.fronted(vals, dims, size)
    bir, _ = vmap_ir(ir, dims, size, batch_all=True)
    edims = dims[n_consts:]

    def batched_jvp(primals, tangents):
        both = sp.batched_function(lambda *xs: _split_call(jvp, xs), edims + edims, size)
        outs = both(*primals, *tangents)
        return outs[:len(outs) // 2], outs[len(outs) // 2:]

    batched_jvp.__name__ = f"vmap({getattr(jvp, '__name__', 'jvp')})"
    outs = custom_jvp_call_p.bind(*vals, ir=bir, jvp=batched_jvp, n_consts=n_consts, name=name)
    return outs, [0] * len(outs)


def _split_call(jvp, xs):
    n = len(xs) // 2
    outs, touts = jvp(list(xs[:n]), list(xs[n:]))
    return list(outs) + list(touts)


custom_jvp_call_p.jvp = _cjvp_jvp
custom_jvp_call_p.vjp_fwd = _cjvp_vjp_fwd
custom_jvp_call_p.vjp_bwd = _cjvp_vjp_bwd
custom_jvp_call_p.batch = _cjvp_batch


class custom_jvp:
    """A function with a user-defined JVP rule: ``f.defjvp(rule)``.

    ``rule(primals, tangents) -> (primal_out, tangent_out)``; with
    ``nondiff_argnums`` the rule is called as ``rule(*nondiff_args, primals, tangents)``.
    The rule must be linear in the tangents; reverse mode uses it through its transpose.
    """

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun, self.nondiff_argnums, self.jvp_rule = fun, tuple(nondiff_argnums), None

    def defjvp(self, rule):
        self.jvp_rule = rule
        return rule

    def defjvps(self, *tangent_fns):
        """One function per argument ``t_i -> contribution``, called as ``fn(t, ans, *args)``."""
        def rule(primals, tangents):
            ans = self.fun(*primals)
            out = None
            for fn, t in zip(tangent_fns, tangents, strict=True):
                if fn is not None:
                    term = fn(t, ans, *primals)
                    out = term if out is None else tree_util.map(lambda a, b: a + b, out, term)
            return ans, out
        self.jvp_rule = rule

    @tree_boundary
    def __call__(self, *args):
        if self.jvp_rule is None:
            raise TypeError(f"custom_jvp function {self.__name__} has no JVP rule: call .defjvp(rule) first")
        nd = self.nondiff_argnums
        static = [args[i] for i in nd]
        diff_args = tuple(a for i, a in enumerate(args) if i not in nd)
        if not _has_tracer(tree_util.leaves(diff_args)):
            return self.fun(*args)
        ir, operands, leaves, in_tree, out_tree = _trace_call(
            lambda *d: self.fun(*_merge(args, nd, d)), diff_args)

        def jvp(primals, tangents):
            out, tout = self.jvp_rule(*static, tree_util.unflatten(in_tree, primals),
                                      tree_util.unflatten(in_tree, tangents))
            out_leaves, tout_leaves = tree_util.leaves(out), tree_util.leaves(tout)
            if len(tout_leaves) != len(out_leaves):
                raise TypeError(f"custom_jvp rule of {self.__name__} must return (primal_out, tangent_out) of "
                                f"one structure; got {len(out_leaves)} and {len(tout_leaves)} leaves")
            return out_leaves, [sp.cast_like(t, o) for t, o in zip(tout_leaves, out_leaves, strict=True)]

        jvp.__name__ = _fun_name(self.jvp_rule)
        outs = custom_jvp_call_p.bind(*operands, *leaves, ir=ir, jvp=jvp, n_consts=len(operands),
                                      name=self.__name__)
        return tree_util.unflatten(out_tree, outs)


def _merge(args, nondiff_argnums, diff_args):
    it = iter(diff_args)
    return [args[i] if i in nondiff_argnums else next(it) for i in range(len(args))]


# ----------------------------------------------------------------------------- custom_vjp_call

custom_vjp_call_p = Primitive("custom_vjp_call", multiple_results=True)
custom_vjp_call_p.impl = sp.sub_impl
custom_vjp_call_p.shape = sp.sub_shape("custom_vjp_call")
custom_vjp_call_p.lower = sp.sub_lower


def _cvjp_jvp(primals, tangents, *, name, **params):
    raise TypeError(
        f"can't apply forward-mode differentiation (jvp/jacfwd/hessian) to the custom_vjp "
        f"function {name} (at {user_location()}).\nFix: use reverse mode (grad/vjp/jacrev), or define the "
        "function with custom_jvp instead.")


def _cvjp_vjp_fwd(*inputs, ir, fwd, bwd, n_consts, name):
    outs, residuals = fwd(*inputs[n_consts:])
    return list(outs), list(residuals)


def _cvjp_vjp_bwd(needed, residuals, g, *, ir, fwd, bwd, n_consts, name):
    if any(needed[:n_consts]):
        raise _closure_error("custom_vjp", name)
    cts = bwd(residuals, sp.instantiate(list(g), ir.out_avals))
    return [None] * n_consts + list(cts)


def _cvjp_batch(size, vals, dims, *, ir, fwd, bwd, n_consts, name):
    """vmap of a custom_vjp function batches the user's ``fwd`` and ``bwd``: outputs
    and residuals carry the batch first; cotangents of unbatched inputs are summed over it."""
    from ..primitives.reductions import reduce_sum
    vals, dims = sp.fronted(vals, dims, size)
    bir, _ = vmap_ir(ir, dims, size, batch_all=True)
    edims = dims[n_consts:]
    n_res = []

    def batched_fwd(*xs):
        def flat(*ys):
            outs, res = fwd(*ys)
            n_res[:] = [len(outs)]
            return list(outs) + list(res)
        both = sp.batched_function(flat, edims, size)(*xs)
        return both[:n_res[0]], both[n_res[0]:]

    def batched_bwd(residuals, cts):
        def flat(*ys):
            got = bwd(list(ys[:len(residuals)]), list(ys[len(residuals):]))
            return sp.instantiate(list(got), ir.in_avals[n_consts:])  # per-example zeros
        got = sp.batched_function(flat, [0] * (len(residuals) + len(cts)), size)(*residuals, *cts)
        return [g if d is not None else reduce_sum(g, (0,)) for g, d in zip(got, edims, strict=True)]

    batched_fwd.__name__ = f"vmap({getattr(fwd, '__name__', 'fwd')})"
    batched_bwd.__name__ = f"vmap({getattr(bwd, '__name__', 'bwd')})"
    outs = custom_vjp_call_p.bind(*vals, ir=bir, fwd=batched_fwd, bwd=batched_bwd, n_consts=n_consts, name=name)
    return outs, [0] * len(outs)


custom_vjp_call_p.jvp = _cvjp_jvp
custom_vjp_call_p.vjp_fwd = _cvjp_vjp_fwd
custom_vjp_call_p.vjp_bwd = _cvjp_vjp_bwd
custom_vjp_call_p.batch = _cvjp_batch


class custom_vjp:
    """A function with user-defined reverse-mode rules: ``f.defvjp(fwd, bwd)``.

    ``fwd(*args) -> (out, residuals)``; ``bwd(residuals, g) -> tuple`` of one
    cotangent per non-static argument.  With ``nondiff_argnums`` those arguments are
    passed first to ``bwd``: ``bwd(*nondiff_args, residuals, g)``.
    """

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun, self.nondiff_argnums, self.fwd, self.bwd = fun, tuple(nondiff_argnums), None, None

    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd

    @tree_boundary
    def __call__(self, *args):
        if self.fwd is None:
            raise TypeError(f"custom_vjp function {self.__name__} has no rules: call .defvjp(fwd, bwd) first")
        nd = self.nondiff_argnums
        static = [args[i] for i in nd]
        diff_args = tuple(a for i, a in enumerate(args) if i not in nd)
        if not _has_tracer(tree_util.leaves(diff_args)):
            return self.fun(*args)
        ir, operands, leaves, in_tree, out_tree = _trace_call(
            lambda *d: self.fun(*_merge(args, nd, d)), diff_args)
        res_tree = [None]

        def fwd(*xs):
            out, res = self.fwd(*_merge(args, nd, tree_util.unflatten(in_tree, xs)))
            out_leaves = tree_util.leaves(out)
            res_leaves, res_tree[0] = tree_util.flatten(res)
            return [sp.cast_like(o, a) for o, a in zip(out_leaves, ir.out_avals, strict=True)], res_leaves

        def bwd(res_leaves, cts):
            g = tree_util.unflatten(out_tree, cts)
            in_cts = self.bwd(*static, tree_util.unflatten(res_tree[0], res_leaves), g)
            if not isinstance(in_cts, tuple) or len(in_cts) != len(diff_args):
                raise TypeError(f"custom_vjp bwd of {self.__name__} must return a tuple of "
                                f"{len(diff_args)} cotangents (one per differentiable argument), "
                                f"got {type(in_cts).__name__}")
            flat = []
            for c, a in zip(in_cts, diff_args, strict=True):
                n = len(tree_util.leaves(a))
                flat += [None] * n if c is None else tree_util.leaves(c)
            return flat

        fwd.__name__, bwd.__name__ = _fun_name(self.fwd), _fun_name(self.bwd)
        outs = custom_vjp_call_p.bind(*operands, *leaves, ir=ir, fwd=fwd, bwd=bwd, n_consts=len(operands),
                                      name=self.__name__)
        return tree_util.unflatten(out_tree, outs)


# ----------------------------------------------------------------------------- remat

remat_p = Primitive("remat", multiple_results=True)
remat_p.impl = sp.sub_impl
remat_p.shape = sp.sub_shape("remat")
remat_p.lower = sp.sub_lower
remat_p.jvp = sp.call_jvp(remat_p)
remat_p.batch = sp.call_batch(remat_p)
remat_p.vjp_fwd = sp.call_vjp_fwd(remat_p)
remat_p.vjp_bwd = sp.call_vjp_bwd(remat_p)


def checkpoint(fun):
    """Rematerialise ``fun`` in the backward pass instead of storing its intermediates.

    Under reverse mode only the inputs of ``fun`` are kept; the backward pass runs
    ``fun`` forward again on them and then back.  Elsewhere it is ``fun`` itself.
    """
    @functools.wraps(fun)
    @tree_boundary
    def wrapper(*args, **kwargs):
        if not _has_tracer(tree_util.leaves((args, kwargs))):
            return fun(*args, **kwargs)
        ir, operands, leaves, _, out_tree = _trace_call(lambda a, k: fun(*a, **k), (args, kwargs))
        outs = remat_p.bind(*operands, *leaves, ir=ir, name=_fun_name(fun))
        return tree_util.unflatten(out_tree, outs)

    return wrapper


remat = checkpoint

__all__ = ["custom_jvp", "custom_vjp", "checkpoint", "remat", "custom_jvp_call_p", "custom_vjp_call_p",
           "remat_p"]
