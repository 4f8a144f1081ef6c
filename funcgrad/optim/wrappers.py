"""Optimizers that wrap other optimizers: ``masked``, ``freeze``, ``apply_if_finite``,
``multi_steps`` and ``inject_hyperparams``.

None of them branches in Python on a value: a step that "does nothing" computes the
inner update anyway and selects with ``where``, so every wrapper jits (and vmaps)
with one program.
"""
import functools
import inspect
import numbers
from typing import Any, NamedTuple

import numpy as np

from .. import numpy as fnp
from .. import tree
from .base import (EmptyState, Optimizer, as_dtype, check_structure, dtype_of, eager_inputs, highest_float_dtype,
                   increment, mask_leaves, tree_where, zero_count, zeros_like_tree)

__all__ = ["masked", "freeze", "apply_if_finite", "multi_steps", "inject_hyperparams", "MaskedNode",
           "MaskedState", "ApplyIfFiniteState", "MultiStepsState", "InjectHyperparamsState"]


class MaskedNode(NamedTuple):
    """Stands in for a masked-out leaf: a pytree node with no leaves (as optax's)."""


class MaskedState(NamedTuple):
    """``inner_state``: the inner optimizer's state over the selected leaves only."""

    inner_state: Any


class ApplyIfFiniteState(NamedTuple):
    """``notfinite_count``: consecutive non-finite steps; ``last_finite``: whether the last
    updates were finite; ``total_notfinite``: all non-finite steps; ``inner_state``."""

    notfinite_count: Any
    last_finite: Any
    total_notfinite: Any
    inner_state: Any


class MultiStepsState(NamedTuple):
    """``mini_step``: gradients accumulated so far in this round (0-d int32);
    ``gradient_step``: inner steps taken; ``inner_state``; ``acc_grads``: the running
    mean of this round's gradients, in the params' dtype."""

    mini_step: Any
    gradient_step: Any
    inner_state: Any
    acc_grads: Any


class InjectHyperparamsState(NamedTuple):
    """``count``: steps (0-d int32); ``hyperparams``: dict name -> array, read and replace
    between steps; ``inner_state``: the wrapped optimizer's state."""

    count: Any
    hyperparams: Any
    inner_state: Any


def _select(tree_, flags):
    """``tree_`` with the leaves whose flag is False replaced by :class:`MaskedNode`."""
    leaves, treedef = tree.flatten(tree_)
    return tree.unflatten(treedef, [x if f else MaskedNode() for x, f in zip(leaves, flags, strict=True)])


def _merge(flags, selected_new, old):
    """Leaves of ``selected_new`` where the flag is True, of ``old`` elsewhere."""
    new_leaves = iter(tree.leaves(selected_new))
    old_leaves, treedef = tree.flatten(old)
    return tree.unflatten(treedef, [next(new_leaves) if f else o for o, f in zip(old_leaves, flags, strict=True)])


def masked(inner, mask):
    """Apply ``inner`` to the leaves where ``mask`` is True; pass the other updates through unchanged.

    ``mask`` is a pytree of Python bools with the params' structure (or a prefix of
    it), or a callable ``params -> mask``.  ``inner`` only ever sees (and keeps state
    for) the selected leaves; the others are :class:`MaskedNode` placeholders.
    Semantics of optax's ``masked``.  State: :class:`MaskedState` ``(inner_state)``.
    """
    def init(params):
        flags = mask_leaves(mask, params, "masked")
        return MaskedState(inner_state=inner.init(_select(params, flags)))

    def update(grads, state, params=None):
        grads, state, params = eager_inputs(grads, state, params)
        if params is not None:
            check_structure("masked update", grads, params, names=("grads", "params"))
        flags = mask_leaves(mask, grads if params is None else params, "masked")
        sel_params = None if params is None else _select(params, flags)
        new, inner_state = inner.update(_select(grads, flags), state.inner_state, sel_params)
        return _merge(flags, new, grads), MaskedState(inner_state=inner_state)

    return Optimizer(init, update)


def freeze(mask, inner=None):
    """Zero the updates of the leaves where ``mask`` is True (frozen params do not move).

    ``freeze(mask)`` alone is stateless: put it first in a chain
    (``chain(freeze(mask), sgd(0.1))``).  ``freeze(mask, inner)`` applies ``inner`` to
    the trainable leaves only, so it keeps no state at all for the frozen ones (no Adam
    moments for a frozen backbone); its state is :class:`MaskedState`.  ``mask`` is as
    in :func:`masked` (True = frozen).
    """
    def zero_frozen(grads, flags):
        leaves, treedef = tree.flatten(grads)
        return tree.unflatten(treedef, [fnp.zeros_like(u) if f else u for u, f in zip(leaves, flags, strict=True)])

    if inner is None:
        def update(grads, state, params=None):
            grads, state, params = eager_inputs(grads, state, params)
            return zero_frozen(grads, mask_leaves(mask, grads if params is None else params, "freeze")), state
        return Optimizer(lambda params: EmptyState(), update)

    def trainable(params):
        flags = mask_leaves(mask, params, "freeze")
        return tree.unflatten(tree.structure(params), [not f for f in flags])

    wrapped = masked(inner, trainable)

    def update(grads, state, params=None):
        grads, state, params = eager_inputs(grads, state, params)
        updates, state = wrapped.update(grads, state, params)
        return zero_frozen(updates, mask_leaves(mask, grads if params is None else params, "freeze")), state

    return Optimizer(wrapped.init, update)


def _all_finite(tree_):
    ok = fnp.asarray(True)
    for u in tree.leaves(tree_):
        ok = fnp.logical_and(ok, fnp.all(fnp.isfinite(u)))
    return ok


def apply_if_finite(inner, max_consecutive_errors):
    """Skip steps whose gradients hold a NaN or Inf: the updates are zero and ``inner``'s
    state is unchanged.  After more than ``max_consecutive_errors`` such steps in a row
    the step is applied anyway (optax's ``apply_if_finite``, same semantics).
    State: :class:`ApplyIfFiniteState`.
    """
    if not isinstance(max_consecutive_errors, numbers.Integral) or max_consecutive_errors < 0:
        raise ValueError(f"apply_if_finite: max_consecutive_errors must be a non-negative int, "
                         f"got {max_consecutive_errors!r}.")

    def init(params):
        return ApplyIfFiniteState(notfinite_count=zero_count(), last_finite=fnp.asarray(True),
                                  total_notfinite=zero_count(), inner_state=inner.init(params))

    def update(grads, state, params=None):
        grads, state, params = eager_inputs(grads, state, params)
        finite = _all_finite(grads)
        notfinite_count = fnp.asarray(fnp.where(finite, zero_count(), increment(state.notfinite_count)),
                                      dtype=fnp.int32)
        with np.errstate(all="ignore"):   # a skipped step may compute inf - inf eagerly; it is discarded
            new_updates, new_inner = inner.update(grads, state.inner_state, params)
        apply = fnp.logical_or(finite, notfinite_count > max_consecutive_errors)
        updates = tree.map(lambda u: as_dtype(fnp.where(apply, u, fnp.zeros_like(u)), dtype_of(u)), new_updates)
        total = fnp.asarray(fnp.where(finite, state.total_notfinite, increment(state.total_notfinite)),
                            dtype=fnp.int32)
        return updates, ApplyIfFiniteState(notfinite_count=notfinite_count, last_finite=fnp.asarray(finite),
                                           total_notfinite=total,
                                           inner_state=tree_where(apply, new_inner, state.inner_state))

    return Optimizer(init, update)


def multi_steps(opt, every_k):
    r"""Gradient accumulation: average ``every_k`` consecutive gradients, then take one step of ``opt``.

    On mini-steps :math:`1..k-1` of a round the updates are zero and ``opt``'s state is
    unchanged; on the :math:`k`-th, ``opt`` gets the mean :math:`\frac1k\sum_i g_i`
    (kept as a running mean :math:`a \leftarrow a + (g - a)/(n+1)` in the params'
    dtype) and its update is returned.  optax ``MultiSteps(opt, every_k)``.
    State: :class:`MultiStepsState`.
    """
    if not isinstance(every_k, numbers.Integral) or every_k < 1:
        raise ValueError(f"multi_steps: every_k must be a positive int, got {every_k!r}.")

    def init(params):
        return MultiStepsState(mini_step=zero_count(), gradient_step=zero_count(), inner_state=opt.init(params),
                               acc_grads=zeros_like_tree(params))

    def update(grads, state, params=None):
        grads, state, params = eager_inputs(grads, state, params)
        check_structure("multi_steps update", grads, state.acc_grads, names=("grads", "state.acc_grads"))
        n1 = state.mini_step + 1

        def accumulate(g, a):
            dt = dtype_of(a)
            return as_dtype(a + (g - a) / fnp.asarray(n1, dtype=dt), dt)

        acc = tree.map(accumulate, grads, state.acc_grads)
        emit = state.mini_step == every_k - 1
        new_updates, new_inner = opt.update(acc, state.inner_state, params)
        updates = tree.map(lambda u: as_dtype(fnp.where(emit, u, fnp.zeros_like(u)), dtype_of(u)), new_updates)
        return updates, MultiStepsState(
            mini_step=fnp.asarray(fnp.where(emit, 0, n1), dtype=fnp.int32),
            gradient_step=fnp.asarray(fnp.where(emit, increment(state.gradient_step), state.gradient_step),
                                      dtype=fnp.int32),
            inner_state=tree_where(emit, new_inner, state.inner_state),
            acc_grads=tree.map(lambda a: fnp.where(emit, fnp.zeros_like(a), a), acc))

    return Optimizer(init, update)


def _is_numeric(value):
    return (isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))) or (
        hasattr(value, "shape") and hasattr(value, "dtype") and np.dtype(value.dtype).kind in "fiu")


def _to_hyperparam(value, dtype):
    """A hyper-parameter as an array: Python numbers and float arrays in ``dtype``; integer arrays as they are."""
    if type(value) in (int, float):
        return fnp.asarray(value, dtype=dtype)
    arr = fnp.asarray(value)
    return as_dtype(arr, dtype) if np.dtype(arr.dtype).kind == "f" else arr


def inject_hyperparams(inner_factory, static_args=()):
    """Move ``inner_factory``'s numeric hyper-parameters into the optimizer state.

    ``opt = inject_hyperparams(adam)(learning_rate=1e-3)`` behaves like ``adam(1e-3)``,
    but its state is :class:`InjectHyperparamsState` whose ``hyperparams`` dict holds
    ``learning_rate`` as an array.  Read it, or replace it between steps
    (``state.hyperparams["learning_rate"] = 1e-4``), and a jitted step picks the new
    value up without recompiling.  A callable argument is a schedule: it is evaluated at
    the step count and its value stored in ``hyperparams`` (a callable ``mask``, or any
    name in ``static_args``, is passed through unchanged instead).

    Only the arguments you pass are injected; the factory's defaults stay Python
    constants, so e.g. ``sgd``'s default ``momentum=0.0`` still means "no momentum
    buffer".  Float hyper-parameters take the params' (widest float) dtype.
    """
    static_args = {static_args} if isinstance(static_args, str) else set(static_args)
    signature = inspect.signature(inner_factory)
    unknown = static_args - set(signature.parameters)
    if unknown:
        raise ValueError(f"inject_hyperparams: static_args {sorted(unknown)} are not parameters of "
                         f"{getattr(inner_factory, '__name__', inner_factory)}{signature}.")

    @functools.wraps(inner_factory)
    def wrapped(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        schedules, numeric, other = {}, {}, {}
        for name, value in bound.arguments.items():
            if name in static_args or name == "mask" or isinstance(value, (bool, np.bool_)) or value is None:
                other[name] = value
            elif _is_numeric(value):
                numeric[name] = value
            elif callable(value):
                schedules[name] = value
            else:
                other[name] = value
        inner_factory(**other, **numeric, **{k: f(0) for k, f in schedules.items()})  # errors surface now

        def current(hyperparams, count, dtype):
            hps = {k: _to_hyperparam(v, dtype) for k, v in hyperparams.items()}
            hps.update({k: _to_hyperparam(f(count), dtype) for k, f in schedules.items()})
            return hps

        def init(params):
            count = zero_count()
            hps = current(numeric, count, highest_float_dtype(params))
            return InjectHyperparamsState(count=count, hyperparams=hps,
                                          inner_state=inner_factory(**other, **hps).init(params))

        def update(grads, state, params=None):
            grads, state, params = eager_inputs(grads, state, params)
            hps = current(state.hyperparams, state.count, highest_float_dtype(grads))
            updates, inner_state = inner_factory(**other, **hps).update(grads, state.inner_state, params)
            return updates, InjectHyperparamsState(count=increment(state.count), hyperparams=hps,
                                                   inner_state=inner_state)

        return Optimizer(init, update)

    return wrapped
