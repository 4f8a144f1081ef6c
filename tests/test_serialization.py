"""Checkpoints: exact round trips, atomic writes, clear errors on corrupt files and mismatched structures."""
import collections
import os
from typing import NamedTuple

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.optim as fo
import funcgrad.serialization as ser
from funcgrad.errors import TreeStructureError


class Pair(NamedTuple):
    """A user NamedTuple at module level (importable by qualified name)."""

    first: object
    second: object


def params():
    rng = np.random.default_rng(0)
    return {"dense": {"w": rng.normal(size=(3, 2)).astype(np.float32), "b": np.zeros(2, np.float32)},
            "scale": np.asarray(1.5, np.float64), "steps": np.arange(3, dtype=np.int64)}


def assert_same_tree(a, b):
    la, ta = fg.tree.flatten(a)
    lb, tb = fg.tree.flatten(b)
    assert ta == tb
    for x, y in zip(la, lb, strict=True):
        assert type(x) is type(y) or (isinstance(x, np.ndarray) and isinstance(y, np.ndarray))
        assert np.asarray(x).dtype == np.asarray(y).dtype and np.shape(x) == np.shape(y)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_params_round_trip_dtype_and_structure_exact(tmp_path):
    path = tmp_path / "params.npz"
    ser.save(path, params())
    assert_same_tree(ser.load(path), params())


@pytest.mark.parametrize("make", [lambda: fo.adam(1e-3), lambda: fo.sgd(0.1, momentum=0.9),
                                  lambda: fo.rmsprop(1e-3, centered=True),
                                  lambda: fo.chain(fo.clip_by_global_norm(1.0), fo.adamw(1e-3)),
                                  lambda: fo.masked(fo.lion(1e-3), {"dense": True, "scale": False, "steps": False}),
                                  lambda: fo.inject_hyperparams(fo.adam)(learning_rate=1e-3),
                                  lambda: fo.multi_steps(fo.apply_if_finite(fo.lamb(1e-3), 2), 2)],
                         ids=["adam", "sgd", "rmsprop", "chain", "masked", "inject", "multi_steps"])
def test_optimizer_states_come_back_as_the_same_namedtuples(tmp_path, make):
    p = {k: v for k, v in params().items() if k != "steps"}
    p["steps"] = np.ones(3, np.float32)
    opt = make()
    state = opt.init(p)
    _, state = opt.update(fg.tree.map(np.ones_like, p), state, p)
    path = tmp_path / "state.npz"
    ser.save(path, state)
    loaded = ser.load(path)
    assert_same_tree(loaded, state)
    assert type(loaded) is type(state)
    assert_same_tree(ser.load(path, like=opt.init(p)), state)
    _, again = opt.update(fg.tree.map(np.ones_like, p), loaded, p)          # the loaded state works
    assert fg.tree.structure(again) == fg.tree.structure(state)


def test_adam_state_fields_after_load(tmp_path):
    state = fo.adam(1e-3).init({"w": np.ones(2)})
    ser.save(tmp_path / "s.npz", state)
    loaded = ser.load(tmp_path / "s.npz")
    assert type(loaded) is fo.AdamState
    assert loaded.t.dtype == np.int32 and loaded.t.shape == ()


def test_containers_scalars_and_none_round_trip(tmp_path):
    tree = {"list": [np.float32(1.5), 2, 3.25, True], "tuple": (None, np.int8(3)),
            "ints": {7: Pair(np.ones(1), None), 3: np.ones(2)},
            "od": collections.OrderedDict([("z", np.zeros(1)), ("a", np.ones((0, 2)))]), "empty": {}}
    ser.save(tmp_path / "t.npz", tree)
    loaded = ser.load(tmp_path / "t.npz")
    assert_same_tree(loaded, tree)
    assert type(loaded["list"][1]) is int and type(loaded["list"][2]) is float and loaded["list"][3] is True
    assert type(loaded["list"][0]) is np.float32
    assert type(loaded["ints"][7]) is Pair and loaded["tuple"][0] is None
    assert type(loaded["od"]) is collections.OrderedDict and list(loaded["od"]) == ["z", "a"]


def test_jit_outputs_and_bfloat16_round_trip(tmp_path):
    import jax.numpy as jnp
    tree = {"j": jnp.arange(3.0), "bf16": jnp.ones(2, jnp.bfloat16)}
    ser.save(tmp_path / "j.npz", tree)
    loaded = ser.load(tmp_path / "j.npz")
    assert loaded["bf16"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(loaded["j"]), np.arange(3.0, dtype=np.asarray(tree["j"]).dtype))


def test_load_with_like_of_another_structure_names_the_first_differing_path(tmp_path):
    path = tmp_path / "p.npz"
    ser.save(path, params())
    other = params()
    other["dense"] = {"w": other["dense"]["w"], "bias": other["dense"]["b"]}
    with pytest.raises(TreeStructureError, match=r"\['dense'\]\['b'\].*\['dense'\]\['bias'\]"):
        ser.load(path, like=other)
    with pytest.raises(TreeStructureError):
        ser.load(path, like=[1, 2, 3, 4])


def test_load_with_like_of_another_namedtuple_type_is_a_structure_error(tmp_path):
    ser.save(tmp_path / "s.npz", fo.adam(1e-3).init({"w": np.ones(2)}))
    with pytest.raises(TreeStructureError):
        ser.load(tmp_path / "s.npz", like=fo.lamb(1e-3).init({"w": np.ones(2)}))


@pytest.mark.parametrize("damage", ["truncate_half", "truncate_to_zero", "flip_byte_in_data", "garbage",
                                    "plain_npz"])
def test_truncated_or_corrupt_files_raise_a_clear_error_naming_the_file(tmp_path, damage):
    path = tmp_path / "ckpt.npz"
    ser.save(path, {"w": np.arange(1000, dtype=np.float64)})
    data = path.read_bytes()
    if damage == "truncate_half":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "truncate_to_zero":
        path.write_bytes(b"")
    elif damage == "flip_byte_in_data":
        i = data.index(np.arange(1000, dtype=np.float64).tobytes()[800:808])
        path.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
    elif damage == "garbage":
        path.write_bytes(b"not a checkpoint at all" * 10)
    else:
        np.savez(path, w=np.ones(2))
    with pytest.raises(ser.CheckpointError, match="ckpt.npz") as info:
        ser.load(path)
    assert isinstance(info.value, ValueError)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        ser.load(tmp_path / "nope.npz")


def test_a_crash_in_the_rename_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    ser.save(path, {"w": np.ones(3)})

    def crash(src, dst):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        ser.save(path, {"w": np.zeros(3), "extra": np.ones(1)})
    monkeypatch.undo()
    np.testing.assert_array_equal(ser.load(path)["w"], np.ones(3))
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]          # no temporary file left behind


def test_a_crash_mid_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    ser.save(path, {"w": np.ones(3)})
    real_write = np.lib.format.write_array
    calls = []

    def write_then_die(fp, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:                    # die after part of the file is written
            fp.write(b"\x00" * 100)
            raise KeyboardInterrupt("simulated crash mid-write")
        return real_write(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        ser.save(path, {"a": np.zeros(3), "b": np.zeros(5)})
    monkeypatch.undo()
    assert calls
    np.testing.assert_array_equal(ser.load(path)["w"], np.ones(3))
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]


def test_a_failed_fsync_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    ser.save(path, {"w": np.ones(3)})
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        ser.save(path, {"w": np.zeros(3)})
    monkeypatch.undo()
    np.testing.assert_array_equal(ser.load(path)["w"], np.ones(3))


def test_saving_overwrites_and_creates_no_pickles(tmp_path):
    path = tmp_path / "ckpt.npz"
    ser.save(path, {"w": np.ones(3)})
    ser.save(str(path), {"w": np.full(3, 2.0)})
    np.testing.assert_array_equal(ser.load(str(path))["w"], 2.0)
    with np.load(path, allow_pickle=False) as npz:         # every member loads without pickle
        for name in npz.files:
            npz[name]


def test_unsaveable_leaves_raise_type_error(tmp_path):
    with pytest.raises(TypeError, match="leaf 0"):
        ser.save(tmp_path / "x.npz", {"s": "text"})
    with pytest.raises(TypeError):
        ser.save(tmp_path / "x.npz", {"o": np.array([object()])})
    assert not os.listdir(tmp_path)


def test_namedtuple_that_cannot_be_imported_needs_like(tmp_path):
    class Local(NamedTuple):
        a: object

    ser.save(tmp_path / "l.npz", Local(np.ones(1)))
    with pytest.raises(ser.CheckpointError, match="like="):
        ser.load(tmp_path / "l.npz")
    loaded = ser.load(tmp_path / "l.npz", like=Local(np.zeros(1)))
    assert type(loaded) is Local


def test_loading_never_imports_a_module_the_file_names(tmp_path, monkeypatch):
    """A checkpoint naming a NamedTuple in a module that is not imported is refused
    (loading runs no code), with a fix; once the module is imported it loads."""
    import sys
    import types
    from typing import NamedTuple

    mod = types.ModuleType("fg_ckpt_probe_mod")

    class State(NamedTuple):
        a: object

    State.__module__ = "fg_ckpt_probe_mod"
    State.__qualname__ = "State"
    mod.State = State
    monkeypatch.setitem(sys.modules, "fg_ckpt_probe_mod", mod)
    path = tmp_path / "s.npz"
    ser.save(path, State(np.arange(3.0)))
    monkeypatch.delitem(sys.modules, "fg_ckpt_probe_mod")
    with pytest.raises(ser.CheckpointError, match="import its module first"):
        ser.load(path)
    monkeypatch.setitem(sys.modules, "fg_ckpt_probe_mod", mod)
    back = ser.load(path)
    assert type(back) is State and np.array_equal(back.a, np.arange(3.0))


# ----------------------------------------------------------------------------- format versions

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def version1_tree():
    """What ``tests/data/checkpoint_v1.npz`` holds: it was written by funcgrad 0.1.0 (format
    version 1, before the header recorded the writer's version) from exactly this tree."""
    import ml_dtypes
    p = {"dense": {"w": np.arange(6, dtype=np.float32).reshape(3, 2) / 4, "b": np.array([0.5, -1.5], np.float32)},
         "emb": np.arange(4, dtype=np.float64)}
    state = fo.adam(1e-3).init(p)._replace(t=np.asarray(7, np.int32))
    return {"params": p, "opt": state, "step": 7, "lr": 0.001, "done": False,
            "misc": [np.int8(-3), np.uint16(9), (None, np.ones((0, 2), np.float32))],
            "od": collections.OrderedDict([("z", np.zeros(1)), ("a", np.array([True, False]))]),
            "bf16": np.array([1.0, -2.5], ml_dtypes.bfloat16), "big": np.int64(2 ** 40),
            "by_int": {3: np.ones(1), 1: np.zeros(1)}}


def test_a_checkpoint_written_by_an_older_funcgrad_loads(tmp_path):
    path = os.path.join(DATA, "checkpoint_v1.npz")
    with np.load(path) as npz:
        import json
        assert json.loads(bytes(npz["__funcgrad_header__"]))["version"] == 1
    loaded = ser.load(path)
    assert_same_tree(loaded, version1_tree())
    assert type(loaded["opt"]) is fo.AdamState and type(loaded["od"]) is collections.OrderedDict
    assert type(loaded["step"]) is int and type(loaded["done"]) is bool and type(loaded["big"]) is np.int64
    assert_same_tree(ser.load(path, like=version1_tree()), version1_tree())
    ser.save(tmp_path / "again.npz", loaded)                          # and it saves in today's format
    assert_same_tree(ser.load(tmp_path / "again.npz"), version1_tree())


def rewrite_header(src, dst, **changes):
    import json
    with np.load(src) as npz:
        members = {k: npz[k] for k in npz.files}
    header = json.loads(bytes(members["__funcgrad_header__"]))
    header.update(changes)
    members["__funcgrad_header__"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(dst, **members)


def test_a_checkpoint_of_a_newer_format_says_to_upgrade(tmp_path):
    ser.save(tmp_path / "c.npz", params())
    rewrite_header(tmp_path / "c.npz", tmp_path / "newer.npz", version=ser.VERSION + 1, funcgrad="9.0.0")
    with pytest.raises(ser.CheckpointError) as e:
        ser.load(tmp_path / "newer.npz")
    msg = str(e.value)
    assert str(tmp_path / "newer.npz") in msg and f"format version {ser.VERSION + 1}" in msg
    assert "funcgrad 9.0.0" in msg and "Fix: upgrade funcgrad" in msg
    rewrite_header(tmp_path / "c.npz", tmp_path / "bad.npz", version="one")
    with pytest.raises(ser.CheckpointError, match=r"bad\.npz.*header is corrupt"):
        ser.load(tmp_path / "bad.npz")


def test_a_header_field_a_reader_does_not_know_is_ignored(tmp_path):
    ser.save(tmp_path / "c.npz", params())
    rewrite_header(tmp_path / "c.npz", tmp_path / "extra.npz", written_on="a later funcgrad", extra={"a": 1})
    assert_same_tree(ser.load(tmp_path / "extra.npz"), params())


# ----------------------------------------------------------------------------- foreign and damaged files

@pytest.mark.parametrize("kind, says", [
    ("empty", "the file is empty"),
    ("text", "not a zip archive; it starts with b'step,loss"),
    ("npy", "NumPy .npy file (written by np.save)"),
    ("npz", "NumPy .npz archive holding ['w', 'b'], not a funcgrad checkpoint"),
    ("pickle", "looks like a pickle"),
    ("truncated", "truncated or corrupt"),
    ("flipped", "truncated or corrupt"),
    ("missing_leaf", "lacks the arrays ['leaf_1']"),
])
def test_foreign_and_damaged_files_say_what_is_wrong_and_name_the_file(tmp_path, kind, says):
    import pickle
    good = tmp_path / "good.npz"
    ser.save(good, {"w": np.arange(1000, dtype=np.float64), "b": np.ones(3)})
    data = good.read_bytes()
    path = tmp_path / "model.ckpt"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("step,loss\n1,0.5\n")
    elif kind == "npy":
        with open(path, "wb") as f:
            np.save(f, np.ones(3))
    elif kind == "npz":
        with open(path, "wb") as f:
            np.savez(f, w=np.ones(2), b=np.zeros(1))
    elif kind == "pickle":
        path.write_bytes(pickle.dumps({"w": [1.0]}))
    elif kind == "truncated":
        path.write_bytes(data[:-30])
    elif kind == "flipped":
        i = data.index(np.arange(1000, dtype=np.float64).tobytes()[4000:4008])
        path.write_bytes(data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:])
    else:
        with np.load(good) as npz:
            members = {k: npz[k] for k in npz.files if k != "leaf_1"}
        with open(path, "wb") as f:
            np.savez(f, **members)
    with pytest.raises(ser.CheckpointError) as e:
        ser.load(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: cannot load this checkpoint: ") and says in msg, msg
    assert "\nFix: " in msg
    assert isinstance(e.value, ValueError) and isinstance(e.value, fg.errors.FuncgradError)


# ----------------------------------------------------------------------------- kill -9 while saving

_WRITER = r"""
import json, os, random, signal, sys, time
import numpy as np
import funcgrad.serialization as ser

root, trials, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
report = []
for trial in range(trials):
    d = os.path.join(root, f"trial{trial}")
    os.makedirs(d)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                      # the writer: save version k = 1, 2, ... of a ~16 MB tree, forever
        os.close(r)
        k = 0
        while True:
            k += 1
            tree = {"k": k, "big": np.full(1_000_000, k, np.float64), "layers": [np.full((500, 500), k, np.float32),
                    np.full(250_000, k, np.int64)], "opt": (np.full(3, k, np.float32), None)}
            ser.save(os.path.join(d, "ckpt.npz"), tree)
            os.write(w, b"%d\n" % k)  # saved
    os.close(w)
    time.sleep(rng.uniform(0.0, 0.35))
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    acked = 0
    with os.fdopen(r, "rb") as f:
        lines = f.read().split()
        acked = int(lines[-1]) if lines else 0
    report.append({"dir": d, "acked": acked})
print(json.dumps(report))
"""


def _check_complete(tree, k):
    assert tree["k"] == k
    assert np.array_equal(tree["big"], np.full(1_000_000, k, np.float64))
    assert np.array_equal(tree["layers"][0], np.full((500, 500), k, np.float32))
    assert np.array_equal(tree["layers"][1], np.full(250_000, k, np.int64))
    assert tree["opt"][1] is None and np.array_equal(tree["opt"][0], np.full(3, k, np.float32))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="uses os.fork for fast writer processes")
def test_a_save_killed_at_random_moments_never_leaves_a_broken_checkpoint(tmp_path):
    """A child process saves bigger and bigger version numbers of one tree to one path in a loop
    and is killed with SIGKILL at a random moment, in several trials: the path is then absent
    or a complete, correct version (the last one saved, or the one whose rename had just
    happened), and a temporary file left behind is not mistaken for a checkpoint."""
    import glob
    import json
    import subprocess
    import sys

    root = os.path.dirname(DATA)
    proc = subprocess.run([sys.executable, "-c", _WRITER, str(tmp_path), "12", "0"], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONPATH=os.path.dirname(root)))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    killed_mid_write = 0
    for trial in report:
        d, acked = trial["dir"], trial["acked"]
        path = os.path.join(d, "ckpt.npz")
        assert glob.glob(os.path.join(d, "*.npz")) == ([path] if os.path.exists(path) else [])
        if not os.path.exists(path):
            assert acked == 0, trial          # killed before the first save finished
        else:
            tree = ser.load(path)
            assert tree["k"] in (acked, acked + 1), (trial, tree["k"])
            _check_complete(tree, tree["k"])
        leftovers = [f for f in os.listdir(d) if f != "ckpt.npz"]
        assert len(leftovers) <= 1 and all(f.startswith(".ckpt.npz.") and f.endswith(".tmp") for f in leftovers)
        for f in leftovers:
            killed_mid_write += 1
            try:                              # a partial temporary file is refused; a finished one is whole
                partial = ser.load(os.path.join(d, f))
            except ser.CheckpointError:
                continue
            _check_complete(partial, partial["k"])
    assert killed_mid_write >= 1, report     # some kills landed while a file was being written
