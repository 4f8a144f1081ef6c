"""Schedules: functions ``count -> value`` for learning rates (or any hyper-parameter).

Arguments follow optax's order and meaning.  ``count`` is the number of updates
already taken (the first update uses ``schedule(0)``); it may be a Python int, a 0-d
int32 array or a traced value, so schedules run eagerly and under ``jit``/``vmap``
(no Python branching on ``count``).  Values are computed in float64 (or the dtype of
an array argument); the optimizers cast them to each param's dtype, so a float64 run
stays float64 and a float32 run is not promoted.
"""
import math

from .. import numpy as fnp

__all__ = ["constant", "exponential_decay", "cosine_decay", "linear_schedule", "warmup_cosine_decay",
           "piecewise_constant"]


def _f(x):
    """Python numbers as float64 arrays (so no value is rounded to float32); arrays unchanged."""
    return fnp.asarray(x, dtype=fnp.float64) if type(x) in (int, float) else x


def _count(count):
    return fnp.asarray(count)


def constant(value):
    """``count -> value``."""
    return lambda count: _f(value)


def exponential_decay(init_value, transition_steps, decay_rate, transition_begin=0, staircase=False,
                      end_value=None):
    r"""Exponential decay (optax ``exponential_decay``):

    .. math:: v(k) = v_0 \cdot r^{(k - B)/T} \quad (v_0 \text{ for } k \le B)

    with :math:`T` = ``transition_steps``, :math:`r` = ``decay_rate``, :math:`B` =
    ``transition_begin``; ``staircase`` floors the exponent; ``end_value`` bounds the
    value (below if :math:`r<1`, above otherwise).  torch ``ExponentialLR(gamma)`` is
    ``transition_steps=1, decay_rate=gamma``.
    """
    if transition_steps <= 0 or decay_rate == 0:
        return constant(init_value)
    transition_begin = max(transition_begin, 0)

    def schedule(count):
        k = _count(count) - transition_begin
        p = k / transition_steps
        if staircase:
            p = fnp.floor(p)
        v0 = _f(init_value)
        value = fnp.where(k <= 0, v0, v0 * fnp.power(_f(decay_rate), p))
        if end_value is not None:
            bound = fnp.maximum if decay_rate < 1 else fnp.minimum
            value = bound(value, _f(end_value))
        return value

    return schedule


def cosine_decay(init_value, decay_steps, alpha=0.0, exponent=1.0):
    r"""Cosine decay (optax ``cosine_decay_schedule``) over ``decay_steps`` steps, then flat:

    .. math:: v(k) = v_0 \left[(1-\alpha)\left(\tfrac12\big(1 + \cos(\pi \min(k, T)/T)\big)\right)^{e} + \alpha\right]

    torch ``CosineAnnealingLR(T_max=T, eta_min=alpha * v0)`` for :math:`k \le T`.
    """
    if not decay_steps > 0:
        raise ValueError(f"cosine_decay: decay_steps must be positive, got {decay_steps!r}.")

    def schedule(count):
        k = fnp.minimum(fnp.asarray(_count(count), dtype=fnp.float64), float(decay_steps))
        cos = 0.5 * (1 + fnp.cos(math.pi * k / decay_steps))
        return _f(init_value) * ((1 - _f(alpha)) * cos ** _f(exponent) + _f(alpha))

    return schedule


def linear_schedule(init_value, end_value, transition_steps, transition_begin=0):
    r"""Linear interpolation from ``init_value`` to ``end_value`` over ``transition_steps``
    steps starting at ``transition_begin`` (optax ``linear_schedule``):

    .. math:: v(k) = (v_0 - v_1)\left(1 - \tfrac{\operatorname{clip}(k - B, 0, T)}{T}\right) + v_1

    torch ``LinearLR`` with factors ``v0/lr``, ``v1/lr``.
    """
    if transition_steps <= 0:
        return constant(init_value)
    transition_begin = max(transition_begin, 0)

    def schedule(count):
        k = fnp.clip(_count(count) - transition_begin, 0, transition_steps)
        frac = 1 - k / transition_steps
        return (_f(init_value) - _f(end_value)) * frac + _f(end_value)

    return schedule


def warmup_cosine_decay(init_value, peak_value, warmup_steps, decay_steps, end_value=0.0, exponent=1.0):
    r"""Linear warm-up from ``init_value`` to ``peak_value`` over ``warmup_steps``, then cosine
    decay to ``end_value``; ``decay_steps`` is the *total* length, warm-up included
    (optax ``warmup_cosine_decay_schedule``):

    .. math:: v(k) = \text{linear}(k) \; (k < W), \qquad
              v(k) = \text{cosine\_decay}(v_p, D - W, \alpha = v_e/v_p)(k - W) \; (k \ge W)
    """
    alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
    warmup = linear_schedule(init_value, peak_value, warmup_steps)
    decay = cosine_decay(peak_value, decay_steps - warmup_steps, alpha=alpha, exponent=exponent)

    def schedule(count):
        k = _count(count)
        return fnp.where(k < warmup_steps, warmup(k), decay(k - warmup_steps))

    return schedule


def piecewise_constant(init_value, boundaries_and_scales=None):
    r"""``init_value`` times every ``scale`` whose boundary has been reached (optax
    ``piecewise_constant_schedule``):

    .. math:: v(k) = v_0 \prod_{b_i \le k} s_i

    ``boundaries_and_scales`` is a dict ``{step: scale}``.  torch ``MultiStepLR(milestones,
    gamma)`` is ``{m: gamma for m in milestones}``.
    """
    items = sorted((boundaries_and_scales or {}).items())
    if any(s < 0 for _, s in items):
        raise ValueError("piecewise_constant: scales must be non-negative.")

    def schedule(count):
        k = _count(count)
        value = _f(init_value)
        for boundary, s in items:
            value = fnp.where(k < boundary, value, value * _f(s))
        return value

    return schedule
