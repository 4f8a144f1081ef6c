"""Semantics of the combinators and wrappers as the contract fixes them."""
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.optim as fo
from funcgrad.errors import TreeStructureError


def nested_params():
    return {"enc": {"w": np.full((2, 2), 1.0), "b": np.full(2, 2.0)}, "dec": {"w": np.full(3, -1.0)}}


def ones_like(tree):
    return fg.tree.map(np.ones_like, tree)


# ----------------------------------------------------------------------------- chain / clipping / scaling

def test_chain_feeds_each_transform_the_previous_output():
    p = {"x": np.array([3.0, 4.0])}
    opt = fo.chain(fo.scale(2.0), fo.clip(5.0), fo.scale(-1.0))
    u, state = opt.update({"x": np.array([1.0, 4.0])}, opt.init(p), p)
    np.testing.assert_array_equal(u["x"], [-2.0, -5.0])
    assert len(state) == 3


def test_chain_rejects_a_state_of_another_length():
    opt = fo.chain(fo.scale(1.0), fo.scale(2.0))
    with pytest.raises(TreeStructureError, match="2 states"):
        opt.update({"x": np.ones(1)}, (fo.EmptyState(),))
    with pytest.raises(TypeError, match="argument 1"):
        fo.chain(fo.scale(1.0), 3.0)


def test_clip_by_global_norm_rescales_only_above_the_threshold():
    g = {"a": np.array([3.0]), "b": np.array([4.0])}            # global norm 5
    opt = fo.clip_by_global_norm(1.0)
    u, _ = opt.update(g, opt.init(g))
    np.testing.assert_allclose([u["a"][0], u["b"][0]], [0.6, 0.8], rtol=1e-15)
    u, _ = fo.clip_by_global_norm(10.0).update(g, fo.EmptyState())
    np.testing.assert_array_equal(u["a"], g["a"])
    np.testing.assert_allclose(float(fo.global_norm(g)), 5.0)
    zero = {"a": np.zeros(2)}
    u, _ = opt.update(zero, fo.EmptyState())
    np.testing.assert_array_equal(u["a"], 0.0)


def test_add_decayed_weights_respects_its_mask():
    p = nested_params()
    opt = fo.add_decayed_weights(0.5, mask={"enc": True, "dec": False})      # a prefix of the params
    u, _ = opt.update(ones_like(p), opt.init(p), p)
    np.testing.assert_array_equal(u["enc"]["w"], 1.5)
    np.testing.assert_array_equal(u["enc"]["b"], 2.0)
    np.testing.assert_array_equal(u["dec"]["w"], 1.0)


def test_sgd_weight_decay_is_added_to_the_gradient_before_momentum():
    p = {"x": np.array([2.0])}
    g = {"x": np.array([1.0])}
    opt = fo.sgd(0.1, momentum=0.5, weight_decay=0.25)
    state = opt.init(p)
    u, state = opt.update(g, state, p)
    np.testing.assert_allclose(u["x"], [-0.1 * 1.5])                  # g' = 1 + 0.25 * 2
    np.testing.assert_allclose(state.momentum_buffer["x"], [1.5])     # the buffer holds g', torch's b_1 = g'
    u, state = opt.update(g, state, p)
    np.testing.assert_allclose(u["x"], [-0.1 * (0.5 * 1.5 + 1.5)])


# ----------------------------------------------------------------------------- masked / freeze

def test_masked_applies_inner_only_where_true_and_passes_the_rest_through():
    p = nested_params()
    opt = fo.masked(fo.sgd(0.1, momentum=0.9), {"enc": {"w": True, "b": False}, "dec": False})
    state = opt.init(p)
    leaves = fg.tree.leaves(state.inner_state.momentum_buffer)
    assert len(leaves) == 1 and leaves[0].shape == (2, 2)            # state only for the selected leaf
    g = fg.tree.map(lambda x: 3 * np.ones_like(x), p)
    u, state = opt.update(g, state, p)
    np.testing.assert_allclose(u["enc"]["w"], -0.3)
    assert u["enc"]["b"] is g["enc"]["b"] and u["dec"]["w"] is g["dec"]["w"]


def test_masked_accepts_a_callable_mask():
    p = nested_params()
    opt = fo.masked(fo.scale(0.0), lambda params: fg.tree.map(lambda x: x.ndim == 1, params))
    u, _ = opt.update(ones_like(p), opt.init(p), p)
    np.testing.assert_array_equal(u["enc"]["w"], 1.0)
    np.testing.assert_array_equal(u["enc"]["b"], 0.0)
    np.testing.assert_array_equal(u["dec"]["w"], 0.0)


def test_a_mask_that_is_no_prefix_of_the_params_raises_tree_structure_error():
    p = nested_params()
    with pytest.raises(TreeStructureError, match="mask"):
        fo.masked(fo.adam(1e-3), {"encoder": True, "dec": False}).init(p)


def test_freeze_zeroes_the_frozen_updates_and_keeps_no_state():
    p = nested_params()
    frozen = {"enc": True, "dec": False}
    opt = fo.freeze(frozen)
    state = opt.init(p)
    assert fg.tree.leaves(state) == []
    u, _ = opt.update(ones_like(p), state, p)
    np.testing.assert_array_equal(u["enc"]["w"], 0.0)
    np.testing.assert_array_equal(u["dec"]["w"], 1.0)


def test_freeze_with_an_inner_optimizer_keeps_state_only_for_trainable_leaves():
    p = nested_params()
    opt = fo.freeze({"enc": True, "dec": False}, fo.adam(0.1))
    state = opt.init(p)
    m_leaves = fg.tree.leaves(state.inner_state.m)
    assert [x.shape for x in m_leaves] == [(3,)]
    new_p = p
    for _ in range(3):
        u, state = opt.update(ones_like(p), state, new_p)
        new_p = fo.apply_updates(new_p, u)
    np.testing.assert_array_equal(new_p["enc"]["w"], p["enc"]["w"])
    np.testing.assert_allclose(new_p["dec"]["w"], p["dec"]["w"] - 0.3, rtol=1e-6)


# ----------------------------------------------------------------------------- apply_if_finite

def test_apply_if_finite_skips_nonfinite_steps_then_gives_up():
    p = {"x": np.array([1.0, 2.0])}
    inner = fo.sgd(0.1, momentum=0.9)
    opt = fo.apply_if_finite(inner, max_consecutive_errors=2)
    state = opt.init(p)
    good, bad = {"x": np.array([1.0, 1.0])}, {"x": np.array([np.nan, 1.0])}
    u, state = opt.update(good, state, p)
    assert bool(state.last_finite) and int(state.inner_state.t) == 1
    buffer = state.inner_state.momentum_buffer["x"].copy()
    for k in (1, 2):
        u, state = opt.update(bad, state, p)
        np.testing.assert_array_equal(u["x"], 0.0)                         # skipped: zero updates
        np.testing.assert_array_equal(state.inner_state.momentum_buffer["x"], buffer)   # inner state kept
        assert int(state.notfinite_count) == k and not bool(state.last_finite)
    u, state = opt.update(bad, state, p)                                   # third in a row: applied
    assert np.isnan(u["x"][0]) and int(state.inner_state.t) == 2
    assert int(state.total_notfinite) == 3
    u, state = opt.update(good, state, p)
    assert int(state.notfinite_count) == 0 and int(state.total_notfinite) == 3


def test_apply_if_finite_validates_its_argument():
    with pytest.raises(ValueError):
        fo.apply_if_finite(fo.sgd(0.1), -1)


# ----------------------------------------------------------------------------- multi_steps

def test_multi_steps_averages_every_k_gradients_in_the_params_dtype():
    p = {"x": np.zeros(2, np.float32)}
    opt = fo.multi_steps(fo.sgd(1.0), every_k=3)
    state = opt.init(p)
    assert state.acc_grads["x"].dtype == np.float32
    grads = [np.array([1.0, 2.0], np.float32), np.array([3.0, 4.0], np.float32), np.array([5.0, 9.0], np.float32)]
    for k, g in enumerate(grads):
        u, state = opt.update({"x": g}, state, p)
        assert u["x"].dtype == np.float32
        if k < 2:
            np.testing.assert_array_equal(u["x"], 0.0)
            assert int(state.mini_step) == k + 1 and int(state.gradient_step) == 0
    np.testing.assert_allclose(u["x"], [-3.0, -5.0], rtol=1e-7)
    assert int(state.mini_step) == 0 and int(state.gradient_step) == 1
    np.testing.assert_array_equal(state.acc_grads["x"], 0.0)


def test_multi_steps_inner_state_moves_only_on_the_kth_step():
    p = {"x": np.zeros(2)}
    opt = fo.multi_steps(fo.adam(0.1), every_k=2)
    state = opt.init(p)
    _, state = opt.update({"x": np.ones(2)}, state, p)
    assert int(state.inner_state.t) == 0 and np.all(state.inner_state.m["x"] == 0)
    _, state = opt.update({"x": np.ones(2)}, state, p)
    assert int(state.inner_state.t) == 1
    with pytest.raises(ValueError):
        fo.multi_steps(fo.sgd(0.1), 0)


# ----------------------------------------------------------------------------- inject_hyperparams

def test_inject_hyperparams_state_holds_arrays_that_can_be_read_and_replaced():
    p = {"x": np.ones(3)}
    opt = fo.inject_hyperparams(fo.adam)(learning_rate=1e-3, b1=0.8)
    state = opt.init(p)
    assert type(state) is fo.InjectHyperparamsState
    assert type(state.inner_state) is fo.AdamState
    assert set(state.hyperparams) == {"learning_rate", "b1"}
    lr = state.hyperparams["learning_rate"]
    assert lr.shape == () and lr.dtype == np.float64 and float(lr) == 1e-3
    g = {"x": np.full(3, 0.5)}
    u1, state = opt.update(g, state, p)
    np.testing.assert_allclose(u1["x"], -1e-3, rtol=1e-6)
    state.hyperparams["learning_rate"] = 1e-1
    u2, state = opt.update(g, state, p)
    np.testing.assert_allclose(u2["x"], -1e-1, rtol=1e-6)                # constant grads: |Adam step| = lr
    assert state.hyperparams["learning_rate"].dtype == np.float64        # re-cast to the params' dtype
    assert int(state.inner_state.t) == 2


def test_inject_hyperparams_evaluates_schedules_at_the_step_count():
    p = {"x": np.ones(1)}
    opt = fo.inject_hyperparams(fo.sgd)(learning_rate=fo.piecewise_constant(1.0, {1: 0.5, 2: 0.5}))
    state = opt.init(p)
    lrs = []
    for _ in range(4):
        u, state = opt.update({"x": np.ones(1)}, state, p)
        lrs.append(float(state.hyperparams["learning_rate"]))
        np.testing.assert_allclose(u["x"], [-lrs[-1]])
    assert lrs == [1.0, 0.5, 0.25, 0.25]
    assert int(state.count) == 4


def test_inject_hyperparams_leaves_defaults_and_static_args_alone():
    p = {"x": np.ones(2)}
    state = fo.inject_hyperparams(fo.sgd)(0.1).init(p)           # positional learning_rate
    assert set(state.hyperparams) == {"learning_rate"}
    assert state.inner_state.momentum_buffer is None             # default momentum=0.0 stays static
    opt = fo.inject_hyperparams(fo.adamw)(learning_rate=0.1, mask=lambda q: {"x": False})
    u, _ = opt.update({"x": np.ones(2)}, opt.init(p), p)
    assert set(opt.init(p).hyperparams) == {"learning_rate"}
    with pytest.raises(ValueError, match="static_args"):
        fo.inject_hyperparams(fo.adam, static_args=("nope",))
    with pytest.raises(TypeError, match="learning_rate"):
        fo.inject_hyperparams(fo.adam)(learning_rate="fast")
