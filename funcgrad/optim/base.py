"""The shape of every optimizer: an ``Optimizer(init, update)`` pair of pure functions.

``state = opt.init(params)`` builds the optimizer's state (a pytree of NamedTuples
whose leaves are arrays), and ``updates, state = opt.update(grads, state, params)``
turns gradients into additive updates, so a training step is::

    updates, state = opt.update(grads, state, params)
    params = apply_updates(params, updates)          # p <- p + u

Nothing is mutated: every call returns new arrays.  Everything is written with
``funcgrad.numpy`` ops and ``funcgrad.tree`` with no Python branching on values, so
an update runs eagerly, under ``jit``, ``grad`` and ``vmap`` alike.

This module also holds the helpers every optimizer shares: validating a
learning rate (number, schedule or array), casting hyper-parameters to each
leaf's dtype, the int32 step counter and the structure checks.
"""
import numbers
from typing import Any, Callable, NamedTuple

import numpy as np

from .. import numpy as fnp
from .. import tree
from ..errors import TreeStructureError

__all__ = ["Optimizer", "EmptyState", "apply_updates", "chain"]


class _Pair(NamedTuple):
    init: Callable[[Any], Any]
    update: Callable[..., Any]


class Optimizer(_Pair):
    """A pure optimizer: ``init(params) -> state``, ``update(grads, state, params=None) -> (updates, state)``.

    ``update`` given a state that its ``init`` did not make (another optimizer's, or its
    arguments swapped) raises :class:`~funcgrad.errors.TreeStructureError` saying so."""

    __slots__ = ()

    def __new__(cls, init, update):
        return super().__new__(cls, init, _state_checked(update))


def _state_checked(update):
    """``update``, turning "the state has no field ``m``" into an error about the state."""
    if getattr(update, "_state_checked", False):
        return update

    def checked(grads, state, params=None, *args, **kwargs):
        try:
            return update(grads, state, params, *args, **kwargs)
        except AttributeError as e:
            obj = getattr(e, "obj", None)   # the state, or the copy update made of it
            if obj is not state and type(obj) is not type(state):
                raise
            from ..errors import user_location
            raise TreeStructureError(
                f"optimizer update: the state (of type {type(state).__name__}) has no field {e.name!r}: this "
                f"optimizer's init did not make it (at {user_location()}).\n"
                "Fix: pass the state returned by this optimizer's own init (or by its last update), in the "
                "order update(grads, state, params).") from None

    checked._state_checked = True
    checked.__wrapped__ = update
    checked.__doc__ = update.__doc__
    return checked


class EmptyState(NamedTuple):
    """The state of a stateless transform (no leaves)."""


# ----------------------------------------------------------------------------- hyper-parameters

def is_python_scalar(x):
    """True for Python ``int``/``float`` (not bool, not NumPy scalars): weakly typed values."""
    return type(x) in (int, float)


def is_static_zero(x):
    """True when ``x`` is a Python number equal to 0, so a term can be left out at build time.

    Arrays and traced values are never "static zero": their value may change at run
    time (``inject_hyperparams``), so the term stays in the computation.
    """
    return is_python_scalar(x) and x == 0


def _is_array(x):
    return hasattr(x, "shape") and hasattr(x, "dtype")


def check_hyperparam(value, name, owner):
    """Accept a real number or a numeric array (concrete or traced); else ``TypeError``."""
    if isinstance(value, bool) or not (isinstance(value, numbers.Real) or _is_array(value)):
        raise TypeError(f"{owner}: {name} must be a real number or an array, not {type(value).__name__} "
                        f"({value!r}).")
    if _is_array(value) and np.dtype(value.dtype).kind not in "fiu":
        raise TypeError(f"{owner}: {name} must have a numeric dtype, not {value.dtype}.")
    return value


def as_schedule(learning_rate, owner, name="learning_rate"):
    """``count -> value`` for a learning rate given as a number, an array or a schedule.

    Checked when the optimizer is built: anything else (a string, None, a list)
    raises ``TypeError`` there, not at the first step.
    """
    if isinstance(learning_rate, bool):
        raise TypeError(f"{owner}: {name} must be a number, a schedule (a callable step -> value) or an "
                        f"array, not a bool ({learning_rate!r}).")
    if isinstance(learning_rate, numbers.Real) or _is_array(learning_rate):
        check_hyperparam(learning_rate, name, owner)
        return lambda count: learning_rate
    if callable(learning_rate):
        return learning_rate
    raise TypeError(f"{owner}: {name} must be a number, a schedule (a callable step -> value) or an array, "
                    f"not {type(learning_rate).__name__} ({learning_rate!r}).\n"
                    f"Fix: pass e.g. {name}=1e-3 or {name}=funcgrad.optim.cosine_decay(1e-3, 1000).")


def dtype_of(x):
    """The dtype of a leaf (array, traced value or Python scalar)."""
    return x.dtype if hasattr(x, "dtype") else fnp.asarray(x).dtype


def _is_jax_array(x):
    return type(x).__module__.startswith("jax")


def cast(value, dtype):
    """``value`` in ``dtype``: Python scalars stay weak (they adopt the leaf's dtype in
    arithmetic); arrays, NumPy scalars and traced values are converted.

    This is how learning rates, schedules' outputs and array hyper-parameters keep
    the params' dtype: a float64 run stays float64, a float32 run is not promoted.
    """
    if is_python_scalar(value):
        return value
    if _is_jax_array(value) or dtype_of(value) != dtype:
        return fnp.asarray(value, dtype=dtype)
    return value


def as_dtype(x, dtype):
    """``x`` converted to ``dtype`` when it is not already (no copy otherwise)."""
    return x if dtype_of(x) == dtype and not _is_jax_array(x) else fnp.asarray(x, dtype=dtype)


def eager_inputs(*trees):
    """The trees with their ``jax.Array`` leaves (results of ``jit``) as funcgrad eager arrays.

    Eager updates are NumPy computations.  A ``jax.Array`` leaf would send Python
    operators (``b1 * m``) to jax, which computes in float32 unless jax's x64 mode is
    on; converting at the door keeps float64 runs float64.  Traced values and NumPy
    arrays pass through untouched.
    """
    return tuple(None if t is None else tree.map(lambda x: fnp.asarray(x) if _is_jax_array(x) else x, t)
                 for t in trees)


def by_dtype(fn):
    """``dtype -> fn(dtype)``, computed once per dtype: per-step constants shared by the leaves."""
    cache = {}

    def get(dtype):
        if dtype not in cache:
            cache[dtype] = fn(dtype)
        return cache[dtype]

    return get


def zero_count():
    """A fresh step counter: a 0-d int32 array (so jitted steps never retrace on it)."""
    return fnp.zeros((), dtype=fnp.int32)


def increment(count):
    """``count + 1`` as a 0-d int32 array, saturating at the int32 maximum."""
    count = fnp.asarray(count)
    top = np.iinfo(np.int32).max
    return fnp.asarray(fnp.where(count < top, count + 1, count), dtype=fnp.int32)


def count_as(count, dtype):
    """The step counter as a floating value of ``dtype`` (for ``b ** t``)."""
    return fnp.asarray(count, dtype=dtype)


def highest_float_dtype(params, default=np.float32):
    """The widest floating dtype among the leaves of ``params`` (``default`` if none)."""
    dts = [dtype_of(x) for x in tree.leaves(params)]
    dts = [d for d in dts if np.dtype(d).kind == "f"]
    return np.result_type(*dts) if dts else np.dtype(default)


# ----------------------------------------------------------------------------- structures

def check_structure(owner, a, b, names):
    """``TreeStructureError`` naming the first differing path unless ``a`` and ``b`` match,
    and ``ShapeError`` naming the first leaf whose shapes differ."""
    if tree.structure(a) != tree.structure(b):
        tree.check_same_structure(owner, a, b, names=names)
    for i, (x, y) in enumerate(zip(tree.leaves(a), tree.leaves(b))):
        sx, sy = getattr(x, "shape", None), getattr(y, "shape", None)
        if sx is not None and sy is not None and tuple(sx) != tuple(sy):
            from jax.tree_util import tree_flatten_with_path
            from ..errors import ShapeError, user_location
            where = tree.keystr(tree_flatten_with_path(a)[0][i][0])
            raise ShapeError(
                f"{owner}: {names[0]} and {names[1]} differ in shape at {where}: {tuple(sx)} vs {tuple(sy)} "
                f"(at {user_location()}).\nFix: build the state with init(params) from params shaped like the "
                "gradients (a state made or saved for another model does not fit).")


def require_params(owner, params, why):
    """``ValueError`` when a transform that reads the params is given none."""
    if params is None:
        raise ValueError(f"{owner} needs the params ({why}): call update(grads, state, params).")


def zeros_like_tree(params):
    """A pytree of zeros shaped and typed like ``params``."""
    return tree.map(fnp.zeros_like, params)


def full_like_tree(params, value):
    """A pytree of ``value`` shaped and typed like ``params``."""
    return tree.map(lambda p: fnp.full_like(p, value), params)


def map_n(fn, n_out, first, *rest):
    """Leafwise ``fn`` over pytrees of one structure (checked by the caller) returning
    ``n_out`` values per leaf; gives ``n_out`` pytrees shaped like ``first``.

    This is how one update computes, per leaf, the update and each new state buffer
    in a single pass (``u, m, v = fn(g, m, v)``).
    """
    leaves, treedef = tree.flatten(first)
    others = [tree.leaves(r) for r in rest]
    outs = [fn(*xs) for xs in zip(leaves, *others, strict=True)]
    return tuple(tree.unflatten(treedef, [o[i] for o in outs]) for i in range(n_out))


def tree_where(cond, new, old):
    """Leafwise ``where(cond, new, old)`` over two pytrees of one structure, keeping ``old``'s dtypes."""
    return tree.map(lambda n, o: as_dtype(fnp.where(cond, n, o), dtype_of(o)), new, old)


def mask_leaves(mask, params, owner):
    """One Python bool per leaf of ``params`` from a mask pytree (or prefix), or a callable.

    ``mask`` may be a pytree of bools with the params' structure or a prefix of it
    (``{"w": True, "b": False}`` over nested params), or ``params -> such a pytree``.
    The bools are static: they choose the program, so they must be Python/NumPy bools.
    """
    if callable(mask):
        mask = mask(params)
    mask_flat, mask_def = tree.flatten(mask)
    try:
        subtrees = mask_def.flatten_up_to(params)
    except (ValueError, TypeError) as e:
        raise TreeStructureError(
            f"{owner}: the mask is not a prefix of the params' structure ({e}).\n"
            f"  mask: {mask_def}\n  params: {tree.structure(params)}\n"
            "Fix: give one bool per leaf (or per subtree) of the params.") from None
    out = []
    for m, sub in zip(mask_flat, subtrees, strict=True):
        if not isinstance(m, (bool, np.bool_)):
            raise TypeError(f"{owner}: mask leaves must be Python bools (they select the program), "
                            f"got {type(m).__name__}.")
        out.extend([bool(m)] * len(tree.leaves(sub)))
    return out


def decay_flags(mask, params, use_decay, owner):
    """A pytree shaped like ``params`` of static bools: where a weight-decay term applies."""
    if not use_decay:
        flags = [False] * len(tree.leaves(params))
    elif mask is None:
        flags = [True] * len(tree.leaves(params))
    else:
        flags = mask_leaves(mask, params, owner)
    return tree.unflatten(tree.structure(params), flags)


# ----------------------------------------------------------------------------- public helpers

def apply_updates(params, updates):
    """``params + updates`` leafwise, each result in its param's dtype.

    The optimizer's updates already carry the sign: ``apply_updates(p, u) = p + u``.
    """
    check_structure("apply_updates", params, updates, names=("params", "updates"))
    params, updates = eager_inputs(params, updates)
    return tree.map(lambda p, u: as_dtype(p + u, dtype_of(p)), params, updates)


def chain(*transforms):
    """Apply ``transforms`` one after the other; the state is a tuple of their states.

    ``chain(clip_by_global_norm(1.0), adam(1e-3))`` clips the gradients, then feeds
    them to Adam.  Each transform sees the previous one's output as its "grads" and
    the same ``params``.
    """
    transforms = tuple(transforms)
    for i, t in enumerate(transforms):
        if not (hasattr(t, "init") and hasattr(t, "update")):
            raise TypeError(f"chain: argument {i} is {type(t).__name__}, not an Optimizer (init, update) pair.")

    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(grads, state, params=None):
        if not isinstance(state, tuple) or len(state) != len(transforms):
            raise TreeStructureError(
                f"chain: the state must be a tuple of {len(transforms)} states (one per transform), "
                f"got {type(state).__name__}"
                + (f" of length {len(state)}" if isinstance(state, tuple) else "")
                + ".\nFix: pass the state that this chain's init (or last update) returned.")
        new_states = []
        for t, s in zip(transforms, state, strict=True):
            grads, s = t.update(grads, s, params)
            new_states.append(s)
        return grads, tuple(new_states)

    return Optimizer(init, update)
