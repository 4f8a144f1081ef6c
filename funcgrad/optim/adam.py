"""The Adam family: ``adam``, ``adamw`` (decoupled weight decay) and ``lamb`` (layer-wise trust ratio).

All three keep the same two moment buffers and share :func:`adam_direction`.
"""
from typing import Any, NamedTuple

from .. import numpy as fnp
from .base import (Optimizer, as_schedule, by_dtype, cast, check_hyperparam, check_structure, count_as,
                   decay_flags, dtype_of, eager_inputs, increment, is_static_zero, map_n, require_params, zero_count,
                   zeros_like_tree)

__all__ = ["adam", "adamw", "lamb", "AdamState", "AdamWState", "LambState", "adam_direction", "adam_constants"]


class AdamState(NamedTuple):
    """``t``: steps taken (0-d int32); ``m``, ``v``: first and second moments, shaped like the params."""

    t: Any
    m: Any
    v: Any


class AdamWState(NamedTuple):
    """As :class:`AdamState`: ``t`` steps, moments ``m`` and ``v``."""

    t: Any
    m: Any
    v: Any


class LambState(NamedTuple):
    """As :class:`AdamState`: ``t`` steps, moments ``m`` and ``v``."""

    t: Any
    m: Any
    v: Any


def adam_constants(t1, b1, b2, eps, dtype):
    """``(b1, b2, eps, 1 - b1^(t+1), 1 - b2^(t+1))`` in ``dtype``: the per-step constants of
    :func:`adam_direction`, computed once per dtype rather than once per leaf."""
    b1, b2, eps = cast(b1, dtype), cast(b2, dtype), cast(eps, dtype)
    tf = count_as(t1, dtype)
    return b1, b2, eps, 1 - b1 ** tf, 1 - b2 ** tf


def adam_direction(g, m, v, constants):
    r"""One leaf of Adam: ``(d, m', v')`` with

    .. math::
        m' = \beta_1 m + (1-\beta_1) g \quad v' = \beta_2 v + (1-\beta_2) g^2 \quad
        d = \frac{m' / (1-\beta_1^{t+1})}{\sqrt{v' / (1-\beta_2^{t+1})} + \epsilon}

    where ``constants`` is :func:`adam_constants` for ``g``'s dtype.
    """
    b1, b2, eps, bc1, bc2 = constants
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * (g * g)
    return (m / bc1) / (fnp.sqrt(v / bc2) + eps), m, v


def _adam_like(name, state_cls, learning_rate, b1, b2, eps, weight_decay, mask, trust_ratio):
    """Adam with optional decoupled decay on the ``mask``-ed leaves and optional LAMB trust ratio."""
    lr = as_schedule(learning_rate, name)
    for hp, value in (("b1", b1), ("b2", b2), ("eps", eps), ("weight_decay", weight_decay)):
        check_hyperparam(value, hp, name)
    use_decay = not is_static_zero(weight_decay)
    needs_params = use_decay or trust_ratio

    def init(params):
        return state_cls(t=zero_count(), m=zeros_like_tree(params), v=zeros_like_tree(params))

    def update(grads, state, params=None):
        grads, state, params = eager_inputs(grads, state, params)
        check_structure(f"{name} update", grads, state.m, names=("grads", "state.m"))
        check_structure(f"{name} update", grads, state.v, names=("grads", "state.v"))
        if needs_params:
            require_params(name, params, "decoupled weight decay" if not trust_ratio else "the trust ratio")
        if params is not None:
            check_structure(f"{name} update", grads, params, names=("grads", "params"))
        eta = lr(state.t)
        t1 = increment(state.t)
        ref = grads if params is None else params   # params where the math reads them
        decay = decay_flags(mask, ref, use_decay, name)
        constants = by_dtype(lambda dt: adam_constants(t1, b1, b2, eps, dt))

        def step(g, m, v, p, wd_here):
            dt = dtype_of(g)
            d, m, v = adam_direction(g, m, v, constants(dt))
            if wd_here:
                d = d + cast(weight_decay, dt) * p
            if trust_ratio:
                d = d * _trust_ratio(p, d)
            return -cast(eta, dt) * d, m, v

        updates, m, v = map_n(step, 3, grads, state.m, state.v, ref, decay)
        return updates, state_cls(t=t1, m=m, v=v)

    return Optimizer(init, update)


def _trust_ratio(p, d):
    r"""LAMB's :math:`\|p\| / \|d\|` for one leaf, 1 where either norm is 0 (optax's ``scale_by_trust_ratio``)."""
    pn = fnp.sqrt(fnp.sum(p * p))
    dn = fnp.sqrt(fnp.sum(d * d))
    zero = fnp.logical_or(pn == 0, dn == 0)
    return fnp.where(zero, fnp.ones_like(pn), pn / fnp.where(zero, fnp.ones_like(dn), dn))


def adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8):
    r"""Adam (Kingma & Ba).  With :math:`\eta_t` the learning rate at step :math:`t` (from 0):

    .. math::
        m_{t+1} = \beta_1 m_t + (1-\beta_1) g \qquad v_{t+1} = \beta_2 v_t + (1-\beta_2) g^2 \\
        \hat m = m_{t+1}/(1-\beta_1^{t+1}) \qquad \hat v = v_{t+1}/(1-\beta_2^{t+1}) \qquad
        u = -\eta_t\, \hat m / (\sqrt{\hat v} + \epsilon)

    Mapping: torch ``Adam(lr, betas=(b1, b2), eps)`` (no weight decay, ``amsgrad=False``)
    and optax ``adam(lr, b1, b2, eps)`` compute the same update; the defaults agree.
    State: :class:`AdamState` ``(t, m, v)``.
    """
    return _adam_like("adam", AdamState, learning_rate, b1, b2, eps, 0.0, None, trust_ratio=False)


def adamw(learning_rate, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-2, mask=None):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter):

    .. math::
        u = -\eta_t \left(\hat m / (\sqrt{\hat v} + \epsilon) + \lambda p\right)

    with :math:`\hat m, \hat v` as in :func:`adam`; the decay term applies only to the
    leaves where ``mask`` (a pytree of bools, a prefix of the params, or a callable
    ``params -> mask``) is True.

    Mapping: torch ``AdamW(lr, betas, eps, weight_decay=1e-2)`` multiplies the params by
    :math:`1-\eta_t\lambda` before the Adam step, which is the same update, and its default
    :math:`\lambda = 10^{-2}` is ours.  optax ``adamw`` has the same formula with
    ``weight_decay=1e-4`` by default: pass ``weight_decay=1e-4`` for optax's.
    ``update`` needs ``params``.  State: :class:`AdamWState` ``(t, m, v)``.
    """
    return _adam_like("adamw", AdamWState, learning_rate, b1, b2, eps, weight_decay, mask, trust_ratio=False)


def lamb(learning_rate, b1=0.9, b2=0.999, eps=1e-6, weight_decay=0.0, mask=None):
    r"""LAMB (You et al.), as optax's ``lamb`` (torch.optim has none).  Per param leaf:

    .. math::
        d = \hat m / (\sqrt{\hat v} + \epsilon) + \lambda p \qquad
        r = \frac{\|p\|}{\|d\|} \text{ (1 if either norm is 0)} \qquad u = -\eta_t\, r\, d

    with :math:`\hat m, \hat v` as in :func:`adam` and the decay only where ``mask`` is
    True.  Defaults are optax's (``eps=1e-6``, ``weight_decay=0``).  ``update`` needs
    ``params``.  State: :class:`LambState` ``(t, m, v)``.
    """
    return _adam_like("lamb", LambState, learning_rate, b1, b2, eps, weight_decay, mask, trust_ratio=True)
