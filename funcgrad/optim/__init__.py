"""``funcgrad.optim``: optimizers as pure ``(init, update)`` pairs over pytrees.

::

    opt = fg.optim.adam(1e-3)                        # Optimizer(init, update)
    state = opt.init(params)                         # AdamState(t, m, v)
    updates, state = opt.update(grads, state, params)
    params = fg.optim.apply_updates(params, updates)

Named optimizers follow ``torch.optim``'s defaults where torch and optax disagree,
with a keyword for optax's variant; see each docstring and ``docs/optim.md``.
"""
from .adam import AdamState, AdamWState, LambState, adam, adamw, lamb
from .adaptive import AdagradState, RMSpropState, adagrad, rmsprop
from .base import EmptyState, Optimizer, apply_updates, chain
from .combinators import (ScaleByScheduleState, add_decayed_weights, clip, clip_by_global_norm, global_norm,
                          scale, scale_by_schedule)
from .lion import LionState, lion
from .schedules import (constant, cosine_decay, exponential_decay, linear_schedule, piecewise_constant,
                        warmup_cosine_decay)
from .sgd import SGDState, sgd
from .wrappers import (ApplyIfFiniteState, InjectHyperparamsState, MaskedNode, MaskedState, MultiStepsState,
                       apply_if_finite, freeze, inject_hyperparams, masked, multi_steps)

__all__ = [
    # base
    "Optimizer", "EmptyState", "apply_updates", "chain",
    # optimizers
    "sgd", "adam", "adamw", "rmsprop", "adagrad", "lion", "lamb",
    # combinators and wrappers
    "clip_by_global_norm", "clip", "add_decayed_weights", "scale", "scale_by_schedule", "global_norm",
    "masked", "freeze", "apply_if_finite", "multi_steps", "inject_hyperparams", "MaskedNode",
    # schedules
    "constant", "exponential_decay", "cosine_decay", "linear_schedule", "warmup_cosine_decay",
    "piecewise_constant",
    # states
    "SGDState", "AdamState", "AdamWState", "LambState", "RMSpropState", "AdagradState", "LionState",
    "ScaleByScheduleState", "MaskedState", "ApplyIfFiniteState", "MultiStepsState", "InjectHyperparamsState",
]
