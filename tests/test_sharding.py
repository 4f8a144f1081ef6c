"""Sharded and data-parallel jit: shardings pass through to XLA, sharded inputs stay on
their devices, XLA sums data-parallel gradients, and the results match one device.

The 8-device checks run once, in a subprocess whose jax sees 8 simulated CPU devices
(``--xla_force_host_platform_device_count=8``; this process's jax already has one), and
report what they measured as JSON; each test below asserts on one part of it.
"""
import functools
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec as P

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.errors import ShardingError

STEPS = 10


# ----------------------------------------------------------------------------- the model both processes train

def mlp_data(seed=0, batch=64):
    rng = np.random.default_rng(seed)
    params = {"w1": (rng.standard_normal((16, 32)) * 0.3).astype(np.float32), "b1": np.zeros(32, np.float32),
              "w2": (rng.standard_normal((32, 4)) * 0.3).astype(np.float32), "b2": np.zeros(4, np.float32)}
    x = rng.standard_normal((batch, 16)).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, batch)]
    return params, x, y


def loss(p, x, y):
    h = fnp.tanh(x @ p["w1"] + p["b1"])
    out = h @ p["w2"] + p["b2"]
    return fnp.mean(fnp.sum((out - y) ** 2, axis=1))


OPT = fg.optim.adam(1e-2)


def step(params, opt_state, x, y):
    value, grads = fg.value_and_grad(loss)(params, x, y)
    updates, opt_state = OPT.update(grads, opt_state, params)
    return fg.optim.apply_updates(params, updates), opt_state, value


def train(fn, params, opt_state, x, y, steps=STEPS):
    for _ in range(steps):
        params, opt_state, value = fn(params, opt_state, x, y)
    return params, opt_state, value


def _max_diff(a, b):
    return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v))))
               for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True))


def _specs(tree):
    return [str(x.sharding.spec) for x in jax.tree_util.tree_leaves(tree)]


# ----------------------------------------------------------------------------- the 8-device worker

def _error(fn):
    try:
        fn()
    except ShardingError as e:
        return {"type": "ShardingError", "message": str(e)}
    except Exception as e:  # noqa: BLE001  (reported, and the test says what it expected)
        return {"type": type(e).__name__, "message": str(e)[:500]}
    return None


def worker():
    """Everything measured on 8 devices, as a JSON-able dict."""
    r = {"devices": jax.device_count()}
    params, x, y = mlp_data()
    state = OPT.init(params)
    p1, s1, l1 = train(fg.jit(step), params, state, x, y)

    # data parallelism: the batch split 8 ways, params and optimizer state replicated
    mesh = fg.parallel.make_mesh()
    dp = fg.parallel.data_parallel(step, mesh, batch_argnums=(2, 3))
    p8, s8, l8 = train(dp, params, state, x, y)
    r["dp"] = {"param_diff": _max_diff(p1, p8), "loss": [float(l1), float(l8)],
               "param_specs": _specs(p8), "state_specs": _specs(s8), "loss_spec": str(l8.sharding.spec),
               "replicated": all(a.sharding.is_fully_replicated and len(a.sharding.device_set) == 8
                                 for a in jax.tree_util.tree_leaves((p8, s8, l8))),
               "dtypes": [str(a.dtype) for a in jax.tree_util.tree_leaves((p8, s8))],
               "hlo_all_reduce": "all-reduce" in dp.lower(params, state, x, y).compile().as_text()}

    # already-sharded inputs through a jit without shardings: no trip through the host
    rep, split = fg.parallel.replicated(mesh), fg.parallel.batch_sharding(mesh)
    xs, ys = fg.device_put(x, split), fg.device_put(y, split)
    ps, ss = fg.device_put(params, rep), fg.device_put(state, rep)
    plain = fg.jit(step)
    out = plain(ps, ss, xs, ys)
    with jax.transfer_guard("disallow"):  # any host<->device copy raises
        for _ in range(3):
            out = plain(out[0], out[1], xs, ys)
            out2 = dp(out[0], out[1], xs, ys)
    r["no_transfer"] = {"ok": True, "param_specs": _specs(out2[0]),
                        "x_shards": [tuple(s.data.shape) for s in xs.addressable_shards][:2]}
    double = fg.jit(lambda a: fnp.sin(a) * 2.0)
    by_rows, whole = double(xs), double(fg.device_put(x, rep))  # one function, two input layouts
    r["propagate"] = {"rows_spec": str(by_rows.sharding.spec), "rows_devices": len(by_rows.sharding.device_set),
                      "whole_replicated": whole.sharding.is_fully_replicated,
                      "diff": float(np.max(np.abs(np.asarray(by_rows) - np.asarray(whole)))),
                      "ref_diff": float(np.max(np.abs(np.asarray(by_rows) - np.sin(x) * 2.0)))}

    # eager funcgrad (NumPy) on a sharded jax.Array: computes on the host, gives NumPy
    e = fnp.tanh(xs) @ fnp.asarray(params["w1"])
    r["eager"] = {"numpy": isinstance(e, np.ndarray) and not isinstance(e, jax.Array),
                  "diff": float(np.max(np.abs(e - np.tanh(x) @ params["w1"])))}

    # model parallelism: w1's columns and w2's rows split over "model", the batch over "data"
    mesh2 = fg.parallel.make_mesh((4, 2), ("data", "model"))
    rep2 = fg.parallel.replicated(mesh2)
    psh = {"w1": NamedSharding(mesh2, P(None, "model")), "b1": NamedSharding(mesh2, P("model")),
           "w2": NamedSharding(mesh2, P("model", None)), "b2": rep2}
    ssh = fg.parallel.state_shardings(state, params, psh)
    bsh = NamedSharding(mesh2, P("data"))
    mp = fg.jit(step, in_shardings=(psh, ssh, bsh, bsh), out_shardings=(psh, ssh, rep2))
    pm, sm, lm = train(mp, fg.device_put(params, psh), fg.device_put(state, ssh), x, y)
    r["mp"] = {"param_diff": _max_diff(p1, pm), "loss": [float(l1), float(lm)],
               "w1_spec": str(pm["w1"].sharding.spec), "w1_shard": tuple(pm["w1"].addressable_shards[0].data.shape),
               "m_w1_spec": str(sm.m["w1"].sharding.spec), "v_w2_spec": str(sm.v["w2"].sharding.spec),
               "m_same_as_param": all(sm.m[k].sharding.is_equivalent_to(psh[k], pm[k].ndim) for k in psh),
               "t_spec": str(sm.t.sharding.spec),
               "hlo_all_reduce": "all-reduce" in mp.lower(params, state, x, y).compile().as_text()}

    # errors, in the user's terms
    x10, y10 = x[:10], y[:10]
    x_on_one = jax.device_put(x, jax.devices()[0])  # committed to device 0
    explicit = jax.make_mesh((8,), ("data",), axis_types=(jax.sharding.AxisType.Explicit,))
    ex = NamedSharding(explicit, P("data"))
    r["errors"] = {
        "indivisible": _error(lambda: dp(params, state, x10, y10)),
        "placed_elsewhere": _error(lambda: dp(params, state, x_on_one, y)),
        "kwargs": _error(lambda: dp(params, state, x=x, y=y)),
        "explicit": _error(lambda: fg.jit(step)(fg.device_put(params, NamedSharding(explicit, P())),
                                                fg.device_put(state, NamedSharding(explicit, P())),
                                                fg.device_put(x, ex), fg.device_put(y, ex))),
    }
    return r


@pytest.fixture(scope="module")
def eight():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, os.path.abspath(__file__)], cwd=root, env=env, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, f"the 8-device worker failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- on 8 simulated devices

def test_worker_sees_eight_devices(eight):
    assert eight["devices"] == 8


def test_data_parallel_adam_matches_one_device_after_ten_steps(eight):
    dp = eight["dp"]
    assert dp["param_diff"] < 1e-5
    assert abs(dp["loss"][0] - dp["loss"][1]) < 1e-5
    assert set(dp["dtypes"]) <= {"float32", "int32"}


def test_data_parallel_outputs_and_optimizer_state_are_replicated_on_all_devices(eight):
    dp = eight["dp"]
    assert dp["replicated"]
    assert set(dp["param_specs"]) == {"P()"} and set(dp["state_specs"]) == {"P()"}
    assert dp["loss_spec"] == "P()"


def test_data_parallel_program_sums_gradients_with_an_all_reduce(eight):
    assert eight["dp"]["hlo_all_reduce"]
    assert eight["mp"]["hlo_all_reduce"]


def test_sharded_inputs_stay_on_their_devices_through_jitted_steps(eight):
    nt = eight["no_transfer"]
    assert nt["ok"] and set(nt["param_specs"]) == {"P()"}
    assert nt["x_shards"] == [[8, 16], [8, 16]]  # 64 rows, 8 per device


def test_output_layout_follows_input_layout_for_one_jitted_function(eight):
    pr = eight["propagate"]
    assert pr["rows_spec"] in ("P('data',)", "P('data', None)")
    assert pr["rows_devices"] == 8 and pr["whole_replicated"]
    assert pr["diff"] == 0.0 and pr["ref_diff"] < 1e-5


def test_eager_ops_on_a_sharded_array_compute_on_the_host(eight):
    assert eight["eager"]["numpy"]
    assert eight["eager"]["diff"] < 1e-5


def test_model_parallel_weights_and_their_moments_stay_sharded(eight):
    mp = eight["mp"]
    assert mp["param_diff"] < 1e-5 and abs(mp["loss"][0] - mp["loss"][1]) < 1e-5
    assert mp["w1_spec"] == "P(None, 'model')" and mp["w1_shard"] == [16, 16]
    assert mp["m_w1_spec"] == "P(None, 'model')" and mp["v_w2_spec"] == "P('model', None)"
    assert mp["m_same_as_param"] and mp["t_spec"] == "P()"


def test_batch_that_devices_do_not_divide_is_a_sharding_error_naming_argument_and_fix(eight):
    e = eight["errors"]["indivisible"]
    assert e["type"] == "ShardingError", e
    for part in ("argument 2", "(10, 16)", "into 8 parts", "multiple of 8", "test_sharding.py"):
        assert part in e["message"], e["message"]


def test_array_placed_elsewhere_is_a_sharding_error_pointing_to_device_put(eight):
    e = eight["errors"]["placed_elsewhere"]
    assert e["type"] == "ShardingError", e
    assert "argument 2" in e["message"] and "funcgrad.device_put" in e["message"]


def test_keyword_arguments_with_in_shardings_say_pass_by_position(eight):
    e = eight["errors"]["kwargs"]
    assert e["type"] == "ShardingError", e
    assert "by position" in e["message"]


def test_explicit_axes_mesh_is_a_sharding_error_asking_for_auto_axes(eight):
    e = eight["errors"]["explicit"]
    assert e["type"] == "ShardingError", e
    assert "Explicit" in e["message"] and "make_mesh" in e["message"]


# ----------------------------------------------------------------------------- on this process's one device

def test_jit_with_shardings_on_a_one_device_mesh_returns_jax_arrays_as_declared():
    mesh = fg.parallel.make_mesh()
    rep, split = fg.parallel.replicated(mesh), fg.parallel.batch_sharding(mesh)
    f = fg.jit(lambda a, b: (a * 2.0, fnp.sum(b)), in_shardings=(split, rep), out_shardings=(split, rep))
    a, b = f(np.ones((4, 3), np.float32), np.arange(3.0))
    assert isinstance(a, jax.Array) and a.sharding.is_equivalent_to(split, 2)
    assert b.dtype == np.float64 and float(b) == 3.0  # float64 stays float64


def test_shardings_skip_static_arguments_as_in_jax():
    mesh = fg.parallel.make_mesh()
    f = fg.jit(lambda x, n: x * n, static_argnums=1, in_shardings=(fg.parallel.replicated(mesh),))
    np.testing.assert_allclose(np.asarray(f(np.ones(3, np.float32), 3)), 3.0)


def test_jit_with_shardings_as_a_decorator_and_under_grad():
    mesh = fg.parallel.make_mesh()
    rep = fg.parallel.replicated(mesh)

    @functools.partial(fg.jit, in_shardings=rep, out_shardings=rep)
    def f(w):
        return fnp.sum(fnp.sin(w) ** 2)

    w = np.linspace(0.0, 1.0, 5)
    assert f(w).sharding.is_equivalent_to(rep, 0)
    np.testing.assert_allclose(np.asarray(fg.grad(f)(w)), np.sin(2 * w), rtol=1e-12)  # runs inside grad's program


def test_data_parallel_leaves_static_arguments_out_of_the_layouts():
    def scaled_step(params, x, scale):
        return fg.tree.map(lambda p: p * scale, params), fnp.sum(x)

    dp = fg.parallel.data_parallel(scaled_step, batch_argnums=1, static_argnums=2)
    params, out = dp({"w": np.ones(3, np.float32)}, np.ones((4, 2), np.float32), 3)
    assert float(params["w"][0]) == 3.0 and float(out) == 8.0


def test_data_parallel_on_one_device_is_the_jitted_step():
    params, x, y = mlp_data(batch=8)
    state = OPT.init(params)
    a = train(fg.jit(step), params, state, x, y, steps=3)
    b = train(fg.parallel.data_parallel(step, batch_argnums=(2, 3)), params, state, x, y, steps=3)
    assert _max_diff(a, b) < 1e-6


def test_device_put_places_pytrees_and_keeps_float64():
    mesh = fg.parallel.make_mesh()
    tree = {"a": np.arange(4.0), "b": (np.ones((2, 2), np.float32), np.int64(3))}
    out = fg.device_put(tree, fg.parallel.replicated(mesh))
    assert all(isinstance(v, jax.Array) for v in jax.tree_util.tree_leaves(out))
    assert [str(v.dtype) for v in jax.tree_util.tree_leaves(out)] == ["float64", "float32", "int64"]
    assert fg.device_put(fnp.ones(3)).dtype == np.float32


def test_state_shardings_gives_moments_the_param_shardings_and_counts_replicated():
    mesh = fg.parallel.make_mesh()
    params, _, _ = mlp_data()
    psh = {k: NamedSharding(mesh, P(*(None,) * (v.ndim - 1), "data")) for k, v in params.items()}
    ssh = fg.parallel.state_shardings(OPT.init(params), params, psh)
    assert ssh.m == psh and ssh.v == psh and ssh.t == fg.parallel.replicated(mesh)
    chained = fg.optim.chain(fg.optim.clip_by_global_norm(1.0), fg.optim.sgd(0.1, momentum=0.9))
    for s in jax.tree_util.tree_leaves(fg.parallel.state_shardings(chained.init(params), params, psh)):
        assert isinstance(s, NamedSharding)


def test_data_parallel_batch_argnums_must_name_a_dynamic_argument():
    with pytest.raises(ValueError, match="batch_argnums"):
        fg.parallel.data_parallel(step, batch_argnums=(4,))
    with pytest.raises(ValueError, match="do not hold"):
        fg.parallel.make_mesh((2, 3), ("data", "model"))


if __name__ == "__main__":
    print(json.dumps(worker()))
