"""examples/celsius.py: the Fahrenheit-to-Celsius fit, 330,000 gradient steps as one
compiled loop, against the losses the original PyTorch run printed and against the
same program written in jax."""
import importlib.util
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcgrad as fg

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"

# What the float32 PyTorch run printed at epochs 30000, 60000, ..., 330000, and its params.
TORCH_LOSSES = [12.095908, 6.133891, 4.048903, 3.319792, 3.064586, 2.975681, 2.944574, 2.933552,
                2.929731, 2.928472, 2.927906]
TORCH_PARAMS = [0.5358, -17.2503]


@pytest.fixture(scope="module")
def celsius():
    spec = importlib.util.spec_from_file_location("celsius", EXAMPLES / "celsius.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run(celsius):
    return celsius.main()


def test_losses_and_params_are_the_pytorch_runs(run):
    params, losses = run
    # float32 sums in another order than PyTorch's: the same digits up to the last one.
    np.testing.assert_allclose(losses, TORCH_LOSSES, rtol=2e-6)
    assert abs(losses[-1] - 2.927906) < 2e-6
    np.testing.assert_array_equal(np.round(params, 4), np.float32(TORCH_PARAMS))
    assert params.dtype == losses.dtype == np.float32


def test_the_same_program_in_jax_gives_the_same_run(celsius, run):
    def loss_fn(p, x, y):
        return jnp.mean((p[0] * x + p[1] - y) ** 2)

    @jax.jit
    def train(p):
        def epoch(i, c):
            loss, g = jax.value_and_grad(loss_fn)(c[0], celsius.X, celsius.Y)
            return c[0] - celsius.LEARNING_RATE * g, loss

        def report(p, k):
            return jax.lax.fori_loop(0, celsius.EVERY, epoch, (p, jnp.float32(0.0)))
        return jax.lax.scan(report, p, jnp.arange(celsius.N_EPOCHS // celsius.EVERY))

    params, losses = train(celsius.PARAMS0)
    np.testing.assert_allclose(run[0], params, rtol=1e-5)
    np.testing.assert_allclose(run[1], losses, rtol=1e-5)


def test_the_whole_run_is_one_loop_in_one_compiled_program(celsius, capsys):
    ir = fg.make_ir(celsius.train)(celsius.PARAMS0, celsius.X, celsius.Y)
    assert [e.prim.name for e in ir.eqns] == ["jit_call"]
    inner = ir.eqns[0].params["ir"]
    assert [e.prim.name for e in inner.eqns if e.prim.name != "iota"] == ["scan"]
    text = celsius.train.lower(celsius.PARAMS0, celsius.X, celsius.Y).as_text()
    assert text.count("stablehlo.while") == 2       # the reports' scan and each report's loop
    assert len(text) < 20_000                        # not unrolled: 330,000 steps would be megabytes
