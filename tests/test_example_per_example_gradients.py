"""examples/per_example_gradients.py: vmap(grad) and jit(vmap(grad)) against a Python loop of grad, against
jax.vmap(jax.grad) of the same loss, and against the closed form of the logistic loss's gradient."""
import importlib.util
import pathlib

import jax
import numpy as np
import pytest

import funcgrad as fg
from funcgrad import random

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def ex():
    spec = importlib.util.spec_from_file_location("per_example_gradients", EXAMPLES / "per_example_gradients.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run(ex):
    return ex.main(verbose=False)


def jax_loss_one(params, x, y):
    z = x @ params["w"] + params["b"]
    return -y * jax.nn.log_sigmoid(z) - (1 - y) * jax.nn.log_sigmoid(-z)


def jax_per_example(params, xs, ys):
    return jax.vmap(jax.grad(jax_loss_one), in_axes=(None, 0, 0))(params, xs, ys)


def assert_trees_close(got, want, rtol=1e-5, atol=1e-7):
    assert fg.tree.structure(got) == fg.tree.structure(want)
    for g, w in zip(fg.tree.leaves(got), fg.tree.leaves(want)):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=rtol, atol=atol)


def test_vmap_and_jit_vmap_match_the_loop_and_jax(run):
    params, xs, ys = run["params"], run["xs"], run["ys"]
    assert run["vmap"]["w"].shape == (200, 2) and run["vmap"]["b"].shape == (200,)
    assert run["vmap"]["w"].dtype == np.float32
    want = jax_per_example(params, xs, ys)
    for name in ("vmap", "jit", "loop"):
        assert_trees_close(run[name], want)
    assert_trees_close(run["vmap"], run["loop"], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("seed", [1, 2])
def test_at_other_params_too(ex, seed):
    k_data, k_w = random.split(random.key(seed))
    xs, ys = ex.make_data(k_data)
    params = {"w": 2 * np.asarray(random.normal(k_w, (2,))), "b": np.float32(seed - 1.5)}
    want = jax_per_example(params, xs, ys)
    for got in (ex.per_example_grads(params, xs, ys), ex.per_example_grads_jit(params, xs, ys),
                ex.loop_grads(params, xs, ys)):
        assert_trees_close(got, want)
    # The logistic loss's gradient in closed form: (sigmoid(z) - y) * (x, 1).
    r = 1 / (1 + np.exp(-(xs.astype(np.float64) @ params["w"] + params["b"]))) - ys
    assert_trees_close(ex.per_example_grads(params, xs, ys), {"w": r[:, None] * xs, "b": r}, rtol=1e-4, atol=1e-6)


def test_the_mean_of_the_per_example_gradients_is_the_batch_gradient(ex, run):
    mean = fg.tree.map(lambda g: np.mean(g, axis=0), run["vmap"])
    assert_trees_close(mean, fg.grad(ex.loss)(run["params"], run["xs"], run["ys"]), rtol=1e-5, atol=1e-7)


def test_the_norms_and_the_flipped_labels(ex, run):
    want = np.linalg.norm(np.concatenate([run["loop"]["w"], run["loop"]["b"][:, None]], axis=1), axis=1)
    np.testing.assert_allclose(run["norms"], want, rtol=1e-5)
    top = np.argsort(run["norms"])[::-1][:len(ex.FLIPPED)]
    assert set(top) == set(ex.FLIPPED)
    # The flipped points stand out: the smallest of their norms is well above the rest.
    rest = np.delete(run["norms"], ex.FLIPPED)
    assert run["norms"][ex.FLIPPED].min() > 1.5 * rest.max()


def test_main_prints_the_differences_times_and_the_largest_norms(ex, capsys):
    ex.main()
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "per-example gradients: {'b': (200,), 'w': (200, 2)}"
    for line in out[1:3]:
        assert float(line.split("=")[1]) < 1e-6
    assert out[3].startswith("time for 200 points: loop ")
    rows = out[6:]
    assert len(rows) == len(ex.FLIPPED) + 2
    assert all(row.endswith("flipped") for row in rows[:len(ex.FLIPPED)])
    assert not any(row.endswith("flipped") for row in rows[len(ex.FLIPPED):])
