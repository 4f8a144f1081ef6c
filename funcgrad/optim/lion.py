"""Lion: the sign of an interpolated momentum (Chen et al., "Symbolic Discovery of Optimization Algorithms")."""
from typing import Any, NamedTuple

from .. import numpy as fnp
from .base import (Optimizer, as_schedule, cast, check_hyperparam, check_structure, decay_flags, dtype_of, eager_inputs,
                   increment, is_static_zero, map_n, require_params, zero_count, zeros_like_tree)

__all__ = ["lion", "LionState"]


class LionState(NamedTuple):
    """``t``: steps (0-d int32); ``m``: the momentum, shaped like the params."""

    t: Any
    m: Any


def lion(learning_rate, b1=0.9, b2=0.99, weight_decay=1e-3, mask=None):
    r"""Lion, as optax's ``lion`` (torch.optim has none).  Per leaf:

    .. math::
        c = \operatorname{sign}\big((1-\beta_1) g + \beta_1 m\big) \qquad
        m' = \beta_2 m + (1-\beta_2) g \qquad
        u = -\eta_t\, (c + \lambda p)

    with the decay term only where ``mask`` is True.  Defaults are optax's
    (``b1=0.9, b2=0.99, weight_decay=1e-3``).  ``update`` needs ``params`` unless
    ``weight_decay`` is 0.  State: :class:`LionState` ``(t, m)``.
    """
    lr = as_schedule(learning_rate, "lion")
    for hp, value in (("b1", b1), ("b2", b2), ("weight_decay", weight_decay)):
        check_hyperparam(value, hp, "lion")
    use_decay = not is_static_zero(weight_decay)

    def init(params):
        return LionState(t=zero_count(), m=zeros_like_tree(params))

    def update(grads, state, params=None):
        grads, state, params = eager_inputs(grads, state, params)
        check_structure("lion update", grads, state.m, names=("grads", "state.m"))
        if use_decay:
            require_params("lion", params, "decoupled weight decay; pass weight_decay=0.0 to go without")
        if params is not None:
            check_structure("lion update", grads, params, names=("grads", "params"))
        eta = lr(state.t)
        ref = grads if params is None else params
        decay = decay_flags(mask, ref, use_decay, "lion")

        def step(g, m, p, wd_here):
            dt = dtype_of(g)
            c1, c2 = cast(b1, dt), cast(b2, dt)
            d = fnp.sign((1 - c1) * g + c1 * m)
            if wd_here:
                d = d + cast(weight_decay, dt) * p
            return -cast(eta, dt) * d, c2 * m + (1 - c2) * g

        updates, m = map_n(step, 2, grads, state.m, ref, decay)
        return updates, LionState(t=increment(state.t), m=m)

    return Optimizer(init, update)
