"""Staging: record a Python function into an :class:`~funcgrad.core.ir.IR`.

The staging trace gives each input a :class:`StagingTracer` that holds only an
abstract value.  Each primitive applied to it runs its shape rule and appends one
equation.  Values that are not staging tracers (NumPy arrays, outer tracers)
become constants of the program; Python and NumPy scalars become literals.
"""
import gc
import threading

import numpy as np

from ..config import config
from ..errors import DTypeError, ShapeError
from .avals import get_aval, scalar_aval
from .ir import IR, Eqn, Literal, Var, dce
from .trace import Trace, Tracer, concretization_error, new_trace


# The broadcast primitive (set by funcgrad.primitives.shape): a constant array whose
# elements are all equal is staged as a broadcast of one scalar.
BROADCAST = None


def _uniform(x):
    if x.dtype.kind == "b":
        return bool(x.all()) or not x.any()
    if x.dtype.kind not in "biuf":
        return False
    first = x.flat[0]
    return bool(np.all(x == first)) and (x.dtype.kind != "f" or bool(np.isfinite(first)))


_SCALAR_AVALS = {t: scalar_aval(t(1)) for t in (bool, int, float)}


class StagingTracer(Tracer):
    __slots__ = ("_aval", "var")

    def __init__(self, trace, aval, var):
        self._trace = trace
        self._aval = aval
        self.var = var

    @property
    def aval(self):
        return self._aval

    shape = property(lambda self: self._aval.shape)
    dtype = property(lambda self: self._aval.dtype)
    ndim = property(lambda self: len(self._aval.shape))


class StagingTrace(Trace):
    __slots__ = ("eqns", "const_vars", "consts", "_const_ids", "fun_name")

    def __init__(self, fun_name=None):
        self.eqns = []
        self.const_vars, self.consts, self._const_ids = [], [], {}
        self.fun_name = fun_name

    def new_arg(self, aval):
        return StagingTracer(self, aval, Var(aval))

    def atom(self, x):
        """The IR atom for ``x``: its variable, a literal, or a new constant."""
        if isinstance(x, StagingTracer) and x._trace is self:
            return x.var
        t = type(x)
        aval = _SCALAR_AVALS.get(t)
        if aval is not None:  # a Python scalar: its weak aval, shared (avals are never changed)
            return Literal(x, aval)
        if isinstance(x, np.generic) or (t is np.ndarray and x.ndim == 0):
            return Literal(x[()] if t is np.ndarray else x, get_aval(x))
        key = id(x)
        hit = self._const_ids.get(key)
        if hit is not None:
            return hit[0]
        if BROADCAST is not None and isinstance(x, np.ndarray) and x.size > 1 and _uniform(x):
            # zeros and ones (symbolic zeros made concrete, cotangent seeds): one broadcast
            # of a scalar literal instead of a full-size constant in the program
            aval = get_aval(x)
            v = Var(aval)
            scalar = x.flat[0]
            self.eqns.append(Eqn(BROADCAST, [Literal(scalar, aval.update(shape=()))], [v],
                                 {"shape": aval.shape, "dims": ()}))
            self._const_ids[key] = (v, x)
            return v
        v = Var(get_aval(x))
        self._const_ids[key] = (v, x)  # keep x alive so its id stays unique
        self.const_vars.append(v)
        self.consts.append(x)
        return v

    def process(self, prim, args, params):
        atoms = [a.var if type(a) is StagingTracer and a._trace is self else self.atom(a) for a in args]
        avals = [a.aval for a in atoms]
        out_aval = prim.shape(*avals, **params)
        if prim.multiple_results:
            outs = [StagingTracer(self, a, Var(a)) for a in out_aval]
            self.eqns.append(Eqn(prim, atoms, [t.var for t in outs], params))
            return outs
        out = StagingTracer(self, out_aval, Var(out_aval))
        self.eqns.append(Eqn(prim, atoms, [out.var], params))
        return out

    def concrete(self, tracer, what):
        raise concretization_error(what, f"with shape/dtype {tracer.aval.str_short()}", self.fun_name)


# ----------------------------------------------------------------------------- garbage collection

_NO_FULL = 1 << 30  # a generation-2 threshold never reached
_gc_lock = threading.Lock()
_gc_depth = 0
_gc_saved = None    # (thresholds before the outermost entry, thresholds set by it)


class no_full_gc:
    """While staging and lowering, no full (generation-2) garbage collection.

    A program being traced keeps every object it makes (tracers, variables, equations,
    jax's own trace), and surviving young objects are what triggers full collections:
    each walks the user's whole heap (170 ms in a process of a few million objects) and
    frees nothing here.  The generation-2 threshold is raised for the outermost entry,
    across threads, and put back exactly on the last exit, unless someone set other
    thresholds meanwhile; young collections go on as before."""

    __slots__ = ()

    def __enter__(self):
        global _gc_depth, _gc_saved
        with _gc_lock:
            if _gc_depth == 0:
                old = gc.get_threshold()
                if old[0] and len(old) == 3 and old[2] < _NO_FULL:
                    new = (old[0], old[1], _NO_FULL)
                    gc.set_threshold(*new)
                    _gc_saved = (old, gc.get_threshold())
                else:  # collection disabled by threshold, or thresholds of another kind
                    _gc_saved = None
            _gc_depth += 1
        return self

    def __exit__(self, *exc):
        global _gc_depth, _gc_saved
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_saved is not None:
                old, ours = _gc_saved
                _gc_saved = None
                if gc.get_threshold() == ours:
                    gc.set_threshold(*old)
        return False


def stage(fun, in_avals, fun_name=None, origin=None, keep_dead=False):
    """Trace ``fun`` (flat args -> flat outputs) at ``in_avals`` into an IR."""
    with no_full_gc(), new_trace(StagingTrace, fun_name, origin=origin) as trace:
        args = [trace.new_arg(a) for a in in_avals]
        outs = fun(*args)
        out_atoms = [trace.atom(o) for o in outs]
    ir = IR([a.var for a in args], trace.const_vars, trace.consts, trace.eqns, out_atoms)
    ir = ir if keep_dead else dce(ir)
    if config.check_irs:
        ir.check()
    return ir


def stage_closed(fun, in_avals, fun_name=None):
    """Trace ``fun`` into a *closed* program: values of enclosing transforms that
    ``fun`` closes over (their tracers) become leading inputs instead of constants.

    Returns ``(ir, operands)``: ``ir`` takes ``operands + args``; concrete arrays stay
    constants of ``ir``.  A primitive holding ``ir`` is bound on ``operands + args``,
    so every transform sees all of its inputs explicitly (closure conversion)."""
    ir = stage(fun, in_avals, fun_name=fun_name)
    traced = [k for k, c in enumerate(ir.consts) if isinstance(c, Tracer)]
    if not traced:
        return ir, []
    keep = [k for k in range(len(ir.consts)) if k not in traced]
    closed = IR([ir.const_vars[k] for k in traced] + ir.in_vars, [ir.const_vars[k] for k in keep],
                [ir.consts[k] for k in keep], ir.eqns, ir.outs, ir.in_tree, ir.out_tree)
    return closed, [ir.consts[k] for k in traced]


__all__ = ["stage_closed", "StagingTrace", "StagingTracer", "stage", "ShapeError", "DTypeError"]
