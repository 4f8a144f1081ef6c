"""50-step float64 trajectories of every optimizer against an oracle, to 1e-10 absolute.

Where funcgrad follows torch.optim (its defaults), the oracle is a NumPy transcription
of the algorithm in torch.optim's documentation.  Where funcgrad offers optax's
variant (or optax is the reference: lion, lamb, schedules, combinators), the oracle
is optax run in float64.  Identical formulas agree to ~1e-15.
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcgrad.optim as fo

STEPS = 50
TOL = 1e-10


def make_params(dtype=np.float64):
    rng = np.random.default_rng(0)
    return {"w": rng.normal(size=(3, 4)).astype(dtype), "b": rng.normal(size=(4,)).astype(dtype),
            "s": np.asarray(0.7, dtype)}


def grad_fn(params, step):
    """Gradients of a shifted quadratic plus a step-dependent wobble: they depend on the params,
    so any disagreement would compound over the trajectory."""
    out = {}
    for i, k in enumerate(sorted(params)):
        p = np.asarray(params[k])
        wobble = np.cos(step + i + np.arange(p.size).reshape(p.shape)).astype(p.dtype)
        out[k] = (2 * (p - 0.3) + 0.5 * wobble).astype(p.dtype)
    return out


def run_funcgrad(opt, params, steps=STEPS, grads=grad_fn):
    state = opt.init(params)
    traj = []
    for k in range(steps):
        updates, state = opt.update(grads(params, k), state, params)
        params = fo.apply_updates(params, updates)
        traj.append(params)
    return traj


def run_optax(make_tx, params, steps=STEPS, grads=grad_fn):
    """optax in float64.  ``make_tx`` is called inside the x64 context: optax canonicalizes
    dtypes (e.g. MultiSteps' accumulator_dtype) when the transform is built."""
    with jax.enable_x64(True):
        tx = make_tx()
        p = {k: jnp.asarray(v) for k, v in params.items()}
        state = tx.init(p)
        upd = jax.jit(tx.update)
        traj = []
        for k in range(steps):
            g = {kk: jnp.asarray(v) for kk, v in grads({kk: np.asarray(v) for kk, v in p.items()}, k).items()}
            u, state = upd(g, state, p)
            p = optax.apply_updates(p, u)
            traj.append({kk: np.asarray(v) for kk, v in p.items()})
    return traj


def run_numpy(step_fn, params, steps=STEPS):
    """``step_fn(params, grads, state, t) -> (params, state)`` applied with t = 1, 2, ... as torch counts."""
    params = {k: np.array(v) for k, v in params.items()}
    state = {}
    traj = []
    for k in range(steps):
        params, state = step_fn(params, grad_fn(params, k), state, k + 1)
        traj.append(params)
    return traj


def assert_trajectories_close(ours, ref, tol=TOL):
    assert len(ours) == len(ref)
    for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
        for k in b:
            assert np.asarray(a[k]).dtype == np.float64
            np.testing.assert_allclose(np.asarray(a[k]), b[k], rtol=0, atol=tol, err_msg=f"step {i} leaf {k}")


# ----------------------------------------------------------------------------- torch transcriptions

def torch_sgd(lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    """torch.optim.SGD (dampening=0) as documented."""
    def step(params, grads, state, t):
        new = {}
        for k, p in params.items():
            g = grads[k]
            if weight_decay != 0:
                g = g + weight_decay * p
            if momentum != 0:
                b = g.copy() if t == 1 else momentum * state[k] + g
                state[k] = b
                g = g + momentum * b if nesterov else b
            new[k] = p - lr * g
        return new, state
    return step


def torch_adam(lr, b1=0.9, b2=0.999, eps=1e-8, decoupled_weight_decay=0.0):
    """torch.optim.Adam, or AdamW when ``decoupled_weight_decay`` is set (p <- p(1 - lr*wd) first)."""
    def step(params, grads, state, t):
        new = {}
        for k, p in params.items():
            g = grads[k]
            m, v = state.get(k, (np.zeros_like(p), np.zeros_like(p)))
            p = p * (1 - lr * decoupled_weight_decay)
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            m_hat = m / (1 - b1 ** t)
            v_hat = v / (1 - b2 ** t)
            new[k] = p - lr * m_hat / (np.sqrt(v_hat) + eps)
            state[k] = (m, v)
        return new, state
    return step


def torch_rmsprop(lr, alpha=0.99, eps=1e-8, momentum=0.0, centered=False):
    """torch.optim.RMSprop as documented."""
    def step(params, grads, state, t):
        new = {}
        for k, p in params.items():
            g = grads[k]
            v, ga, b = state.get(k, (np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)))
            v = alpha * v + (1 - alpha) * g * g
            v_tilde = v
            if centered:
                ga = alpha * ga + (1 - alpha) * g
                v_tilde = v - ga * ga
            if momentum > 0:
                b = momentum * b + g / (np.sqrt(v_tilde) + eps)
                new[k] = p - lr * b
            else:
                new[k] = p - lr * g / (np.sqrt(v_tilde) + eps)
            state[k] = (v, ga, b)
        return new, state
    return step


def torch_adagrad(lr, eps=1e-10, initial_accumulator_value=0.0):
    """torch.optim.Adagrad (lr_decay=0, weight_decay=0) as documented."""
    def step(params, grads, state, t):
        new = {}
        for k, p in params.items():
            g = grads[k]
            s = state.get(k, np.full_like(p, initial_accumulator_value)) + g * g
            new[k] = p - lr * g / (np.sqrt(s) + eps)
            state[k] = s
        return new, state
    return step


TORCH_CASES = {
    "sgd": (lambda: fo.sgd(0.05), lambda: torch_sgd(0.05)),
    "sgd_momentum": (lambda: fo.sgd(0.05, momentum=0.9), lambda: torch_sgd(0.05, 0.9)),
    "sgd_nesterov": (lambda: fo.sgd(0.05, momentum=0.9, nesterov=True), lambda: torch_sgd(0.05, 0.9, True)),
    "sgd_weight_decay": (lambda: fo.sgd(0.05, weight_decay=0.1), lambda: torch_sgd(0.05, weight_decay=0.1)),
    "sgd_momentum_weight_decay": (lambda: fo.sgd(0.05, momentum=0.8, nesterov=True, weight_decay=0.05),
                                  lambda: torch_sgd(0.05, 0.8, True, 0.05)),
    "adam": (lambda: fo.adam(1e-2), lambda: torch_adam(1e-2)),
    "adam_hparams": (lambda: fo.adam(3e-2, b1=0.8, b2=0.99, eps=1e-6), lambda: torch_adam(3e-2, 0.8, 0.99, 1e-6)),
    "adamw_default_decay": (lambda: fo.adamw(1e-2), lambda: torch_adam(1e-2, decoupled_weight_decay=1e-2)),
    "adamw_decay": (lambda: fo.adamw(1e-2, weight_decay=0.3), lambda: torch_adam(1e-2, decoupled_weight_decay=0.3)),
    "rmsprop": (lambda: fo.rmsprop(1e-2), lambda: torch_rmsprop(1e-2)),
    "rmsprop_momentum": (lambda: fo.rmsprop(1e-2, momentum=0.9), lambda: torch_rmsprop(1e-2, momentum=0.9)),
    "rmsprop_centered": (lambda: fo.rmsprop(1e-2, centered=True), lambda: torch_rmsprop(1e-2, centered=True)),
    "rmsprop_centered_momentum": (lambda: fo.rmsprop(1e-2, decay=0.9, eps=1e-6, momentum=0.5, centered=True),
                                  lambda: torch_rmsprop(1e-2, 0.9, 1e-6, 0.5, True)),
    "adagrad": (lambda: fo.adagrad(0.1), lambda: torch_adagrad(0.1)),
    "adagrad_initial": (lambda: fo.adagrad(0.1, eps=1e-8, initial_accumulator_value=0.2),
                        lambda: torch_adagrad(0.1, 1e-8, 0.2)),
}


@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_trajectory_matches_torch_algorithm(name):
    ours, ref = TORCH_CASES[name]
    params = make_params()
    assert_trajectories_close(run_funcgrad(ours(), params), run_numpy(ref(), params))


# ----------------------------------------------------------------------------- optax oracles

NOT_B = {"w": True, "b": False, "s": True}


def f64(schedule):
    """An optax schedule evaluated at an int64 count: optax's linear/exponential/warmup schedules
    return float32 for an int32 count even with x64 on (funcgrad's stay float64)."""
    return lambda count: schedule(jnp.asarray(count, jnp.int64))

OPTAX_CASES = {
    "sgd": (lambda: fo.sgd(0.05), lambda: optax.sgd(0.05)),
    "sgd_nesterov": (lambda: fo.sgd(0.05, 0.9, nesterov=True), lambda: optax.sgd(0.05, 0.9, nesterov=True)),
    "sgd_weight_decay_is_l2_before_momentum": (
        lambda: fo.sgd(0.05, 0.9, weight_decay=0.1),
        lambda: optax.chain(optax.add_decayed_weights(0.1), optax.sgd(0.05, 0.9))),
    "adam": (lambda: fo.adam(1e-2), lambda: optax.adam(1e-2)),
    "adamw_optax_decay": (lambda: fo.adamw(1e-2, weight_decay=1e-4), lambda: optax.adamw(1e-2)),
    "adamw_mask": (lambda: fo.adamw(1e-2, weight_decay=0.2, mask=NOT_B),
                   lambda: optax.adamw(1e-2, weight_decay=0.2, mask=NOT_B)),
    "adamw_mask_callable": (lambda: fo.adamw(1e-2, weight_decay=0.2, mask=lambda p: {k: k != "b" for k in p}),
                            lambda: optax.adamw(1e-2, weight_decay=0.2, mask=NOT_B)),
    "rmsprop_optax_variant": (lambda: fo.rmsprop(1e-2, decay=0.9, eps_in_sqrt=True),
                              lambda: optax.rmsprop(1e-2)),
    "rmsprop_optax_centered_momentum": (
        lambda: fo.rmsprop(1e-2, decay=0.9, eps=1e-6, momentum=0.7, centered=True, eps_in_sqrt=True),
        lambda: optax.rmsprop(1e-2, decay=0.9, eps=1e-6, momentum=0.7, centered=True)),
    "rmsprop_eps_outside_sqrt": (lambda: fo.rmsprop(1e-2, decay=0.95),
                                 lambda: optax.rmsprop(1e-2, decay=0.95, eps_in_sqrt=False)),
    "adagrad_optax_variant": (lambda: fo.adagrad(0.1, eps=1e-7, initial_accumulator_value=0.1, eps_in_sqrt=True),
                              lambda: optax.adagrad(0.1)),
    "lion": (lambda: fo.lion(1e-2), lambda: optax.lion(1e-2)),
    "lion_decay_mask": (lambda: fo.lion(1e-2, b1=0.8, b2=0.95, weight_decay=0.1, mask=NOT_B),
                        lambda: optax.lion(1e-2, b1=0.8, b2=0.95, weight_decay=0.1, mask=NOT_B)),
    "lamb": (lambda: fo.lamb(1e-2), lambda: optax.lamb(1e-2)),
    "lamb_decay": (lambda: fo.lamb(1e-2, b1=0.8, eps=1e-8, weight_decay=0.05, mask=NOT_B),
                   lambda: optax.lamb(1e-2, b1=0.8, eps=1e-8, weight_decay=0.05, mask=NOT_B)),
    # learning-rate schedules inside optimizers: the first update uses schedule(0)
    "adam_cosine": (lambda: fo.adam(fo.cosine_decay(3e-2, 40, alpha=0.1)),
                    lambda: optax.adam(f64(optax.cosine_decay_schedule(3e-2, 40, alpha=0.1)))),
    "sgd_momentum_warmup_cosine": (
        lambda: fo.sgd(fo.warmup_cosine_decay(0.0, 0.1, 10, 50, 0.01), momentum=0.9),
        lambda: optax.sgd(f64(optax.warmup_cosine_decay_schedule(0.0, 0.1, 10, 50, 0.01)), momentum=0.9)),
    "lamb_exponential": (lambda: fo.lamb(fo.exponential_decay(1e-2, 7, 0.5, staircase=True)),
                         lambda: optax.lamb(f64(optax.exponential_decay(1e-2, 7, 0.5, staircase=True)))),
    "lion_piecewise": (lambda: fo.lion(fo.piecewise_constant(1e-2, {10: 0.5, 30: 0.1})),
                       lambda: optax.lion(f64(optax.piecewise_constant_schedule(1e-2, {10: 0.5, 30: 0.1})))),
    "adagrad_linear": (lambda: fo.adagrad(fo.linear_schedule(0.2, 0.01, 30, 5), eps=1e-7,
                                          initial_accumulator_value=0.1, eps_in_sqrt=True),
                       lambda: optax.adagrad(f64(optax.linear_schedule(0.2, 0.01, 30, 5)))),
    # combinators
    "chain_clip_global_norm_adam": (lambda: fo.chain(fo.clip_by_global_norm(1.0), fo.adam(1e-2)),
                                    lambda: optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-2))),
    "chain_clip_scale": (lambda: fo.chain(fo.clip(0.4), fo.scale(-0.05)),
                         lambda: optax.chain(optax.clip(0.4), optax.scale(-0.05))),
    "chain_decay_schedule": (
        lambda: fo.chain(fo.add_decayed_weights(0.1, mask=NOT_B), fo.scale_by_schedule(fo.cosine_decay(-0.1, 30))),
        lambda: optax.chain(optax.add_decayed_weights(0.1, mask=NOT_B),
                            optax.scale_by_schedule(f64(optax.cosine_decay_schedule(-0.1, 30))))),
    "masked_adam": (lambda: fo.masked(fo.adam(1e-2), NOT_B), lambda: optax.masked(optax.adam(1e-2), NOT_B)),
    "multi_steps": (lambda: fo.multi_steps(fo.adam(1e-2), 3),
                    lambda: optax.MultiSteps(optax.adam(1e-2), 3, accumulator_dtype=jnp.float64)
                    .gradient_transformation()),
    "apply_if_finite": (lambda: fo.apply_if_finite(fo.adam(1e-2), 2),
                        lambda: optax.apply_if_finite(optax.adam(1e-2), 2)),
    "inject_hyperparams": (lambda: fo.inject_hyperparams(fo.adam)(learning_rate=fo.cosine_decay(3e-2, 40), b1=0.8),
                           lambda: optax.inject_hyperparams(optax.adam)(
                               learning_rate=f64(optax.cosine_decay_schedule(3e-2, 40)), b1=0.8)),
}


@pytest.mark.parametrize("name", sorted(OPTAX_CASES))
def test_trajectory_matches_optax(name):
    ours, ref = OPTAX_CASES[name]
    params = make_params()
    assert_trajectories_close(run_funcgrad(ours(), params), run_optax(ref, params))


def nan_every_fifth(params, step):
    g = grad_fn(params, step)
    if step % 5 == 4 or step in (20, 21, 22):     # steps 20-24: five bad steps in a row
        g["w"] = g["w"].copy()
        g["w"][0, 0] = np.nan if step % 2 else np.inf
    return g


def test_apply_if_finite_trajectory_with_nonfinite_grads_matches_optax():
    params = make_params()
    ours = run_funcgrad(fo.apply_if_finite(fo.adam(1e-2), 2), params, grads=nan_every_fifth)
    ref = run_optax(lambda: optax.apply_if_finite(optax.adam(1e-2), 2), params, grads=nan_every_fifth)
    for a, b in zip(ours, ref, strict=True):
        for k in b:
            np.testing.assert_allclose(np.asarray(a[k]), b[k], rtol=0, atol=TOL, equal_nan=True)


@pytest.mark.parametrize("name", ["adam", "rmsprop", "lion", "adagrad"])
def test_float32_run_stays_float32_and_tracks_float64(name):
    ours = {"adam": lambda: fo.adam(fo.cosine_decay(1e-2, 50)), "rmsprop": lambda: fo.rmsprop(1e-2),
            "lion": lambda: fo.lion(1e-3), "adagrad": lambda: fo.adagrad(0.1)}[name]
    t32 = run_funcgrad(ours(), make_params(np.float32), steps=10)
    t64 = run_funcgrad(ours(), make_params(np.float64), steps=10)
    for a, b in zip(t32, t64, strict=True):
        for k in b:
            assert np.asarray(a[k]).dtype == np.float32
            np.testing.assert_allclose(np.asarray(a[k]), b[k], atol=1e-5)
