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
import numpy as np

from .. import tree as tree_util
from ..config import config
from ..core.avals import ShapedArray, check_dtype, get_aval
from ..core.staging import no_full_gc as _no_full_gc, stage
from ..core.trace import Tracer, in_transform
from . import sharding as _sharding, subprograms as sp
from .lowering import Inline as _Inline, compiled, lower_ir, x64 as _x64
from ..core.primitive import Primitive
from ..core.staging import stage_closed
from ..errors import ArgumentError, FuncgradError, NaNError, _filtered, api_boundary, user_location

logger = logging.getLogger("funcgrad.jit")


# ----------------------------------------------------------------------------- jit_call

jit_call_p = Primitive("jit_call", multiple_results=True)
jit_call_p.shape = sp.sub_shape("jit_call")
jit_call_p.lower = sp.sub_lower
jit_call_p.jvp = sp.call_jvp(jit_call_p)
jit_call_p.batch = sp.call_batch(jit_call_p)
jit_call_p.vjp_fwd = sp.call_vjp_fwd(jit_call_p)
jit_call_p.vjp_bwd = sp.call_vjp_bwd(jit_call_p)


def _jit_call_impl(*args, ir, name):
    """Eagerly (e.g. what ``vmap(jit(f))`` or ``grad(jit(f))`` leave once their rules
    ran): the program runs compiled, once per program."""
    return compiled(ir, name)(*args)


jit_call_p.impl = _jit_call_impl


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
    return "same shapes and dtypes: other input shardings or devices, or a cache eviction"


class JitFunction:
    """A jitted function: call it, or inspect ``.lower(*args).as_text()`` and ``.ir(*args)``."""

    def __init__(self, fun, static_argnums=(), static_argnames=(), donate_argnums=(), in_shardings=None,
                 out_shardings=None):
        functools.update_wrapper(self, fun)
        if not hasattr(self, "__name__"):  # a functools.partial or a callable object has none
            self.__name__ = getattr(fun, "__name__", type(fun).__name__)
        self.fun = fun
        nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
        names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
        self.static_argnums, self.static_argnames = _resolve_statics(fun, nums, names)
        @functools.wraps(fun)  # named after the user's function in jax's logs and HLO
        def traced(*args, **kwargs):
            return self._trace(*args, **kwargs)

        # Shardings go to jax as they are: ``traced`` takes the user's arguments, so jax matches
        # pytree prefixes of shardings against them, skipping static arguments, as for ``jax.jit``.
        self.in_shardings, self.out_shardings = in_shardings, out_shardings
        shardings = {k: v for k, v in (("in_shardings", in_shardings), ("out_shardings", out_shardings))
                     if v is not None}
        self._jitted = jax.jit(traced, static_argnums=self.static_argnums,
                               static_argnames=self.static_argnames, donate_argnums=donate_argnums, **shardings)
        # Both caches of traced programs hold at most ``config.jit_cache_size`` entries;
        # ``_lock`` guards them and the counters (threads may trace at once), and is never
        # held while jax runs, which has locks of its own (a signature being compiled makes
        # other threads calling with it wait), so the two cannot deadlock.
        self._irs = collections.OrderedDict()
        self._last_key = None
        self._lock = threading.RLock()
        self._warm = False      # False: the next call is the first, or must trim jax's cache
        self._compiled = 0      # programs jax compiled since its cache was last emptied
        self._call_irs = collections.OrderedDict()
        self.trace_count = 0

    # The function jax.jit traces: jax tracers in, jax values out.  Staging and lowering
    # run without full garbage collections (see ``no_full_gc``).
    def _trace(self, *args, **kwargs):
        with _no_full_gc():
            return self._trace_lower(*args, **kwargs)

    def _trace_lower(self, *args, **kwargs):
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
        with self._lock:  # threads tracing at once stage each signature once
            if config.log_compiles:
                logger.warning("funcgrad.jit: tracing %s (%s)", getattr(self.fun, "__name__", "fun"),
                               _describe_change(self._last_key, key))
            self._last_key = key
            self.trace_count += 1
            self._compiled += 1
            if self._compiled > _cache_size():
                self._warm = False  # the next call empties jax's cache (see ``_call_cold``)
            ir = self._irs.get(key)
            if ir is None:
                # Staging runs the user's Python; jax work in it (arithmetic on jax arrays it closes
                # over, such as params from an earlier jitted step) is computed now, not staged into
                # jax's trace, so funcgrad sees concrete constants rather than jax tracers.
                with jax.ensure_compile_time_eval():
                    ir = self._stage(args, kwargs, static_pos, treedef, avals)
                self._irs[key] = ir
                while len(self._irs) > _cache_size():
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
            if self._warm and not in_transform():
                with _x64(True):
                    out = self._jitted(*args, **kwargs)
            else:  # the first call, or inside a transform (whose tracers jax would trace with, then refuse)
                out = self._call_cold(args, kwargs)
            if config.debug_nans:
                self._check_nans(out, args, kwargs)
            return out
        except _Inline:  # the function closes over values of an enclosing transform
            return self._call_in_transform(args, kwargs)
        except (TypeError, ValueError) as e:
            if any(isinstance(x, Tracer) for x in tree_util.leaves((args, kwargs))):
                return self._call_in_transform(args, kwargs)
            try:
                self._explain(e, args, kwargs)  # raises a funcgrad error saying what is wrong, if it knows
            except FuncgradError as explained:
                if not config.show_internal_frames:
                    explained.with_traceback(_filtered(explained.__traceback__))
                raise
            if isinstance(e, FuncgradError) and not config.show_internal_frames:
                e.with_traceback(_filtered(e.__traceback__))  # end the traceback at the user's frame
            raise
        except FuncgradError as e:  # IndexingError, NaNError: neither a TypeError nor a ValueError
            if not config.show_internal_frames:
                e.with_traceback(_filtered(e.__traceback__))
            raise
        except Exception as e:  # jax's sharding type errors derive from neither
            if _sharding.is_jax_sharding_error(e):
                self._explain(e, args, kwargs)
            raise

    def _call_cold(self, args, kwargs):
        """The first call (trace, lower, jax's part too, and compile), or the first after
        jax compiled more programs than ``config.jit_cache_size``.  jax keeps every program
        it compiled for this function (up to thousands); once it holds more than funcgrad
        keeps, its cache is emptied after this call, and signatures still in use are
        compiled again from funcgrad's kept programs, not traced again.  No lock is held
        while jax runs: threads calling at once with one new signature wait for jax's
        single compile of it."""
        if any(isinstance(x, Tracer) for x in tree_util.leaves((args, kwargs))):
            raise _Inline()  # values of a funcgrad transform: jax would trace with them, then refuse them
        with _x64(True), _no_full_gc():
            out = self._jitted(*args, **kwargs)
        self._warm = True
        with self._lock:
            trim = self._compiled > _cache_size()
            if trim:
                self._compiled = 0
        if trim:
            self._jitted.clear_cache()
        return out

    def _check_nans(self, out, args, kwargs):
        """debug_nans: when the compiled program produced a NaN or Inf, run the function
        again eagerly (NumPy, op by op), where the first primitive that produces one
        raises ``FloatingPointError`` naming itself and the user's line."""
        bad = [x for x in tree_util.leaves(out) if np.dtype(x.dtype).kind == "f" and not np.all(np.isfinite(x))]
        if not bad:
            return
        eager_args = tree_util.map(lambda x: np.asarray(x) if hasattr(x, "dtype") else x, (args, kwargs))
        self.fun(*eager_args[0], **eager_args[1])
        raise NaNError(
            f"debug_nans: jit of {self.__name__} returned a NaN or Inf, but running it eagerly did not "
            f"reproduce it (at {user_location()}); XLA's arithmetic differs from NumPy's here.\nFix: "
            "inspect the inputs, or run the function without jit to debug.")

    def _call_in_transform(self, args, kwargs):
        """Called with values of another funcgrad transform (``grad(jit(f))``,
        ``vmap(jit(f))``, or inside ``make_ir``): ``f`` is traced into a closed program
        and bound as one ``jit_call``, whose rules keep every derivative and batched
        version of it one compiled program."""
        nargs = len(args)
        static_pos = {i for i in self.static_argnums if i < nargs}
        static_kw = {k: kwargs[k] for k in self.static_argnames if k in kwargs}
        dyn = ([a for i, a in enumerate(args) if i not in static_pos],
               {k: v for k, v in kwargs.items() if k not in static_kw})
        leaves, treedef = tree_util.flatten(dyn)
        avals = tuple(get_aval(x) for x in leaves)
        key = (treedef, avals, tuple((i, args[i]) for i in sorted(static_pos)), tuple(sorted(static_kw.items())))
        with self._lock:  # threads tracing at once stage each signature once
            hit = self._call_irs.get(key)
            if hit is None:
                hit = self._stage_for_transform(args, nargs, static_pos, static_kw, treedef, avals)
                if not hit[1]:  # a program closing over no traced value can be reused
                    self._call_irs[key] = hit
                    while len(self._call_irs) > _cache_size():
                        self._call_irs.popitem(last=False)
            else:
                self._call_irs.move_to_end(key)
        ir, operands, out_tree = hit
        outs = jit_call_p.bind(*operands, *leaves, ir=ir, name=self.__name__)
        return tree_util.unflatten(out_tree, outs)

    def _stage_for_transform(self, args, nargs, static_pos, static_kw, treedef, avals):
        out_tree = [None]

        def flat(*xs):
            dyn_args, dyn_kwargs = tree_util.unflatten(treedef, xs)
            it = iter(dyn_args)
            full = [args[i] if i in static_pos else next(it) for i in range(nargs)]
            out = self.fun(*full, **static_kw, **dyn_kwargs)
            out_leaves, out_tree[0] = tree_util.flatten(out)
            return out_leaves

        ir, operands = stage_closed(flat, list(avals), fun_name=self.__name__)
        return ir, operands, out_tree[0]

    def _explain(self, e, args, kwargs):
        for i in self.static_argnums:
            if i < len(args):
                try:
                    hash(args[i])
                except TypeError:
                    raise ArgumentError(
                        f"jit of {self.__name__}: static argument {i} has unhashable type "
                        f"{type(args[i]).__name__} (at {user_location()}).\nFix: pass a hashable value "
                        "(a tuple instead of a list, a frozen dataclass), or make the argument dynamic.") from None
        self._explain_non_arrays(args, kwargs)
        _sharding.explain(self.__name__, self.in_shardings, self.out_shardings, self.static_argnums, e, args,
                          kwargs)

    def _explain_non_arrays(self, args, kwargs):
        """An argument leaf that is not an array (a string, an object) and not marked static:
        name its path and the static_argnums / static_argnames that would fix it."""
        static_pos = set(self.static_argnums)
        try:
            params = list(inspect.signature(self.fun).parameters.values())
            names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            names = []
        for i, a in enumerate(args):
            if i not in static_pos:
                fix = f"static_argnums={i}" + (f") or jit({self.__name__}, static_argnames={names[i]!r}"
                                               if i < len(names) else "")
                self._check_array_leaves(a, f"argument {i}", fix)
        for k, v in kwargs.items():
            if k not in self.static_argnames:
                self._check_array_leaves(v, f"keyword argument {k!r}", f"static_argnames={k!r}")

    def _check_array_leaves(self, value, where, fix):
        for path, leaf in tree_util._jtu.tree_flatten_with_path(value)[0]:
            if (hasattr(leaf, "shape") and hasattr(leaf, "dtype")
                    or isinstance(leaf, (bool, int, float, complex, np.generic))):
                continue
            whole = "" if not path else (
                " (a static argument is hashed: pass the value as an argument of its own, or in a hashable "
                "container such as a tuple)")
            where += tree_util._jtu.keystr(path) if path else ""
            raise ArgumentError(
                f"jit of {self.__name__}: {where} is a {type(leaf).__name__} "
                f"({leaf!r:.60}), not an array, and only arrays and numbers can be traced "
                f"(at {user_location()}).\nFix: mark the argument static, jit({self.__name__}, {fix}): jit then traces "
                f"once per value of it{whole}; or close over the value instead of passing it.")

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
        with _x64(True), _no_full_gc():
            return Lowered(self._jitted.lower(*args, **kwargs))

    @api_boundary
    def ir(self, *args, **kwargs):
        """The funcgrad IR traced for these arguments."""
        from ..api import make_ir
        static_kw = {k: kwargs.pop(k) for k in self.static_argnames if k in kwargs}
        fun = functools.partial(self.fun, **static_kw) if static_kw else self.fun
        return make_ir(fun, static_argnums=self.static_argnums)(*args, **kwargs)

    def clear_cache(self):
        with self._lock:
            self._irs.clear()
            self._call_irs.clear()
            self._compiled = 0
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


def _cache_size():
    return max(int(config.jit_cache_size), 1)


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


def jit(fun=None, static_argnums=(), static_argnames=(), donate_argnums=(), in_shardings=None,
        out_shardings=None):
    """Compile ``fun`` with XLA through jax; trace once per signature (pytree structure,
    shapes, dtypes, weak types and static argument values) and cache.

    ``in_shardings`` / ``out_shardings`` are ``jax.sharding`` objects (``NamedSharding``,
    ``SingleDeviceSharding``, ...) or pytree prefixes of the positional arguments (static
    ones left out) / of the outputs, as for ``jax.jit``: NumPy inputs are placed as
    declared, outputs come back as ``jax.Array`` laid out as declared, and XLA inserts
    the collectives (the all-reduce of a data-parallel gradient) the layouts need.
    Inputs that already are sharded ``jax.Array`` keep their layout without a trip
    through the host. With ``in_shardings``, pass the arguments by position.
    """
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums, static_argnames=static_argnames,
                                 donate_argnums=donate_argnums, in_shardings=in_shardings,
                                 out_shardings=out_shardings)
    return JitFunction(fun, static_argnums, static_argnames, donate_argnums, in_shardings, out_shardings)

