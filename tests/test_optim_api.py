"""The optimizer contract: state types, invariants, dtypes, errors, purity, and jit."""
import copy

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.optim as fo
from funcgrad.errors import ShapeError, TreeStructureError

try:
    from funcgrad import jit as fg_jit
except ImportError:  # pragma: no cover - until the core ships jit
    fg_jit = None
needs_jit = pytest.mark.skipif(fg_jit is None, reason="funcgrad.jit is not importable yet")
needs_vmap = pytest.mark.skipif(not hasattr(fg, "vmap"), reason="funcgrad.vmap is not available yet")

MASK = {"w": True, "b": False}

# Every optimizer and wrapper, built the way users build them.
OPTIMIZERS = {
    "sgd": lambda: fo.sgd(0.1),
    "sgd_full": lambda: fo.sgd(fo.exponential_decay(0.1, 5, 0.5), momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda: fo.adam(1e-3),
    "adam_schedule": lambda: fo.adam(fo.warmup_cosine_decay(0.0, 1e-2, 3, 20)),
    "adamw": lambda: fo.adamw(1e-3, mask=MASK),
    "rmsprop": lambda: fo.rmsprop(1e-3),
    "rmsprop_full": lambda: fo.rmsprop(1e-3, momentum=0.9, centered=True),
    "rmsprop_optax": lambda: fo.rmsprop(1e-3, decay=0.9, eps_in_sqrt=True),
    "adagrad": lambda: fo.adagrad(0.1),
    "adagrad_optax": lambda: fo.adagrad(0.1, 1e-7, 0.1, eps_in_sqrt=True),
    "lion": lambda: fo.lion(1e-4),
    "lamb": lambda: fo.lamb(1e-3, weight_decay=1e-2),
    "chain": lambda: fo.chain(fo.clip_by_global_norm(1.0), fo.clip(0.5), fo.add_decayed_weights(1e-4, MASK),
                              fo.scale_by_schedule(fo.piecewise_constant(-0.1, {2: 0.5})), fo.scale(0.9)),
    "masked": lambda: fo.masked(fo.adam(1e-3), MASK),
    "freeze": lambda: fo.chain(fo.freeze(MASK), fo.sgd(0.1)),
    "freeze_inner": lambda: fo.freeze(MASK, fo.adam(1e-3)),
    "apply_if_finite": lambda: fo.apply_if_finite(fo.adam(1e-3), 3),
    "multi_steps": lambda: fo.multi_steps(fo.sgd(0.1, momentum=0.9), 2),
    "inject_hyperparams": lambda: fo.inject_hyperparams(fo.sgd)(learning_rate=0.1, momentum=0.9),
    "inject_schedule": lambda: fo.inject_hyperparams(fo.adamw)(learning_rate=fo.linear_schedule(1e-3, 0, 10),
                                                              weight_decay=0.1, mask=MASK),
}


def params_of(dtype):
    rng = np.random.default_rng(1)
    return {"w": rng.normal(size=(2, 3)).astype(dtype), "b": rng.normal(size=(3,)).astype(dtype)}


def grads_of(params, k):
    return {n: (np.sin(np.asarray(p) + k) + 0.1).astype(np.asarray(p).dtype) for n, p in params.items()}


def signature(tree):
    leaves, treedef = fg.tree.flatten(tree)
    return treedef, [(np.shape(x), np.asarray(x).dtype) for x in leaves]


# ----------------------------------------------------------------------------- state

def test_named_optimizer_init_returns_its_own_state_namedtuple():
    p = params_of(np.float64)
    state = fo.adam(1e-3).init(p)
    assert type(state) is fo.AdamState
    assert state.t.shape == () and state.t.dtype == np.int32 and int(state.t) == 0
    assert set(state.m) == {"w", "b"} and np.all(state.m["w"] == 0) and state.v["b"].dtype == np.float64
    assert type(fo.sgd(0.1).init(p)) is fo.SGDState
    assert type(fo.adamw(0.1).init(p)) is fo.AdamWState
    assert type(fo.rmsprop(0.1).init(p)) is fo.RMSpropState
    assert type(fo.adagrad(0.1).init(p)) is fo.AdagradState
    assert type(fo.lion(0.1).init(p)) is fo.LionState
    assert type(fo.lamb(0.1).init(p)) is fo.LambState


def test_chain_state_is_a_tuple_of_the_states():
    state = fo.chain(fo.clip(1.0), fo.adam(1e-3)).init(params_of(np.float32))
    assert type(state) is tuple and len(state) == 2
    assert type(state[0]) is fo.EmptyState and type(state[1]) is fo.AdamState


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_step_counters_are_0d_int32_from_init_on(name):
    p = params_of(np.float32)
    opt = OPTIMIZERS[name]()
    state = opt.init(p)
    for _ in range(2):
        for field_owner in _namedtuples(state):
            for field in ("t", "count", "mini_step", "gradient_step", "notfinite_count"):
                if field in getattr(type(field_owner), "_fields", ()):
                    v = getattr(field_owner, field)
                    assert np.shape(v) == () and np.asarray(v).dtype == np.int32, (field, v)
        _, state = opt.update(grads_of(p, 0), state, p)


def _namedtuples(tree):
    out = []
    def walk(x):
        if isinstance(x, tuple):
            if hasattr(x, "_fields"):
                out.append(x)
            for y in x:
                walk(y)
        elif isinstance(x, dict):
            for y in x.values():
                walk(y)
    walk(tree)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_update_never_changes_state_structure_shapes_or_dtypes(name, dtype):
    p = params_of(dtype)
    opt = OPTIMIZERS[name]()
    state = opt.init(p)
    sig = signature(state)
    for k in range(3):
        updates, state = opt.update(grads_of(p, k), state, p)
        assert signature(state) == sig
        assert signature(updates) == signature(p)
        p = fo.apply_updates(p, updates)
        assert signature(p) == signature(params_of(dtype))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_update_never_mutates_its_inputs(name):
    p = params_of(np.float64)
    opt = OPTIMIZERS[name]()
    state = opt.init(p)
    for k in range(2):
        g = grads_of(p, k)
        before = copy.deepcopy((g, state, p))
        updates, new_state = opt.update(g, state, p)
        for a, b in zip(fg.tree.leaves((g, state, p)), fg.tree.leaves(before), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        p_before = copy.deepcopy(p)
        fo.apply_updates(p, updates)
        np.testing.assert_array_equal(p["w"], p_before["w"])
        state = new_state


# ----------------------------------------------------------------------------- dtypes

@pytest.mark.parametrize("lr", [0.1, np.float64(0.1), np.asarray(0.1, np.float64), fo.constant(0.1),
                                fo.cosine_decay(0.1, 10)], ids=["float", "np_scalar", "f64_array", "constant",
                                                               "schedule"])
def test_float32_params_get_float32_updates_and_state_whatever_the_learning_rate(lr):
    p = params_of(np.float32)
    for opt in (fo.sgd(lr, momentum=0.9), fo.adam(lr), fo.rmsprop(lr), fo.lamb(lr)):
        state = opt.init(p)
        updates, state = opt.update(grads_of(p, 0), state, p)
        assert {np.asarray(u).dtype for u in fg.tree.leaves(updates)} == {np.dtype(np.float32)}
        floats = [x for x in fg.tree.leaves(state) if np.asarray(x).dtype.kind == "f"]
        assert {np.asarray(x).dtype for x in floats} == {np.dtype(np.float32)}


def test_float64_run_with_a_schedule_is_not_rounded_to_float32():
    lr = fo.linear_schedule(0.1, 0.0, 3)
    p = {"x": np.ones(1)}
    updates, _ = fo.sgd(lr).update({"x": np.ones(1)}, fo.sgd(lr).init(p), p)
    assert updates["x"].dtype == np.float64
    assert updates["x"][0] == -0.1          # exactly float64(0.1), not float32(0.1)
    assert float(np.float32(0.1)) != 0.1


def test_mixed_dtype_params_keep_each_leaf_dtype():
    p = {"a": np.ones(2, np.float32), "b": np.ones(2, np.float64)}
    opt = fo.inject_hyperparams(fo.adam)(learning_rate=1e-3)
    state = opt.init(p)
    assert state.hyperparams["learning_rate"].dtype == np.float64   # the widest float dtype
    u, state = opt.update(p, state, p)
    assert u["a"].dtype == np.float32 and u["b"].dtype == np.float64
    assert state.inner_state.m["a"].dtype == np.float32


# ----------------------------------------------------------------------------- errors

def test_grads_of_another_structure_raise_tree_structure_error_naming_the_path():
    p = params_of(np.float64)
    opt = fo.adam(1e-3)
    state = opt.init(p)
    with pytest.raises(TreeStructureError, match=r"\['c'\]|\['w'\]"):
        opt.update({"b": p["b"], "c": p["w"]}, state, p)


@pytest.mark.parametrize("name", ["sgd_full", "adam", "rmsprop_full", "adagrad", "lion", "lamb", "multi_steps",
                                  "inject_hyperparams"])
def test_state_of_other_params_raises_tree_structure_error(name):
    p = params_of(np.float64)
    opt = OPTIMIZERS[name]()
    state = opt.init({"w": p["w"], "extra": p["b"], "b": p["b"]})
    with pytest.raises(TreeStructureError, match="extra"):
        opt.update(grads_of(p, 0), state, p)


def test_params_of_another_structure_raise_tree_structure_error():
    p = params_of(np.float64)
    opt = fo.sgd(0.1, weight_decay=0.1)
    with pytest.raises(TreeStructureError, match="params"):
        opt.update(grads_of(p, 0), opt.init(p), [p["w"], p["b"]])
    with pytest.raises(TreeStructureError):
        fo.apply_updates(p, {"w": p["w"]})


@pytest.mark.parametrize("bad", ["1e-3", None, [1e-3], {"lr": 1e-3}, True, np.asarray(["a"])])
@pytest.mark.parametrize("factory", [fo.sgd, fo.adam, fo.adamw, fo.rmsprop, fo.adagrad, fo.lion, fo.lamb])
def test_a_learning_rate_that_is_no_number_schedule_or_array_raises_type_error_at_construction(factory, bad):
    with pytest.raises(TypeError, match="learning_rate"):
        factory(bad)


@pytest.mark.parametrize("opt", [fo.adamw(1e-3), fo.lamb(1e-3), fo.lion(1e-3), fo.sgd(0.1, weight_decay=0.1),
                                 fo.add_decayed_weights(0.1), fo.chain(fo.add_decayed_weights(1e-2), fo.sgd(1.0))],
                         ids=["adamw", "lamb", "lion", "sgd_wd", "add_decayed_weights", "chain"])
def test_transforms_that_need_params_raise_value_error_without_them(opt):
    p = params_of(np.float32)
    with pytest.raises(ValueError, match="params"):
        opt.update(grads_of(p, 0), opt.init(p))


def test_transforms_that_do_not_read_params_work_without_them():
    p = params_of(np.float32)
    for opt in (fo.sgd(0.1, momentum=0.9), fo.adam(1e-3), fo.rmsprop(1e-3), fo.adagrad(0.1),
                fo.lion(1e-3, weight_decay=0.0), fo.adamw(1e-3, weight_decay=0.0)):
        opt.update(grads_of(p, 0), opt.init(p))


def test_nesterov_without_momentum_is_an_error():
    with pytest.raises(ValueError, match="momentum"):
        fo.sgd(0.1, nesterov=True)


# ----------------------------------------------------------------------------- jit

def _jit_matches_eager(opt, p, steps=4):
    traces = []

    def step(grads, state, params):
        traces.append(1)
        return opt.update(grads, state, params)

    jitted = fg_jit(step)
    s_eager = s_jit = opt.init(p)
    for k in range(steps):
        g = grads_of(p, k)
        u_e, s_eager = opt.update(g, s_eager, p)
        u_j, s_jit = jitted(g, s_jit, p)
        for a, b in zip(fg.tree.leaves((u_e, s_eager)), fg.tree.leaves((u_j, s_jit)), strict=True):
            assert np.asarray(a).dtype == np.asarray(b).dtype
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-12, atol=1e-14)
    return len(traces)


@needs_jit
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_jits_to_the_eager_result_and_traces_once(name):
    assert _jit_matches_eager(OPTIMIZERS[name](), params_of(np.float64)) == 1


@needs_jit
def test_learning_rate_may_be_a_traced_value():
    p = params_of(np.float64)

    def step(lr, grads, params):
        opt = fo.adam(lr)
        return opt.update(grads, opt.init(params), params)[0]

    for lr in (1e-3, 1e-2):
        u_j = fg_jit(step)(np.asarray(lr), grads_of(p, 0), p)
        u_e = step(lr, grads_of(p, 0), p)
        np.testing.assert_allclose(np.asarray(u_j["w"]), u_e["w"], rtol=1e-12)


@needs_jit
def test_inject_hyperparams_changes_the_learning_rate_without_retracing():
    p = params_of(np.float64)
    opt = fo.inject_hyperparams(fo.sgd)(learning_rate=0.1)
    traces = []

    def step(grads, state):
        traces.append(1)
        return opt.update(grads, state)

    jitted = fg_jit(step)
    state = opt.init(p)
    g = grads_of(p, 0)
    u1, state = jitted(g, state)
    # an array of the same dtype keeps the jitted step's signature (a Python float would retrace)
    state.hyperparams["learning_rate"] = np.asarray(0.01, state.hyperparams["learning_rate"].dtype)
    u2, state = jitted(g, state)
    np.testing.assert_allclose(np.asarray(u2["w"]), 0.1 * np.asarray(u1["w"]), rtol=1e-12)
    assert float(state.hyperparams["learning_rate"]) == 0.01
    assert len(traces) == 1


@needs_vmap
def test_vmap_over_learning_rates():
    p = params_of(np.float64)
    g = grads_of(p, 0)

    def final_w(lr):
        opt = fo.adam(lr)
        u, _ = opt.update(g, opt.init(p), p)
        return fo.apply_updates(p, u)["w"]

    lrs = np.asarray([1e-3, 1e-2, 1e-1])
    out = fg.vmap(final_w)(lrs)
    for i, lr in enumerate(lrs):
        np.testing.assert_allclose(np.asarray(out[i]), final_w(float(lr)), rtol=1e-12)


@needs_jit
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_eager_update_on_jit_outputs_keeps_float64(name):
    """Grads and state that come out of a jitted function are jax.Arrays; an eager update
    on them must not fall into jax's float32 default (jax's x64 mode is off here)."""
    p = params_of(np.float64)
    opt = OPTIMIZERS[name]()
    state = opt.init(p)
    as_jax = fg_jit(lambda tree: fg.tree.map(lambda x: x * 1, tree))
    jax_g, jax_state, jax_p = as_jax(grads_of(p, 0)), as_jax(state), as_jax(p)
    assert "jax" in type(fg.tree.leaves(jax_g)[0]).__module__
    u_ref, s_ref = opt.update(grads_of(p, 0), state, p)
    u, s = opt.update(jax_g, jax_state, jax_p)
    assert signature(s) == signature(s_ref) and signature(u) == signature(u_ref)
    for a, b in zip(fg.tree.leaves((u, s)), fg.tree.leaves((u_ref, s_ref)), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-15)
    new_p = fo.apply_updates(jax_p, u)
    assert {np.asarray(x).dtype for x in fg.tree.leaves(new_p)} == {np.dtype(np.float64)}


@pytest.mark.parametrize("make", [fo.sgd, lambda lr: fo.sgd(lr, momentum=0.9), fo.adam, fo.rmsprop, fo.lamb,
                                  lambda lr: fo.inject_hyperparams(fo.adagrad)(learning_rate=lr)],
                         ids=["sgd", "momentum", "adam", "rmsprop", "lamb", "inject"])
def test_grad_through_an_update_with_respect_to_the_learning_rate(make):
    p = {"w": np.array([1.0, -2.0])}
    g = {"w": np.array([0.5, 0.25])}

    def loss_after_step(lr):
        opt = make(lr)
        u, _ = opt.update(g, opt.init(p), p)
        return fg.numpy.sum(fo.apply_updates(p, u)["w"] ** 2)

    lr, h = np.float64(0.1), 1e-6
    numeric = (loss_after_step(lr + h) - loss_after_step(lr - h)) / (2 * h)
    np.testing.assert_allclose(float(fg.grad(loss_after_step)(lr)), float(numeric), rtol=1e-6)


@pytest.mark.parametrize("make", [lambda: fo.adam(0.1), lambda: fo.sgd(0.1, momentum=0.9), lambda: fo.rmsprop(0.1),
                                  lambda: fo.chain(fo.clip_by_global_norm(1.0), fo.adam(0.1))])
def test_update_with_a_state_its_init_did_not_make_says_so(make):
    """Another optimizer's state, or update's arguments swapped: an error about the state,
    not an AttributeError from inside the optimizer."""
    w = {"w": np.ones(3), "b": np.zeros(2)}
    opt = make()
    foreign = fo.lion(0.1).init(w)
    with pytest.raises(TreeStructureError, match="(?s)state.*init did not make it|state.*different structures"):
        opt.update(w, foreign, w)
    with pytest.raises(TreeStructureError, match=r"init did not make it|different structures|init \(or last update\)"):
        opt.update(opt.init(w), w, w)          # grads and state swapped


def test_update_with_a_state_of_other_shapes_names_the_leaf():
    opt = fo.adam(0.1)
    state = opt.init({"w": np.ones(3), "b": np.zeros(2)})
    grads = {"w": np.ones(4), "b": np.zeros(2)}
    with pytest.raises(ShapeError, match=r"(?s)\['w'\]: \(4,\) vs \(3,\).*init\(params\)"):
        opt.update(grads, state, grads)
    with pytest.raises(ShapeError, match=r"\['w'\]"):
        fg.jit(lambda g, s: opt.update(g, s, g))(grads, state)
