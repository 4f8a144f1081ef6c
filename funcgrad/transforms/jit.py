"""``jit``: trace to funcgrad's IR once per signature, lower every equation to jax,
and let ``jax.jit`` compile and cache.

The function handed to ``jax.jit`` traces the user's function into an IR at the
abstract values jax gives it, then evaluates that IR with each primitive's
lowering rule.  On a cache hit jax never calls it, so a call costs about what
``jax.jit``'s own fast path costs (plus entering ``jax.enable_x64``, which keeps
float64 float64 without touching the user's global jax configuration).

When a jitted function is called under reverse or forward mode (``grad(jit(f))``),
its forward pass and its derivative run as compiled programs; while staging it is
inlined into the enclosing program.
"""
import collections
import functools
import inspect
import logging
import threading
import types

import jax
import jax.numpy as jnp
import numpy as np

from .. import tree as tree_util
from ..config import config
from ..core.avals import ShapedArray, check_dtype, get_aval
from ..core.ir import Literal
from ..core.staging import stage
from ..core.trace import Tracer, find_top_trace
from .custom import _record, _unwrap
from .jvp import JVPTrace, JVPTracer, jvp_flat
from .reverse import ReverseTrace, vjp_flat
from ..errors import FuncgradError, _filtered, api_boundary, user_location

logger = logging.getLogger("funcgrad.jit")
try:  # jax >= 0.6 has it at the top level; older releases only in jax.experimental
    _x64 = jax.enable_x64
except AttributeError:  # pragma: no cover
    from jax.experimental import enable_x64 as _x64


def _index_jax_arrays_with_tracers():
    """Let a jax array (a ``jit`` result) be indexed by a funcgrad tracer, as a
    funcgrad array can: ``table[i]`` inside ``jit``/``vmap`` becomes a gather of the
    constant ``table``.  Python gives the index no say in ``table[i]``, so jax's array
    type gets a ``__getitem__`` that hands traced indices to funcgrad and everything
    else to jax unchanged."""
    array_type = type(jnp.zeros(()))
    jax_getitem = array_type.__getitem__
    if getattr(jax_getitem, "_funcgrad", False):
        return

    def __getitem__(self, idx):
        if isinstance(idx, Tracer) or (type(idx) is tuple and any(isinstance(i, Tracer) for i in idx)):
            from ..numpy._indexing import getitem
            return getitem(self, idx)
        return jax_getitem(self, idx)

    __getitem__._funcgrad = True
    array_type.__getitem__ = __getitem__


_index_jax_arrays_with_tracers()


class LowerCtx:
    """What a lowering rule may know besides its operands: their avals and the results'."""

    __slots__ = ("avals_in", "avals_out")

    def __init__(self, avals_in, avals_out):
        self.avals_in, self.avals_out = avals_in, avals_out


class _Inline(Exception):
    """The program closes over values of an enclosing funcgrad transform."""


def lower_ir(ir, args):
    """Evaluate ``ir`` on jax values with the primitives' lowering rules."""
    env = {}
    for v, a in zip(ir.in_vars, args, strict=True):
        env[v] = a
    for v, c in zip(ir.const_vars, ir.consts, strict=True):
        if isinstance(c, Tracer):
            raise _Inline()
        env[v] = c

    def read(x):
        return x.val if type(x) is Literal else env[x]

    for eqn in ir.eqns:
        ctx = LowerCtx([x.aval for x in eqn.inputs], [v.aval for v in eqn.outputs])
        out = eqn.prim.lower(ctx, *[read(x) for x in eqn.inputs], **eqn.params)
        outs = out if eqn.prim.multiple_results else [out]
        for v, o in zip(eqn.outputs, outs, strict=True):
            if o.dtype != v.aval.dtype:
                o = o.astype(v.aval.dtype)
            env[v] = o
    return [jnp.asarray(read(x), x.aval.dtype) for x in ir.outs]


def _jax_aval(x):
    a = getattr(x, "aval", None)
    weak = bool(getattr(a, "weak_type", False))
    dtype = check_dtype(x.dtype, "a jit argument")  # complex inputs: DTypeError, as eagerly
    if weak and dtype.kind == "f":
        dtype = np.dtype(np.float32)  # a Python float: funcgrad's weak float
    return ShapedArray(tuple(x.shape), dtype, weak)


def _describe_change(old, new):
    """Why a new trace happened, in words: which argument changed and how."""
    if old is None:
        return "first call"
    (otree, oavals, ostatic), (ntree, navals, nstatic) = old, new
    if ostatic != nstatic:
        for (k, a), (_, b) in zip(ostatic, nstatic, strict=False):
            if a != b:
                return f"static argument {k} changed from {a!r} to {b!r}"
        return "static arguments changed"
    if otree != ntree:
        return f"argument structure changed from {otree} to {ntree}"
    for (path, a), (_, b) in zip(oavals, navals, strict=True):
        if a != b:
            what = ("shape" if a.shape != b.shape else "dtype" if a.dtype != b.dtype else "weak type")
            return f"argument {path} changed {what}: {a.str_short()} -> {b.str_short()}"
    return "cache eviction"


class JitFunction:
    """A jitted function: call it, or inspect ``.lower(*args).as_text()`` and ``.ir(*args)``."""

    def __init__(self, fun, static_argnums=(), static_argnames=(), donate_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
        names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
        self.static_argnums, self.static_argnames = _resolve_statics(fun, nums, names)
        @functools.wraps(fun)  # named after the user's function in jax's logs and HLO
        def traced(*args, **kwargs):
            return self._trace(*args, **kwargs)

        self._jitted = jax.jit(traced, static_argnums=self.static_argnums,
                               static_argnames=self.static_argnames, donate_argnums=donate_argnums)
        self._irs = collections.OrderedDict()
        self._last_key = None
        self._lock = threading.RLock()
        self._warm = False
        self._derived_cache = {}
        self.trace_count = 0

    # The function jax.jit traces: jax tracers in, jax values out.
    def _trace(self, *args, **kwargs):
        nargs = len(args)
        statics = tuple((i, args[i]) for i in self.static_argnums if i < nargs)
        statics += tuple((k, kwargs[k]) for k in self.static_argnames if k in kwargs)
        static_pos = {i for i, _ in statics if isinstance(i, int)}
        dyn = ([a for i, a in enumerate(args) if i not in static_pos],
               {k: v for k, v in kwargs.items() if k not in self.static_argnames})
        path_leaves, treedef = tree_util._jtu.tree_flatten_with_path(dyn)
        leaves = [x for _, x in path_leaves]
        avals = [_jax_aval(x) for x in leaves]
        key = (treedef, tuple((tree_util.keystr(p[1:]) if len(p) > 1 else "", a)
                              for (p, _), a in zip(path_leaves, avals, strict=True)), statics)
        if config.log_compiles:
            logger.warning("funcgrad.jit: tracing %s (%s)", getattr(self.fun, "__name__", "fun"),
                           _describe_change(self._last_key, key))
        self._last_key = key
        self.trace_count += 1
        ir = self._irs.get(key)
        if ir is None:
            ir = self._stage(args, kwargs, static_pos, treedef, avals)
            self._irs[key] = ir
            while len(self._irs) > max(int(config.jit_cache_size), 1):
                self._irs.popitem(last=False)
        else:
            self._irs.move_to_end(key)
        outs = lower_ir(ir, leaves)
        return tree_util.unflatten(ir.out_tree, outs)

    def _stage(self, args, kwargs, static_pos, treedef, avals):
        out_tree = [None]

        def flat(*xs):
            dyn_args, dyn_kwargs = tree_util.unflatten(treedef, xs)
            it = iter(dyn_args)
            full = [args[i] if i in static_pos else next(it) for i in range(len(args))]
            kw = dict(kwargs)
            kw.update(dyn_kwargs)
            out = self.fun(*full, **kw)
            out_leaves, out_tree[0] = tree_util.flatten(out)
            return out_leaves

        ir = stage(flat, avals, fun_name=getattr(self.fun, "__name__", None),
                   origin=f"jit of {getattr(self.fun, '__name__', 'fun')}")
        ir.in_tree, ir.out_tree = treedef, out_tree[0]
        return ir

    def __call__(self, *args, **kwargs):
        try:
            if self._warm:
                with _x64(True):
                    out = self._jitted(*args, **kwargs)
            else:
                with self._lock:
                    with _x64(True):
                        out = self._jitted(*args, **kwargs)
                    self._warm = True
            if config.debug_nans:
                self._check_nans(out, args, kwargs)
            return out
        except _Inline:
            return self.fun(*args, **kwargs)
        except (TypeError, ValueError) as e:
            if any(isinstance(x, Tracer) for x in tree_util.leaves((args, kwargs))):
                return self._call_in_transform(args, kwargs)
            self._explain(e, args, kwargs)
            if isinstance(e, FuncgradError) and not config.show_internal_frames:
                e.with_traceback(_filtered(e.__traceback__))  # end the traceback at the user's frame
            raise

    def _check_nans(self, out, args, kwargs):
        """debug_nans: when the compiled program produced a NaN or Inf, run the function
        again eagerly (NumPy, op by op), where the first primitive that produces one
        raises ``FloatingPointError`` naming itself and the user's line."""
        bad = [x for x in tree_util.leaves(out) if np.dtype(x.dtype).kind == "f" and not np.all(np.isfinite(x))]
        if not bad:
            return
        eager_args = tree_util.map(lambda x: np.asarray(x) if hasattr(x, "dtype") else x, (args, kwargs))
        self.fun(*eager_args[0], **eager_args[1])
        raise FloatingPointError(
            f"debug_nans: jit of {self.__name__} returned a NaN or Inf, but running it eagerly did not "
            f"reproduce it (at {user_location()}); XLA's arithmetic differs from NumPy's here.\nFix: "
            "inspect the inputs, or run the function without jit to debug.")

    def _call_in_transform(self, args, kwargs):
        """Called with tracers of another funcgrad transform (``grad(jit(f))``).

        Under reverse mode the tape gets one node: the forward pass runs compiled, and
        its VJP is another compiled program (the VJP of ``f``, which recomputes the
        forward pass inside XLA).  Under forward mode the JVP of ``f`` runs compiled.
        Anywhere else (staging, static arguments, keyword arguments), ``f`` is inlined
        into the enclosing transform.
        """
        leaves, in_tree = tree_util.flatten(args)
        top = find_top_trace(leaves)
        if kwargs or self.static_argnums or top is None or not isinstance(top, (ReverseTrace, JVPTrace)):
            return self.fun(*args, **kwargs)
        primals = _unwrap(top, leaves)
        if isinstance(top, JVPTrace):
            tangents = [x.tangent if isinstance(x, JVPTracer) and x._trace is top else
                        np.zeros(np.shape(p), get_aval(p).dtype) for x, p in zip(leaves, primals, strict=True)]
            outs, touts, out_tree = self._derived("jvp", in_tree)(primals, tangents)
            return tree_util.unflatten(out_tree, [o if t is None else JVPTracer(top, o, t)
                                                  for o, t in zip(outs, touts, strict=True)])
        out = self(*tree_util.unflatten(in_tree, primals))
        out_leaves, out_tree = tree_util.flatten(out)
        vjp_program = self._derived("vjp", in_tree)
        return tree_util.unflatten(out_tree, _record(top, leaves, out_leaves,
                                                     lambda cts: vjp_program(primals, cts)))

    def _derived(self, kind, in_tree):
        """A cached jitted JVP or VJP program of ``fun`` for arguments of structure ``in_tree``."""
        key = (kind, in_tree)
        prog = self._derived_cache.get(key)
        if prog is not None:
            return prog
        fun = self.fun

        def flat(xs):
            return tree_util.leaves(fun(*tree_util.unflatten(in_tree, xs)))

        if kind == "vjp":
            def program(primals, cts):
                _, back = vjp_flat(lambda *xs: flat(xs), primals)
                return back(cts)
            prog = jit(program)
        else:
            out_tree = []

            def program(primals, tangents):
                outs, touts = jvp_flat(lambda *xs: flat(xs), primals, tangents)
                return outs, touts

            def run(primals, tangents):
                outs, touts = compiled(primals, tangents)
                if not out_tree:
                    out_tree.append(tree_util.structure(fun(*tree_util.unflatten(in_tree, primals))))
                return outs, touts, out_tree[0]

            compiled = jit(program)
            prog = run
        self._derived_cache[key] = prog
        return prog

    def _explain(self, e, args, kwargs):
        for i in self.static_argnums:
            if i < len(args):
                try:
                    hash(args[i])
                except TypeError:
                    raise TypeError(
                        f"jit of {self.__name__}: static argument {i} has unhashable type "
                        f"{type(args[i]).__name__} (at {user_location()}).\nFix: pass a hashable value "
                        "(a tuple instead of a list, a frozen dataclass), or make the argument dynamic.") from e

    def __get__(self, obj, objtype=None):
        """``@jit`` on a method: accessed through an instance, ``self`` is bound (as a
        plain function would be); the method's jitted function is shared by instances."""
        if obj is None:
            return self
        return types.MethodType(self, obj)

    @api_boundary
    def lower(self, *args, **kwargs):
        """The lowered program: ``.as_text()`` is its StableHLO, ``.compile()`` the
        compiled executable, which accepts what the jitted function accepts."""
        with _x64(True):
            return Lowered(self._jitted.lower(*args, **kwargs))

    @api_boundary
    def ir(self, *args, **kwargs):
        """The funcgrad IR traced for these arguments."""
        from ..api import make_ir
        static_kw = {k: kwargs.pop(k) for k in self.static_argnames if k in kwargs}
        fun = functools.partial(self.fun, **static_kw) if static_kw else self.fun
        return make_ir(fun, static_argnums=self.static_argnums)(*args, **kwargs)

    def clear_cache(self):
        self._irs.clear()
        self._jitted.clear_cache()


class Lowered:
    """jax's ``Lowered`` for funcgrad's dtypes: ``compile()`` gives a :class:`Compiled`;
    every other attribute is jax's (``as_text``, ``cost_analysis``, ...)."""

    def __init__(self, lowered):
        self._lowered = lowered

    def compile(self, *args, **kwargs):
        with _x64(True):
            return Compiled(self._lowered.compile(*args, **kwargs))

    def as_text(self, *args, **kwargs):
        return self._lowered.as_text(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._lowered, name)


class Compiled:
    """A compiled program called in funcgrad's 64-bit mode, so float64/int64 inputs
    reach it as they are (as they reach the jitted function)."""

    def __init__(self, compiled):
        self._compiled = compiled

    def __call__(self, *args, **kwargs):
        with _x64(True):
            return self._compiled(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._compiled, name)


def _resolve_statics(fun, nums, names):
    """Static arguments by position and by name, each completed from the other (as jax does)."""
    try:
        params = list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):
        return nums, names
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    nums = tuple(sorted({n % len(positional) if positional and n < 0 else n for n in nums}
                        | {positional.index(k) for k in names if k in positional}))
    names = tuple(dict.fromkeys(list(names) + [positional[n] for n in nums if n < len(positional)]))
    return nums, names


def jit(fun=None, static_argnums=(), static_argnames=(), donate_argnums=()):
    """Compile ``fun`` with XLA through jax; trace once per signature (pytree structure,
    shapes, dtypes, weak types and static argument values) and cache."""
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums, static_argnames=static_argnames,
                                 donate_argnums=donate_argnums)
    return JitFunction(fun, static_argnums, static_argnames, donate_argnums)

