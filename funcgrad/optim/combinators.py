"""Small gradient transformations to put in a :func:`~funcgrad.optim.chain`.

Each is an ``Optimizer(init, update)`` that rewrites the updates flowing through it:
clipping, scaling, adding weight decay.  ``chain`` itself lives in ``base``.
"""
from typing import Any, NamedTuple

from .. import numpy as fnp
from .. import tree
from .base import (EmptyState, Optimizer, cast, check_hyperparam, check_structure, decay_flags, dtype_of, eager_inputs,
                   increment, map_n, require_params, zero_count)

__all__ = ["clip_by_global_norm", "clip", "add_decayed_weights", "scale", "scale_by_schedule",
           "ScaleByScheduleState", "global_norm"]


class ScaleByScheduleState(NamedTuple):
    """``count``: how many updates went through (0-d int32), the schedule's argument."""

    count: Any


def _empty_init(params):
    return EmptyState()


def global_norm(updates):
    r""":math:`\sqrt{\sum_\text{leaves} \sum_i u_i^2}`, the 2-norm of all leaves together."""
    leaves = tree.leaves(updates)
    if not leaves:
        return fnp.zeros(())
    total = fnp.sum(leaves[0] * leaves[0])
    for u in leaves[1:]:
        total = total + fnp.sum(u * u)
    return fnp.sqrt(total)


def clip_by_global_norm(max_norm):
    r"""Rescale all updates together so their global norm is at most ``max_norm``:

    .. math:: u \leftarrow u \cdot \frac{c}{\max(\|u\|, c)}

    (unchanged when :math:`\|u\| \le c`).  Mapping: optax ``clip_by_global_norm``; torch
    ``nn.utils.clip_grad_norm_(params, c)`` (which adds 1e-6 to the norm).  Stateless.
    """
    check_hyperparam(max_norm, "max_norm", "clip_by_global_norm")

    def update(grads, state, params=None):
        grads, state, params = eager_inputs(grads, state, params)
        if not tree.leaves(grads):
            return grads, state
        norm = global_norm(grads)
        factor = max_norm / fnp.maximum(norm, max_norm)
        return tree.map(lambda u: u * cast(factor, dtype_of(u)), grads), state

    return Optimizer(_empty_init, update)


def clip(max_delta):
    r"""Clip every coordinate to :math:`[-\delta, \delta]` (optax ``clip``; torch
    ``nn.utils.clip_grad_value_``).  Stateless."""
    check_hyperparam(max_delta, "max_delta", "clip")

    def update(grads, state, params=None):
        grads, state, params = eager_inputs(grads, state, params)
        def one(u):
            d = cast(max_delta, dtype_of(u))
            return fnp.clip(u, -d, d)
        return tree.map(one, grads), state

    return Optimizer(_empty_init, update)


def add_decayed_weights(weight_decay=0.0, mask=None):
    r"""Add :math:`\lambda p` to the updates where ``mask`` is True (all leaves if None).

    Before a learning-rate scaling this is an L2 penalty's gradient (torch's coupled
    ``weight_decay``); after the adaptive scaling, inside e.g.
    ``chain(scale_by_..., add_decayed_weights(wd), scale(-lr))``, it is decoupled decay.
    Mapping: optax ``add_decayed_weights``.  ``update`` needs ``params``.  Stateless.
    """
    check_hyperparam(weight_decay, "weight_decay", "add_decayed_weights")

    def update(grads, state, params=None):
        grads, state, params = eager_inputs(grads, state, params)
        require_params("add_decayed_weights", params, "it adds weight_decay * params")
        check_structure("add_decayed_weights", grads, params, names=("updates", "params"))
        flags = decay_flags(mask, params, True, "add_decayed_weights")

        def one(u, p, here):
            return (u + cast(weight_decay, dtype_of(u)) * p) if here else u
        (out,) = map_n(lambda u, p, f: (one(u, p, f),), 1, grads, params, flags)
        return out, state

    return Optimizer(_empty_init, update)


def scale(step_size):
    r""":math:`u \leftarrow s\,u` (optax ``scale``).  ``scale(-lr)`` after a direction-finding
    transform makes it a descent step.  Stateless."""
    check_hyperparam(step_size, "step_size", "scale")

    def update(grads, state, params=None):
        grads, state, params = eager_inputs(grads, state, params)
        return tree.map(lambda u: cast(step_size, dtype_of(u)) * u, grads), state

    return Optimizer(_empty_init, update)


def scale_by_schedule(step_size_fn):
    r""":math:`u \leftarrow s(k)\,u` at the :math:`k`-th update (from 0), with ``s`` a schedule
    (optax ``scale_by_schedule``).  State: :class:`ScaleByScheduleState` ``(count)``."""
    if not callable(step_size_fn):
        raise TypeError(f"scale_by_schedule: step_size_fn must be a callable step -> value, "
                        f"not {type(step_size_fn).__name__}.")

    def init(params):
        return ScaleByScheduleState(count=zero_count())

    def update(grads, state, params=None):
        grads, state, params = eager_inputs(grads, state, params)
        s = step_size_fn(state.count)
        return (tree.map(lambda u: cast(s, dtype_of(u)) * u, grads),
                ScaleByScheduleState(count=increment(state.count)))

    return Optimizer(init, update)
