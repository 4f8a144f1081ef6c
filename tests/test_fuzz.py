"""Random programs (``tests/fuzz_programs.py``) through every transform, against NumPy
and jax.

One test per seed.  Programs draw from ``funcgrad.numpy`` and (``tests/fuzz_families.py``)
``funcgrad.lax`` control flow, ``funcgrad.random``, ``funcgrad.nn``, convolution and
pooling, ``custom_jvp`` / ``custom_vjp`` and ``checkpoint``.  Every program is checked:
eager funcgrad == NumPy (values and exact dtypes); ``jit`` == eager;
``eval_ir(make_ir(f))`` == eager; ``vmap`` (in_axes 0, None and other positions; keyword
arguments) == a Python loop; ``jit(vmap(f))`` and ``vmap(jit(f))`` == ``vmap(f)``; the IR
type checker (``funcgrad/core/check.py``) accepts ``make_ir(f)`` and ``make_ir(vmap(f))``.
Float64 programs are also differentiated (a weighted sum of their float outputs):
``grad`` / ``jvp`` / ``vjp`` / ``linearize`` / ``jacfwd`` / ``jacrev`` / ``hessian`` ==
jax's (jitted; where that disagrees, jax's evaluated op by op, see
``Checks._eager_oracle``), ``<u, J v>`` agrees between ``jvp`` and ``vjp``, ``jit(grad)``
and ``grad(jit)`` == eager ``grad``, ``vmap(grad)`` == a loop of ``grad``,
``grad(vmap(f))`` (of a weighted sum of the batched outputs) == a loop of ``grad``, and
the IR checker accepts ``make_ir(grad(f))``.  Programs with a ``while_loop`` (or a
``fori_loop`` with a traced bound) get the forward-mode checks only and programs with a
``custom_vjp`` the reverse-mode ones, as JAX allows (``Program.modes``).

    pytest -n 2 tests/test_fuzz.py                     # CI: seeds 0..149
    FUNCGRAD_FUZZ=5000 pytest -n 2 tests/test_fuzz.py  # long mode: 5000 seeds
    FUNCGRAD_FUZZ_START=5000 FUNCGRAD_FUZZ=1000 ...    # another range
    FUNCGRAD_FUZZ_SEED=123 pytest tests/test_fuzz.py   # one seed (or "1,2,3")
    python tests/fuzz_programs.py 123                  # print its program

A failure names the seed, prints the program and its inputs, and lists every check
that failed with its message.
"""
import functools
import os
import re
import traceback
import warnings
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.core.check import check_ir
from fuzz_programs import B, generate

# Open bugs the fuzzer found, each as (label, check names, pattern on the message,
# pattern on the program source).  A seed whose failures all match one of these is an
# xfail (not strict) naming the bug, so new bugs stand out.  Delete an entry when its
# bug is fixed.  FUNCGRAD_FUZZ_STRICT=1 (and reproducing a seed with FUNCGRAD_FUZZ_SEED)
# ignores this list.
DERIV_CHECK_NAMES = ["grad_mixed", "grad", "jvp", "vjp", "linearize", "jacfwd", "jacrev", "hessian",
                     "vmap_grad", "grad_vmap", "jvp_vjp_consistent"]
KNOWN = [
    # (label, checks or None, message regex, program-source regex): open bugs
]


def _known(check, msg, src):
    if os.environ.get("FUNCGRAD_FUZZ_STRICT") or os.environ.get("FUNCGRAD_FUZZ_SEED"):
        return None
    for label, checks, mpat, spat in KNOWN:
        if (checks is None or check in checks) and re.search(mpat, msg) and re.search(spat, src):
            return label
    return None


def _seeds():
    if os.environ.get("FUNCGRAD_FUZZ_SEED"):
        return [int(s) for s in os.environ["FUNCGRAD_FUZZ_SEED"].split(",")]
    n = int(os.environ.get("FUNCGRAD_FUZZ", "150"))
    start = int(os.environ.get("FUNCGRAD_FUZZ_START", "0"))
    return list(range(start, start + n))


# ----------------------------------------------------------------------------- comparing

TOL = {np.dtype(np.float32): 2e-4, np.dtype(np.float64): 1e-8}
JIT_TOL = {np.dtype(np.float32): 1e-3, np.dtype(np.float64): 1e-8}
DERIV_TOL = 1e-6


def _leaves(x):
    if isinstance(x, (tuple, list)):
        return [e for o in x for e in _leaves(o)]
    return [x]


def close(got, want, what, tol=TOL, dtypes=True):
    g_l, w_l = _leaves(got), _leaves(want)
    assert len(g_l) == len(w_l), f"{what}: {len(g_l)} outputs, expected {len(w_l)}"
    for k, (g, w) in enumerate(zip(g_l, w_l, strict=True)):
        ga, wa = np.asarray(g), np.asarray(w)
        assert ga.shape == wa.shape, f"{what}: output {k} has shape {ga.shape}, expected {wa.shape}"
        if dtypes:
            assert ga.dtype == wa.dtype, f"{what}: output {k} has dtype {ga.dtype}, expected {wa.dtype}"
        if wa.dtype.kind == "f":
            r = tol if isinstance(tol, float) else tol.get(wa.dtype, 1e-3)
            scale = max(1.0, float(np.max(np.abs(wa), initial=0)))
            np.testing.assert_allclose(ga.astype(np.float64), wa.astype(np.float64), rtol=r, atol=r * scale,
                                       err_msg=f"{what}: output {k} values")
        else:
            np.testing.assert_array_equal(ga, wa, err_msg=f"{what}: output {k} values")


def _stack(outs, axis=0):
    return tuple(np.stack([np.asarray(o[k]) for o in outs], axis=axis) for k in range(len(outs[0])))


# ----------------------------------------------------------------------------- the checks

class Checks:
    def __init__(self, p):
        self.p = p
        self.prog = p.fn()
        self.f = functools.partial(self.prog, fnp)
        self.args = p.args(0)
        self.rng = np.random.default_rng([p.seed, 2])
        self.failures = []
        self._eager = None
        f32 = p.has_f32
        self.tol = {k: TOL[np.dtype(np.float32)] if f32 else v for k, v in TOL.items()}
        self.jit_tol = {k: JIT_TOL[np.dtype(np.float32)] if f32 else v for k, v in JIT_TOL.items()}

    def run(self, name, fn):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    fn()
                except AssertionError:
                    # a mismatch with jax's jitted derivatives is checked again against eager jax
                    if name not in JAX_ORACLE_CHECKS or not self._eager_oracle():
                        raise
                    fn()
        except Exception as e:  # noqa: BLE001  (every failure is collected and reported)
            tb = traceback.format_exception(type(e), e, e.__traceback__)
            msg = str(e).strip()
            where = [ln for ln in tb if "funcgrad/" in ln and "tests/" not in ln][-1:]
            self.failures.append((name, f"{type(e).__name__}: {msg[:1500]}" + (
                "\n      last funcgrad frame:" + where[0].rstrip() if where else "")))

    # --- values
    def eager(self):
        if self._eager is None:
            self._eager = self.f(*self.args)
        return self._eager

    def _eager_or_none(self):
        try:
            return self.eager()
        except Exception:  # noqa: BLE001
            return None

    def check_eager(self):
        with np.errstate(all="ignore"):
            want = self.prog(np, *self.args)
        try:
            close(self.eager(), want, "eager vs NumPy", tol=self.tol)
        except Exception as e:  # noqa: BLE001
            div = self.p.first_divergence(fnp)
            raise AssertionError(f"{div}\n{e}" if div else str(e)) from None

    def check_jit(self):
        got = fg.jit(self.f)(*self.args)
        close(got, self.eager(), "jit vs eager", tol=self.jit_tol)

    def check_ir(self):
        ir = fg.make_ir(self.f)(*self.args)
        got = fg.eval_ir(ir, *self.args)
        close(tuple(got), self.eager(), "eval_ir(make_ir) vs eager", tol=self.tol)

    def _in_axes(self):
        axes = []
        for (name, _), a in zip(self.p.inputs, self.args, strict=True):
            rng = np.random.default_rng([self.p.seed, 3, zlib.crc32(name.encode())])  # same axes in a slice
            r = rng.random()
            if r < 0.2:
                axes.append(None)
            elif r < 0.45 and np.ndim(a) >= 1:
                axes.append(int(rng.integers(1, np.ndim(a) + 1)) * (1 if rng.random() < 0.5 else -1))
            else:
                axes.append(0)
        if all(d is None for d in axes):
            axes[0] = 0
        return axes

    def _loop(self, fn, axes):
        outs = []
        for b in range(B):
            ex = [self.p.inputs[i][1][b if d is not None else 0] for i, d in enumerate(axes)]
            outs.append(fn(*ex))
        return outs

    def _batched(self, axes):
        out = []
        for i, d in enumerate(axes):
            exs = self.p.inputs[i][1]
            if d is None:
                out.append(exs[0])
            else:
                nd = np.ndim(exs[0]) + 1
                out.append(np.stack(exs, axis=d % nd))
        return out

    def check_vmap(self):
        axes = self._in_axes()
        out_axes = 0 if np.random.default_rng([self.p.seed, 4]).random() < 0.7 else -1
        want = _stack(self._loop(self.f, axes), axis=0)
        got = fg.vmap(self.f, in_axes=tuple(axes), out_axes=out_axes)(*self._batched(axes))
        if out_axes == -1:
            got = tuple(np.moveaxis(np.asarray(g), -1, 0) for g in got)
        close(got, want, f"vmap(in_axes={tuple(axes)}, out_axes={out_axes}) vs a loop", tol=self.tol)

    def check_vmap_kwargs(self):
        names = [n for n, _ in self.p.inputs]
        axes = [0] * len(names)
        want = _stack(self._loop(self.f, axes))
        xs = self._batched(axes)
        k = len(names) // 2
        got = fg.vmap(lambda *a, **kw: self.f(*a, **kw))(*xs[:k], **dict(zip(names[k:], xs[k:])))
        close(got, want, f"vmap with {names[k:]} as keyword arguments vs a loop", tol=self.tol)

    def _vmap0(self):
        """``vmap(f)`` over every input's leading axis, and its batched inputs."""
        if getattr(self, "_vm", None) is None:
            xs = self._batched([0] * len(self.p.inputs))
            self._vm = (xs, fg.vmap(self.f)(*xs))
        return self._vm

    def check_jit_vmap(self):
        xs, want = self._vmap0()
        got = fg.jit(fg.vmap(self.f))(*xs)
        close(got, want, "jit(vmap(f)) vs vmap(f)", tol=self.jit_tol)

    def check_vmap_jit(self):
        xs, want = self._vmap0()
        got = fg.vmap(fg.jit(self.f))(*xs)
        close(got, want, "vmap(jit(f)) vs vmap(f)", tol=self.jit_tol)

    def check_ir_types(self):
        check_ir(fg.make_ir(self.f)(*self.args), "make_ir(f)")
        xs, _ = self._vmap0()
        check_ir(fg.make_ir(fg.vmap(self.f))(*xs), "make_ir(vmap(f))")

    # --- derivatives (float64 programs)
    def _diff_setup(self):
        p = self.p
        args = self.args
        nums = [i for i, a in enumerate(args) if np.asarray(a).dtype.kind == "f"]
        outs = self.eager()
        fo = [k for k, o in enumerate(outs) if np.asarray(o).dtype.kind == "f"]
        weights = [self.rng.standard_normal(np.shape(outs[k])) for k in fo]

        def closed(m, prog):
            def f(*diff):
                full = list(args)
                for i, d in zip(nums, diff, strict=True):
                    full[i] = d
                out = prog(m, *full)
                return tuple(out[k] for k in fo)
            return f

        def loss(m, f):
            def lossf(*diff):
                outs = f(*diff)
                return functools.reduce(lambda a, b: a + b, [m.sum(o * w) for o, w in zip(outs, weights)])
            return lossf

        self.nums, self.fo, self.weights = nums, fo, weights
        self.fd = closed(fnp, self.prog)
        self.jf = closed(jnp, self.prog)
        self.floss, self.jloss = loss(fnp, self.fd), loss(jnp, self.jf)
        self.diff_args = tuple(np.asarray(args[i]) for i in nums)
        self.tangents = tuple(self.rng.standard_normal(np.shape(a)) for a in self.diff_args)
        self.cts = tuple(self.rng.standard_normal(np.shape(outs[k])) for k in fo)
        self.argnums = tuple(range(len(nums)))
        total = sum(np.size(a) for a in self.diff_args)
        self.small = total <= 16 and len(p.ops) <= 25
        jf, jloss, argnums, small = self.jf, self.jloss, self.argnums, self.small

        fwd, rev = p.modes in ("both", "fwd"), p.modes in ("both", "rev")
        with jax.enable_x64(True):
            def oracle(diff, tangents, cts):
                out = {"value": jf(*diff)}
                if rev:
                    out["grad"] = jax.grad(jloss, argnums=argnums)(*diff)
                    out["vjp"] = jax.vjp(jf, *diff)[1](cts)
                    out["jacrev"] = jax.jacrev(lambda *d: jf(*d)[0], argnums=argnums)(*diff)
                if fwd:
                    out["jvp"] = jax.jvp(jf, diff, tangents)[1]
                    out["jacfwd"] = jax.jacfwd(lambda *d: jf(*d)[0], argnums=argnums)(*diff)
                if small and fwd and rev:
                    out["hessian"] = jax.hessian(jloss, argnums=argnums)(*diff)
                return out
            self._oracle = oracle
            self.want = jax.tree_util.tree_map(np.asarray, jax.jit(oracle)(self.diff_args, self.tangents, self.cts))

    def _eager_oracle(self):
        """Replace the jitted jax oracle by jax evaluated op by op; False when that was done
        already (or jax fails).  Compiled, XLA may fuse the expression computing a value into
        several kernels and round the copies differently (an FMA in one, not in the other):
        a tie test in a derivative rule, such as scatter-max's ``updates == result``, then
        finds no winner and jax's jitted derivative is silently 0 (seed 3295).  Eager jax
        computes each value once, so it is the reference when the jitted one disagrees
        (funcgrad's own ``jit`` is held to its eager derivatives by jit_grad / grad_jit)."""
        if getattr(self, "_want_is_eager", False):
            return False
        self._want_is_eager = True
        try:
            with jax.enable_x64(True):
                self.want = jax.tree_util.tree_map(np.asarray, self._oracle(self.diff_args, self.tangents, self.cts))
        except Exception:  # noqa: BLE001
            return False
        return True

    def check_grad(self):
        got = fg.grad(self.floss, argnums=self.argnums)(*self.diff_args)
        self._grad = got
        close(got, self.want["grad"], "grad vs jax.grad", tol=DERIV_TOL)

    def check_jax_value(self):
        close(self.fd(*self.diff_args), self.want["value"], "eager vs jax.numpy (x64)", tol=1e-8)

    def check_jvp(self):
        out, t = fg.jvp(self.fd, self.diff_args, self.tangents)
        self._jvp = t
        close(t, self.want["jvp"], "jvp tangent vs jax.jvp", tol=DERIV_TOL)

    def check_vjp(self):
        out, vjp_fn = fg.vjp(self.fd, *self.diff_args)
        ct = vjp_fn(self.cts)
        self._vjp = ct
        close(ct, self.want["vjp"], "vjp vs jax.vjp", tol=DERIV_TOL)

    def check_jvp_vjp_consistent(self):
        _, t = fg.jvp(self.fd, self.diff_args, self.tangents)
        _, vjp_fn = fg.vjp(self.fd, *self.diff_args)
        ct = vjp_fn(self.cts)
        lhs = sum(float(np.sum(np.asarray(u) * np.asarray(jv))) for u, jv in zip(self.cts, t, strict=True))
        rhs = sum(float(np.sum(np.asarray(c) * v)) for c, v in zip(ct, self.tangents, strict=True))
        assert abs(lhs - rhs) <= 1e-7 * max(1.0, abs(lhs)), f"<u, J v> = {lhs} (jvp) but <J^T u, v> = {rhs} (vjp)"

    def check_linearize(self):
        out, jvp_fn = fg.linearize(self.fd, *self.diff_args)
        close(out, self.eager_float(), "linearize primal vs eager", tol=1e-10)
        close(jvp_fn(*self.tangents), self.want["jvp"], "linearize jvp_fn vs jax.jvp", tol=DERIV_TOL)

    def eager_float(self):
        return tuple(self.eager()[k] for k in self.fo)

    def check_jacfwd(self):
        got = fg.jacfwd(lambda *d: self.fd(*d)[0], argnums=self.argnums)(*self.diff_args)
        close(got, self.want["jacfwd"], "jacfwd vs jax.jacfwd", tol=DERIV_TOL)

    def check_jacrev(self):
        got = fg.jacrev(lambda *d: self.fd(*d)[0], argnums=self.argnums)(*self.diff_args)
        close(got, self.want["jacrev"], "jacrev vs jax.jacrev", tol=DERIV_TOL)

    def check_hessian(self):
        got = fg.hessian(self.floss, argnums=self.argnums)(*self.diff_args)
        close(got, self.want["hessian"], "hessian vs jax.hessian", tol=DERIV_TOL)

    def _eager_grad(self):
        return fg.grad(self.floss, argnums=self.argnums)(*self.diff_args)

    def check_jit_grad(self):
        got = fg.jit(fg.grad(self.floss, argnums=self.argnums))(*self.diff_args)
        close(got, self._eager_grad(), "jit(grad) vs grad", tol=1e-8)

    def check_grad_jit(self):
        got = fg.grad(fg.jit(self.floss), argnums=self.argnums)(*self.diff_args)
        close(got, self._eager_grad(), "grad(jit) vs grad", tol=1e-8)

    def check_vmap_grad(self):
        p = self.p
        g = fg.grad(self.loss_of_all, argnums=tuple(self.nums))
        axes = [0] * len(p.inputs)
        want = _stack(self._loop(g, axes))
        got = fg.vmap(g)(*self._batched(axes))
        close(got, want, "vmap(grad) vs a loop of grad", tol=1e-8)

    def check_grad_vmap(self):
        """``grad`` of a weighted sum of ``vmap(f)``'s outputs == a loop of per-example grads."""
        p, nums, fo = self.p, self.nums, self.fo
        xs = self._batched([0] * len(p.inputs))
        ws = [self.rng.standard_normal((B,) + np.shape(w)) for w in self.weights]

        def loss(*d):
            full = list(xs)
            for i, a in zip(nums, d, strict=True):
                full[i] = a
            outs = fg.vmap(self.f)(*full)
            return functools.reduce(lambda a, b: a + b, [fnp.sum(outs[k] * w) for k, w in zip(fo, ws, strict=True)])
        argnums = tuple(range(len(nums)))
        got = fg.grad(loss, argnums=argnums)(*[xs[i] for i in nums])
        per = []
        for b in range(B):
            ex = [inp[1][b] for inp in p.inputs]

            def loss_b(*d, ex=ex, b=b):
                full = list(ex)
                for i, a in zip(nums, d, strict=True):
                    full[i] = a
                outs = self.f(*full)
                return functools.reduce(lambda a, c: a + c,
                                        [fnp.sum(outs[k] * w[b]) for k, w in zip(fo, ws, strict=True)])
            per.append(fg.grad(loss_b, argnums=argnums)(*[ex[i] for i in nums]))
        close(got, _stack(per), "grad(vmap(f)) vs a loop of grad", tol=1e-8)

    def check_ir_grad(self):
        check_ir(fg.make_ir(fg.grad(self.floss, argnums=self.argnums))(*self.diff_args), "make_ir(grad(f))")

    def check_grad_mixed(self):
        """Mixed-dtype programs: ``grad`` with respect to the float inputs has their dtypes
        (float32 primals get float32 gradients) and, loosely, jax's values."""
        args = self.args
        nums = tuple(i for i, a in enumerate(args) if np.asarray(a).dtype.kind == "f")
        outs = self.eager()
        fo = [k for k, o in enumerate(outs) if np.asarray(o).dtype.kind == "f"]
        if not nums or not fo:
            return
        weights = [self.rng.standard_normal(np.shape(outs[k])) for k in fo]

        def loss(m):
            def f(*a):
                o = self.prog(m, *a)
                return functools.reduce(lambda x, y: x + y, [m.sum(o[k] * w) for k, w in zip(fo, weights)])
            return f
        # inputs that are not differentiated are funcgrad arrays, as a user's would be (a plain
        # NumPy array's .dot of a traced value raises, as in jax)
        fargs = [a if i in nums or not isinstance(a, np.ndarray) else fnp.asarray(a) for i, a in enumerate(args)]
        got = fg.grad(loss(fnp), argnums=nums)(*fargs)
        for i, g in zip(nums, got, strict=True):
            a = np.asarray(args[i])
            assert np.shape(g) == a.shape and np.asarray(g).dtype == a.dtype, (
                f"grad of input {self.p.inputs[i][0]} ({a.dtype}{list(a.shape)}) has "
                f"{np.asarray(g).dtype}{list(np.shape(g))}")
        try:
            with jax.enable_x64(True):
                want = jax.jit(jax.grad(loss(jnp), argnums=nums))(*args)
        except Exception:  # noqa: BLE001  (jax cannot differentiate it: only dtypes are checked)
            return
        close(got, want, "grad (mixed dtypes) vs jax.grad", tol=2e-3, dtypes=False)

    def loss_of_all(self, *args):
        outs = self.prog(fnp, *args)
        return functools.reduce(lambda a, b: a + b,
                                [fnp.sum(outs[k] * w) for k, w in zip(self.fo, self.weights, strict=True)])


VALUE_CHECKS = ["eager", "jit", "ir", "vmap", "vmap_kwargs", "jit_vmap", "vmap_jit", "ir_types"]
JAX_ORACLE_CHECKS = {"jax_value", "grad", "jvp", "vjp", "linearize", "jacfwd", "jacrev", "hessian"}
DIFF_CHECKS = ["grad_mixed", "jax_value", "grad", "jvp", "vjp", "jvp_vjp_consistent", "linearize", "jacfwd", "jacrev",
               "hessian", "jit_grad", "grad_jit", "vmap_grad", "grad_vmap", "ir_grad"]
# the checks each derivative mode allows (Program.modes): while_loop has no reverse mode,
# custom_vjp no forward mode
MODE_CHECKS = {"both": set(DIFF_CHECKS),
               "fwd": {"jax_value", "jvp", "linearize", "jacfwd"},
               "rev": {"grad_mixed", "jax_value", "grad", "vjp", "jacrev", "jit_grad", "grad_jit", "vmap_grad",
                       "grad_vmap", "ir_grad"}}


def run_program(p, only=None):
    """All checks of one program (or just ``only``): ``[(check, message)]`` for the failed ones."""
    c = Checks(p)
    c.run("eager", c.check_eager)
    if c.failures and "eager" in c.failures[0][0] and c._eager is None:
        return c.failures          # funcgrad cannot even run it eagerly
    if only == "eager":
        return c.failures
    for name in VALUE_CHECKS[1:]:
        # (each compiles: CI's time allows one of jit(vmap) and vmap(jit) per seed, alternately)
        if only is None and name == ("vmap_jit" if p.seed % 2 == 0 else "jit_vmap"):
            continue
        if only is None or only == name:
            c.run(name, getattr(c, f"check_{name}"))
    if not p.diff and not p.nondiff_ops and p.modes != "fwd" and (only is None or only == "grad_mixed"):
        c.run("grad_mixed", c.check_grad_mixed)
    if p.diff and (only is None or only in DIFF_CHECKS):
        setup_ok = not c.run("derivative setup (jax oracle)", c._diff_setup) and \
            not any(n.startswith("derivative setup") for n, _ in c.failures)
        if setup_ok:
            for name in DIFF_CHECKS:
                if (only is not None and name != only) or name == "grad_mixed" or name not in MODE_CHECKS[p.modes]:
                    continue
                if name == "hessian" and not c.small:
                    continue
                c.run(name, getattr(c, f"check_{name}"))
    return c.failures


def reduce(p, check):
    """The smallest slice of ``p`` (one intermediate value and what it depends on)
    on which ``check`` still fails, or None."""
    names = [ln.split("=")[0].strip() for ln in p.source.splitlines()[1:-1]]
    f_all = p.fn(all_values=True)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vals = f_all(np, *p.args(0))
    best = None
    for n in names:
        if p.diff and check in DIFF_CHECKS and np.asarray(vals[n]).dtype.kind != "f":
            continue
        q = p.slice([n])
        if not any(n2 in {m for m, _ in q.inputs} for n2 in [m for m, _ in q.inputs if m.startswith("x")]) \
                and check in DIFF_CHECKS:
            continue
        try:
            fails = [c for c, _ in run_program(q, only=check)]
        except Exception:  # noqa: BLE001
            continue
        if check in fails:
            if best is None or len(q.source) < len(best.source):
                best = q
            break
    return best


def report(p, failures, reduced=True):
    lines = [f"fuzz program seed {p.seed} failed {len(failures)} check(s) "
             f"(reproduce: FUNCGRAD_FUZZ_SEED={p.seed} pytest tests/test_fuzz.py):"]
    for name, msg in failures:
        lines.append(f"  [{name}] " + msg.replace("\n", "\n      "))
    lines.append(p.describe())
    if reduced:
        for name in sorted({n for n, _ in failures}):
            q = reduce(p, name)
            if q is not None and len(q.source) < len(p.source):
                lines.append(f"# reduced program for [{name}]:")
                lines.append(q.describe())
    return "\n".join(lines)


@pytest.mark.parametrize("seed", _seeds())
def test_fuzz_program(seed):
    p = generate(seed)
    failures = run_program(p)
    hard = [(n, m) for n, m in failures if _known(n, m, p.source) is None]
    if failures and not hard:
        pytest.xfail("known bugs: " + "; ".join(sorted({_known(n, m, p.source) for n, m in failures})))
    assert not hard, report(p, failures)
