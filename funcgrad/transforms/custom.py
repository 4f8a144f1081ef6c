"""User-defined derivatives (``custom_jvp``, ``custom_vjp``) and ``checkpoint``.

These are not primitives with fixed rules: they are functions whose behaviour
depends on the innermost active transform.  Under forward mode a ``custom_jvp``
runs the user's rule.  Under reverse mode the tape records one node whose VJP is
given by a closure: for ``custom_vjp`` the user's ``bwd``; for ``custom_jvp`` the
VJP of the linear map ``t -> rule(primals, t)[1]`` (a linear map's VJP is its
transpose, so the user's JVP rule serves reverse mode too); for ``checkpoint`` a
fresh ``vjp`` of the function, recomputing its forward pass instead of storing it.
Anywhere else (eagerly, staged, batched) the plain function runs.
"""
import functools

import numpy as np

from .. import tree as tree_util
from ..core.primitive import Primitive, is_float_value
from ..core.trace import find_top_trace
from ..errors import api_boundary
from .jvp import JVPTrace, JVPTracer
from .reverse import Node, ReverseTrace, ReverseTracer, vjp_flat


class _ClosureRule(Primitive):
    """Tape node kind whose VJP comes from a closure in its params (``bwd``)."""

    __slots__ = ()

    def vjp_rule(self, i, g, ans, inputs, params):
        # ``bwd`` gives every input's cotangent at once: run it once per backward pass
        # (one ``g``), not once per input -- and again for the next pass (a vjp_fn or
        # jacrev runs several backward passes over one tape).
        memo = params["memo"]
        if memo.get("g") is not g:
            full = [np.zeros(np.shape(a), _dtype(a)) if c is None else c for c, a in zip(g, ans, strict=True)]
            memo["cts"] = params["bwd"](full)
            memo["g"] = g
        return memo["cts"][i]


custom_rule_p = _ClosureRule("custom_rule", multiple_results=True)


def _dtype(x):
    from ..core.avals import get_aval
    return get_aval(x).dtype


def _record(trace, flat_args, outs, bwd):
    """Put one closure node on ``trace``'s tape for outputs ``outs`` of ``flat_args``."""
    inputs, parents = [], []
    for a in flat_args:
        mine = isinstance(a, ReverseTracer) and a._trace is trace
        inputs.append(a.primal if mine else a)
        parents.append(a if mine else None)
    node = Node(custom_rule_p, {"bwd": bwd, "memo": {}}, inputs, parents, list(outs))
    return [ReverseTracer(trace, o, node, i) if is_float_value(o) else o for i, o in enumerate(outs)]


def _unwrap(trace, flat_args):
    return [a.primal if isinstance(a, (ReverseTracer, JVPTracer)) and a._trace is trace else a
            for a in flat_args]


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

    @api_boundary
    def __call__(self, *args):
        if self.jvp_rule is None:
            raise TypeError(f"custom_jvp function {self.__name__} has no JVP rule: call .defjvp(rule) first")
        nd = self.nondiff_argnums
        static = [args[i] for i in nd]
        diff_args = tuple(a for i, a in enumerate(args) if i not in nd)
        leaves, in_tree = tree_util.flatten(diff_args)
        top = find_top_trace(leaves)

        def call_rule(primals, tangents):
            return self.jvp_rule(*static, primals, tangents)

        if isinstance(top, JVPTrace):
            primal_leaves = _unwrap(top, leaves)
            tangent_leaves = [a.tangent if isinstance(a, JVPTracer) and a._trace is top else
                              np.zeros(np.shape(p), _dtype(p)) for a, p in zip(leaves, primal_leaves, strict=True)]
            out, tout = call_rule(tree_util.unflatten(in_tree, primal_leaves),
                                  tree_util.unflatten(in_tree, tangent_leaves))
            out_leaves, out_tree = tree_util.flatten(out)
            tout_leaves = tree_util.leaves(tout)
            return tree_util.unflatten(out_tree, [JVPTracer(top, o, t) for o, t in
                                                  zip(out_leaves, tout_leaves, strict=True)])
        if isinstance(top, ReverseTrace):
            primal_leaves = _unwrap(top, leaves)
            out = self.fun(*_merge(args, nd, tree_util.unflatten(in_tree, primal_leaves)))
            out_leaves, out_tree = tree_util.flatten(out)
            primals_tree = tree_util.unflatten(in_tree, primal_leaves)

            def bwd(cts):
                def tangent_map(*t_leaves):
                    _, tout = call_rule(primals_tree, tree_util.unflatten(in_tree, t_leaves))
                    return tree_util.leaves(tout)
                zeros = [np.zeros(np.shape(p), _dtype(p)) for p in primal_leaves]
                _, back = vjp_flat(tangent_map, zeros)
                return back(cts)

            return tree_util.unflatten(out_tree, _record(top, leaves, out_leaves, bwd))
        return self.fun(*args)


def _merge(args, nondiff_argnums, diff_args):
    it = iter(diff_args)
    return [args[i] if i in nondiff_argnums else next(it) for i in range(len(args))]


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

    @api_boundary
    def __call__(self, *args):
        if self.fwd is None:
            raise TypeError(f"custom_vjp function {self.__name__} has no rules: call .defvjp(fwd, bwd) first")
        nd = self.nondiff_argnums
        static = [args[i] for i in nd]
        diff_args = tuple(a for i, a in enumerate(args) if i not in nd)
        leaves, in_tree = tree_util.flatten(diff_args)
        top = find_top_trace(leaves)
        if isinstance(top, JVPTrace):
            raise TypeError(
                f"can't apply forward-mode differentiation (jvp/jacfwd/hessian) to the custom_vjp "
                f"function {self.__name__}.\nFix: use reverse mode (grad/vjp/jacrev), or define the "
                "function with custom_jvp instead.")
        if isinstance(top, ReverseTrace):
            primal_leaves = _unwrap(top, leaves)
            primals = tree_util.unflatten(in_tree, primal_leaves)
            out, res = self.fwd(*_merge(args, nd, primals))
            out_leaves, out_tree = tree_util.flatten(out)

            def bwd(cts):
                g = tree_util.unflatten(out_tree, cts)
                in_cts = self.bwd(*static, res, g)
                if not isinstance(in_cts, tuple) or len(in_cts) != len(diff_args):
                    raise TypeError(f"custom_vjp bwd of {self.__name__} must return a tuple of "
                                    f"{len(diff_args)} cotangents (one per differentiable argument), "
                                    f"got {type(in_cts).__name__}")
                flat = []
                for c, a in zip(in_cts, diff_args, strict=True):
                    n = len(tree_util.leaves(a))
                    c_leaves = [None] * n if c is None else tree_util.leaves(c)
                    flat += c_leaves
                return flat

            return tree_util.unflatten(out_tree, _record(top, leaves, out_leaves, bwd))
        return self.fun(*args)


def checkpoint(fun):
    """Rematerialise ``fun`` in the backward pass instead of storing its intermediates.

    Under reverse mode only the inputs of ``fun`` are kept; the backward pass runs
    ``fun`` forward again on them and then back.  Elsewhere it is ``fun`` itself.
    """
    @functools.wraps(fun)
    @api_boundary
    def wrapper(*args):
        leaves, in_tree = tree_util.flatten(args)
        top = find_top_trace(leaves)
        if not isinstance(top, ReverseTrace):
            return fun(*args)
        primal_leaves = _unwrap(top, leaves)
        out = fun(*tree_util.unflatten(in_tree, primal_leaves))
        out_leaves, out_tree = tree_util.flatten(out)

        def flat_fun(*xs):
            return tree_util.leaves(fun(*tree_util.unflatten(in_tree, xs)))

        def bwd(cts):
            _, back = vjp_flat(flat_fun, primal_leaves)
            return back(cts)

        return tree_util.unflatten(out_tree, _record(top, leaves, out_leaves, bwd))

    return wrapper


remat = checkpoint
