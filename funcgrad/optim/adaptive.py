"""Per-coordinate adaptive step sizes: ``rmsprop`` and ``adagrad``, with torch.optim's defaults."""
from typing import Any, NamedTuple

from .. import numpy as fnp
from .base import (Optimizer, as_schedule, cast, check_hyperparam, check_structure, dtype_of, eager_inputs,
                   full_like_tree, increment, is_static_zero, map_n, zero_count, zeros_like_tree)

__all__ = ["rmsprop", "adagrad", "RMSpropState", "AdagradState"]


class RMSpropState(NamedTuple):
    """``t``: steps (0-d int32); ``square_avg``: EMA of :math:`g^2`; ``grad_avg``: EMA of
    :math:`g` (None unless ``centered``); ``momentum_buffer`` (None when momentum is 0).
    Field names are torch's."""

    t: Any
    square_avg: Any
    grad_avg: Any
    momentum_buffer: Any


class AdagradState(NamedTuple):
    """``t``: steps (0-d int32); ``sum_of_squares``: :math:`\\sum g^2` plus the initial value."""

    t: Any
    sum_of_squares: Any


def rmsprop(learning_rate, decay=0.99, eps=1e-8, momentum=0.0, centered=False, eps_in_sqrt=False):
    r"""RMSprop as ``torch.optim.RMSprop`` (``alpha`` is our ``decay``).  Per leaf:

    .. math::
        s' = \alpha s + (1-\alpha) g^2 \qquad
        a' = \alpha a + (1-\alpha) g \text{ (centered)} \qquad
        \sigma = \sqrt{s' - a'^2} + \epsilon \text{ (centered) else } \sqrt{s'} + \epsilon \\
        b' = \mu b + g/\sigma \qquad u = -\eta_t\, b' \text{ (momentum) else } -\eta_t\, g/\sigma

    Mapping: torch ``RMSprop(lr, alpha=0.99, eps=1e-8, momentum, centered)`` step for
    step (its defaults are ours).  optax ``rmsprop`` uses ``decay=0.9`` and puts
    :math:`\epsilon` inside the root, :math:`\sigma = \sqrt{s' + \epsilon}`: pass
    ``decay=0.9, eps_in_sqrt=True`` for optax's update.  With momentum, optax traces the
    learning-rate-scaled step (:math:`b' = \mu b + \eta_t g/\sigma`), torch and funcgrad
    the unscaled one; they agree for a constant learning rate.  torch's
    ``weight_decay`` is ``chain(add_decayed_weights(wd), rmsprop(...))``.
    State: :class:`RMSpropState` ``(t, square_avg, grad_avg, momentum_buffer)``.
    """
    lr = as_schedule(learning_rate, "rmsprop")
    for hp, value in (("decay", decay), ("eps", eps), ("momentum", momentum)):
        check_hyperparam(value, hp, "rmsprop")
    use_momentum = not is_static_zero(momentum)

    def init(params):
        return RMSpropState(t=zero_count(), square_avg=zeros_like_tree(params),
                            grad_avg=zeros_like_tree(params) if centered else None,
                            momentum_buffer=zeros_like_tree(params) if use_momentum else None)

    def update(grads, state, params=None):
        grads, state, params = eager_inputs(grads, state, params)
        names = ["square_avg"] + (["grad_avg"] if centered else []) + (["momentum_buffer"] if use_momentum else [])
        for field in names:
            check_structure("rmsprop update", grads, getattr(state, field), names=("grads", f"state.{field}"))
        if params is not None:
            check_structure("rmsprop update", grads, params, names=("grads", "params"))
        eta = lr(state.t)
        # Unused buffers travel as the grads (a placeholder of the right structure).
        ga_in = state.grad_avg if centered else grads
        buf_in = state.momentum_buffer if use_momentum else grads

        def step(g, s, a, b):
            dt = dtype_of(g)
            al, ep, mu = cast(decay, dt), cast(eps, dt), cast(momentum, dt)
            s = al * s + (1 - al) * (g * g)
            var = s
            if centered:
                a = al * a + (1 - al) * g
                var = s - a * a
            sigma = fnp.sqrt(var + ep) if eps_in_sqrt else fnp.sqrt(var) + ep
            d = g / sigma
            if use_momentum:
                b = mu * b + d
                d = b
            return -cast(eta, dt) * d, s, a, b

        updates, s, a, b = map_n(step, 4, grads, state.square_avg, ga_in, buf_in)
        return updates, RMSpropState(t=increment(state.t), square_avg=s, grad_avg=a if centered else None,
                                     momentum_buffer=b if use_momentum else None)

    return Optimizer(init, update)


def adagrad(learning_rate, eps=1e-10, initial_accumulator_value=0.0, eps_in_sqrt=False):
    r"""Adagrad as ``torch.optim.Adagrad`` (``lr_decay=0``).  Per leaf:

    .. math::
        s' = s + g^2 \quad (s_0 = \text{initial\_accumulator\_value}) \qquad
        u = -\eta_t\, g / (\sqrt{s'} + \epsilon)

    Mapping: torch ``Adagrad(lr, eps=1e-10, initial_accumulator_value=0)`` step for step
    (its defaults are ours).  optax ``adagrad(lr, initial_accumulator_value=0.1,
    eps=1e-7)`` puts :math:`\epsilon` inside the root and zeroes the update where
    :math:`s' = 0`, :math:`u = -\eta_t\, g / \sqrt{s' + \epsilon}`: pass
    ``eps_in_sqrt=True, initial_accumulator_value=0.1, eps=1e-7`` for optax's.
    State: :class:`AdagradState` ``(t, sum_of_squares)``.
    """
    lr = as_schedule(learning_rate, "adagrad")
    for hp, value in (("eps", eps), ("initial_accumulator_value", initial_accumulator_value)):
        check_hyperparam(value, hp, "adagrad")

    def init(params):
        return AdagradState(t=zero_count(), sum_of_squares=full_like_tree(params, initial_accumulator_value))

    def update(grads, state, params=None):
        grads, state, params = eager_inputs(grads, state, params)
        check_structure("adagrad update", grads, state.sum_of_squares, names=("grads", "state.sum_of_squares"))
        if params is not None:
            check_structure("adagrad update", grads, params, names=("grads", "params"))
        eta = lr(state.t)

        def step(g, s):
            dt = dtype_of(g)
            ep = cast(eps, dt)
            s = s + g * g
            if eps_in_sqrt:
                positive = s > 0
                d = fnp.where(positive, g / fnp.sqrt(fnp.where(positive, s, 1) + ep), 0)
            else:
                d = g / (fnp.sqrt(s) + ep)
            return -cast(eta, dt) * d, s

        updates, s = map_n(step, 2, grads, state.sum_of_squares)
        return updates, AdagradState(t=increment(state.t), sum_of_squares=s)

    return Optimizer(init, update)
