"""Schedules: optax's argument order and values, float64 results, and no Python branching on the count."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcgrad.optim as fo

try:
    from funcgrad import jit as fg_jit
except ImportError:  # pragma: no cover - until the core ships jit
    fg_jit = None

CASES = {
    "constant": (lambda: fo.constant(0.3), lambda: optax.constant_schedule(0.3)),
    "exponential": (lambda: fo.exponential_decay(0.1, 10, 0.5), lambda: optax.exponential_decay(0.1, 10, 0.5)),
    "exponential_begin_staircase_end": (
        lambda: fo.exponential_decay(0.1, 7, 0.5, transition_begin=5, staircase=True, end_value=0.01),
        lambda: optax.exponential_decay(0.1, 7, 0.5, transition_begin=5, staircase=True, end_value=0.01)),
    "exponential_growth": (lambda: fo.exponential_decay(0.1, 10, 2.0, end_value=0.5),
                           lambda: optax.exponential_decay(0.1, 10, 2.0, end_value=0.5)),
    "cosine": (lambda: fo.cosine_decay(0.1, 50), lambda: optax.cosine_decay_schedule(0.1, 50)),
    "cosine_alpha_exponent": (lambda: fo.cosine_decay(0.1, 50, alpha=0.2, exponent=2.0),
                              lambda: optax.cosine_decay_schedule(0.1, 50, alpha=0.2, exponent=2.0)),
    "linear": (lambda: fo.linear_schedule(1.0, 0.1, 40), lambda: optax.linear_schedule(1.0, 0.1, 40)),
    "linear_begin": (lambda: fo.linear_schedule(1.0, 0.1, 40, 10), lambda: optax.linear_schedule(1.0, 0.1, 40, 10)),
    "warmup_cosine": (lambda: fo.warmup_cosine_decay(0.0, 1.0, 10, 60, 0.05),
                      lambda: optax.warmup_cosine_decay_schedule(0.0, 1.0, 10, 60, 0.05)),
    "warmup_cosine_exponent": (lambda: fo.warmup_cosine_decay(0.1, 1.0, 5, 30, exponent=1.5),
                               lambda: optax.warmup_cosine_decay_schedule(0.1, 1.0, 5, 30, exponent=1.5)),
    "piecewise": (lambda: fo.piecewise_constant(1.0, {10: 0.5, 30: 0.1, 20: 0.2}),
                  lambda: optax.piecewise_constant_schedule(1.0, {10: 0.5, 30: 0.1, 20: 0.2})),
    "piecewise_none": (lambda: fo.piecewise_constant(0.7), lambda: optax.piecewise_constant_schedule(0.7)),
}
COUNTS = list(range(0, 80, 3)) + [9, 10, 11, 19, 20, 29, 30, 59, 60, 61]


def optax_values(make):
    with jax.enable_x64(True):
        sched = make()
        return [float(sched(jnp.asarray(c, jnp.int64))) for c in COUNTS]


@pytest.mark.parametrize("name", sorted(CASES))
def test_schedule_matches_optax_in_float64(name):
    ours, ref = CASES[name]
    sched = ours()
    values = [sched(c) for c in COUNTS]
    np.testing.assert_allclose([float(v) for v in values], optax_values(ref), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", sorted(CASES))
def test_schedule_accepts_int32_counts_and_returns_float64(name):
    sched = CASES[name][0]()
    for c in (0, 17, 45):
        v = sched(np.asarray(c, np.int32))
        assert np.asarray(v).dtype == np.float64
        assert float(v) == float(sched(c))


def test_optax_rounds_to_float32_where_funcgrad_does_not():
    with jax.enable_x64(True):
        theirs = optax.linear_schedule(0.1, 0.0, 10)(jnp.asarray(0, jnp.int32))
    ours = fo.linear_schedule(0.1, 0.0, 10)(np.asarray(0, np.int32))
    assert theirs.dtype == jnp.float32
    assert float(ours) == 0.1


@pytest.mark.skipif(fg_jit is None, reason="funcgrad.jit is not importable yet")
@pytest.mark.parametrize("name", sorted(CASES))
def test_schedule_jits_with_a_traced_count(name):
    sched = CASES[name][0]()
    jitted = fg_jit(lambda c: sched(c))
    for c in (0, 10, 33, 70):
        np.testing.assert_allclose(float(jitted(np.asarray(c, np.int32))), float(sched(c)), rtol=1e-14)


def test_schedules_validate_their_arguments():
    with pytest.raises(ValueError):
        fo.cosine_decay(0.1, 0)
    with pytest.raises(ValueError):
        fo.piecewise_constant(0.1, {5: -1.0})
