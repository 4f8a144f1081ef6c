"""Stochastic gradient descent with torch.optim.SGD's momentum, Nesterov and weight decay."""
from typing import Any, NamedTuple

from .. import tree
from .base import (Optimizer, as_schedule, cast, check_hyperparam, check_structure, dtype_of, eager_inputs, increment,
                   is_static_zero, map_n, require_params, zero_count, zeros_like_tree)

__all__ = ["sgd", "SGDState"]


class SGDState(NamedTuple):
    """``t``: steps taken (0-d int32); ``momentum_buffer``: torch's ``b`` per param, or
    None when ``momentum`` is the Python number 0 (plain SGD keeps no buffer)."""

    t: Any
    momentum_buffer: Any


def sgd(learning_rate, momentum=0.0, nesterov=False, weight_decay=0.0):
    r"""SGD as ``torch.optim.SGD`` (with ``dampening=0``).

    At step :math:`t` (counting from 0) with gradient :math:`g` and params :math:`p`:

    .. math::
        g' = g + \lambda p \qquad
        b_{t+1} = \mu b_t + g' \quad (b_0 = 0) \qquad
        d = g' + \mu b_{t+1} \text{ (nesterov) else } b_{t+1} \qquad
        u = -\eta_t d

    with :math:`\eta_t` = ``learning_rate`` (or ``learning_rate(t)`` for a schedule),
    :math:`\mu` = ``momentum`` and :math:`\lambda` = ``weight_decay``.  Without momentum
    :math:`u = -\eta_t g'`.

    Mapping: torch ``SGD(lr, momentum, nesterov=..., weight_decay=...)`` step for step
    (torch starts its buffer at :math:`g'`, the same as :math:`\mu\cdot 0 + g'`).
    optax: ``sgd(lr, momentum, nesterov)`` is the same update (optax's ``trace`` is
    torch's buffer); torch's ``weight_decay`` is optax's
    ``chain(add_decayed_weights(wd), sgd(...))``, an L2 term added to the gradient
    *before* momentum (for decoupled decay use :func:`adamw`-style
    ``add_decayed_weights`` after, or :func:`add_decayed_weights` in a chain).
    ``update`` needs ``params`` only when ``weight_decay`` is not 0.
    """
    lr = as_schedule(learning_rate, "sgd")
    check_hyperparam(momentum, "momentum", "sgd")
    check_hyperparam(weight_decay, "weight_decay", "sgd")
    use_momentum = not is_static_zero(momentum)
    use_decay = not is_static_zero(weight_decay)
    if nesterov and not use_momentum:
        raise ValueError("sgd: nesterov=True needs a momentum (torch: 'Nesterov momentum requires a "
                         "momentum and zero dampening').")

    def init(params):
        return SGDState(t=zero_count(), momentum_buffer=zeros_like_tree(params) if use_momentum else None)

    def update(grads, state, params=None):
        grads, state, params = eager_inputs(grads, state, params)
        if params is not None:
            check_structure("sgd update", grads, params, names=("grads", "params"))
        if use_momentum:
            check_structure("sgd update", grads, state.momentum_buffer, names=("grads", "state.momentum_buffer"))
        if use_decay:
            require_params("sgd(weight_decay=...)", params, "it adds weight_decay * params to the gradient")
            grads = tree.map(lambda g, p: g + cast(weight_decay, dtype_of(g)) * p, grads, params)
        eta = lr(state.t)

        def step(g, b):
            dt = dtype_of(g)
            mu = cast(momentum, dt)
            b = mu * b + g
            d = g + mu * b if nesterov else b
            return -cast(eta, dt) * d, b

        if use_momentum:
            updates, buf = map_n(step, 2, grads, state.momentum_buffer)
        else:
            updates = tree.map(lambda g: -cast(eta, dtype_of(g)) * g, grads)
            buf = None
        return updates, SGDState(t=increment(state.t), momentum_buffer=buf)

    return Optimizer(init, update)
