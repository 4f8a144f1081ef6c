"""Control flow (``funcgrad.lax``) as primitives that hold sub-programs.

=========== ============================= =============================================
primitive   inputs                        sub-programs (parameters)
=========== ============================= =============================================
``cond``    ``index, *operands``          ``branches``: one program per branch
``while``   ``*cond_consts, *body_consts, ``cond_ir`` (carry -> bool), ``body_ir``
            *init``                       (carry -> carry)
``scan``    ``*consts, *init, *xs``       ``body``: ``(consts, carry, x) -> (carry, y)``
=========== ============================= =============================================

Each user function is staged into a closed program (values of enclosing transforms
it closes over become leading operands; ``control_flow_api.py`` holds the public
functions that do it), so every transform meets the loop through the rules here, and
each rule recurses into the sub-programs with ``jvp_ir``, ``vjp_ir`` and ``vmap_ir``:

* eagerly, ``cond`` runs only the taken branch; ``while`` and ``scan`` are Python
  loops over NumPy: each loop and its body become one generated Python function
  (``core/pyeval.py``), so a step costs the NumPy calls of its body and little more
  (``eval_ir`` explains any error, and runs under ``debug_nans``).  With no
  transform active at all the public functions run the user's functions directly;
* under ``jit`` they lower to ``jax.lax.switch`` / ``while_loop`` / ``scan`` (never
  unrolled: a 1,000-step scan is as small a program as a 10-step one);
* ``jvp`` is the same loop over the JVP of its body; which carries have a nonzero
  tangent is iterated to a fixed point;
* ``vmap`` batches the bodies; a batched ``cond`` index becomes a ``select`` of every
  branch's outputs; a batched ``while`` predicate runs until every member is done,
  freezing the finished ones;
* reverse mode of ``cond`` is a ``cond`` of its branches' VJPs; of ``scan`` one
  reverse ``scan`` of the body's VJP over the stored per-iteration carries.  Reverse
  mode of ``while`` is an error (its trip count is unknown before it runs), as in JAX.
"""
import functools

import numpy as np

from ..config import config
from ..core.avals import get_aval
from ..core.ir import IR, Var, derived_cache, eval_ir
from ..core.primitive import Primitive
from ..core.pyeval import Emitter, concrete_args, numpy_inputs, python_eval
from ..core.staging import stage
from ..core.trace import Tracer
from ..errors import NonDifferentiableError, ShapeError, user_location
from . import subprograms as sp
from .batching import move_to_front, vmap_ir
from .jvp import jvp_ir
from .lowering import lower_ir
from .reverse import vjp_ir


# ============================================================================ helpers

def _is_float(a):
    return a.dtype.kind == "f"


def _strong(x, aval):
    """``x`` with exactly ``aval``'s dtype and no weak type (carries and branch outputs
    keep one type in every iteration and branch)."""
    if isinstance(x, Tracer):
        a = x.aval
        if a.dtype == aval.dtype and not a.weak_type:
            return x
        from ..primitives.elementwise import convert_p
        return convert_p.bind(x, dtype=aval.dtype)
    return np.asarray(x, aval.dtype)


def _zeros(aval):
    return np.zeros(aval.shape, aval.dtype)


def _tangent(t, aval):
    """A tangent (or cotangent) of a value of type ``aval``: zeros for None."""
    return _zeros(aval) if t is None else _strong(t, aval)


def _run_fast(fast, slow):
    """``fast()`` (a sub-program as generated Python, see ``core/pyeval.py``); where it
    raises, and under ``config.debug_nans``, ``slow()`` (``eval_ir``: equation by
    equation through ``bind``, which names the failing operation and checks for NaNs)."""
    if not config.debug_nans:
        try:
            return fast()
        except Exception:  # noqa: BLE001  (the slow path raises the error, explained)
            pass
    return slow()


def _with_inputs(ir, before=(), after=()):
    """``ir`` taking extra unused inputs of types ``before`` (first) and ``after`` (last)."""
    return IR([Var(a) for a in before] + ir.in_vars + [Var(a) for a in after], ir.const_vars, ir.consts,
              ir.eqns, ir.outs)


def _vmap_force(ir, dims, size, force):
    """``vmap_ir`` with the outputs flagged in ``force`` batched (at 0) even where the
    batched program would leave them unbatched.  Returns ``(ir', out_batched)``."""
    cache = derived_cache(ir)
    key = ("vmap_force", tuple(dims), size, tuple(force))
    hit = cache.get(key)
    if hit is not None:
        return hit
    bir, odims = vmap_ir(ir, dims, size)
    out_b = [d is not None or f for d, f in zip(odims, force, strict=True)]
    if any(d is None and f for d, f in zip(odims, force, strict=True)):
        def program(*args):
            outs = eval_ir(bir, *args)
            return [move_to_front(o, None, size) if d is None and f else o
                    for o, d, f in zip(outs, odims, force, strict=True)]
        bir = stage(program, bir.in_avals)
    cache[key] = hit = (bir, out_b)
    return hit


def _jvp_grouped(ir, in_sizes, nonzero, out_sizes, want):
    """The JVP of ``ir`` with each group of inputs followed by its tangents (those
    flagged in ``nonzero``) and each group of outputs followed by the tangents flagged
    in ``want`` (zeros where the JVP has none).  Returns ``(ir', out_nonzero)``."""
    cache = derived_cache(ir)
    key = ("jvp_grouped", tuple(in_sizes), tuple(nonzero), tuple(out_sizes), tuple(want))
    hit = cache.get(key)
    if hit is not None:
        return hit
    jir, onz = jvp_ir(ir, nonzero)
    n_in, n_out = len(ir.in_vars), len(ir.outs)
    in_avals, out_avals = ir.in_avals, ir.out_avals
    order, pos = [], 0
    for s in in_sizes:
        order += [("p", k) for k in range(pos, pos + s)]
        order += [("t", k) for k in range(pos, pos + s) if nonzero[k]]
        pos += s
    t_slot = {k: i for i, k in enumerate(k for k in range(n_in) if nonzero[k])}

    def program(*args):
        prim, tans = [None] * n_in, [None] * len(t_slot)
        for (kind, k), a in zip(order, args, strict=True):
            if kind == "p":
                prim[k] = a
            else:
                tans[t_slot[k]] = a
        outs = eval_ir(jir, *prim, *tans)
        rest = iter(outs[n_out:])
        touts = [next(rest) if z else None for z in onz]
        res, pos = [], 0
        for s in out_sizes:
            res += outs[pos:pos + s]
            res += [_tangent(touts[k], out_avals[k]) for k in range(pos, pos + s) if want[k]]
            pos += s
        return res

    avals = [in_avals[k] if kind == "p" else in_avals[k].update(weak_type=False) for kind, k in order]
    cache[key] = hit = (stage(program, avals), onz)
    return hit


def _split(seq, *sizes):
    out, pos = [], 0
    for s in sizes:
        out.append(list(seq[pos:pos + s]))
        pos += s
    out.append(list(seq[pos:]))
    return out


def _loose_check(name, avals, want):
    if len(avals) != len(want):
        raise ShapeError(f"{name}: {len(avals)} operands for a sub-program of {len(want)} inputs "
                         f"(at {user_location()}).")
    for k, (a, w) in enumerate(zip(avals, want, strict=True)):
        if a.shape != w.shape or (a.dtype != w.dtype and not a.weak_type and not w.weak_type):
            raise ShapeError(f"{name}: operand {k} is {a.str_short()} where the sub-program takes "
                             f"{w.str_short()} (at {user_location()}).")


def _jnp():
    import jax
    import jax.numpy as jnp
    return jax, jnp


# ============================================================================ cond

cond_p = Primitive("cond", multiple_results=True)


def _cond_shape(index, *avals, branches):
    if index.shape != () or index.dtype.kind not in "iub":
        raise ShapeError(f"cond: the branch index must be an integer scalar, got {index.str_short()} "
                         f"(at {user_location()}).")
    for b in branches:
        _loose_check("cond", list(avals), b.in_avals)
    return list(branches[0].out_avals)


def _cond_impl(index, *args, branches):
    b = branches[min(max(int(index), 0), len(branches) - 1)]
    return _run_fast(lambda: python_eval(b)(*concrete_args(args, b.in_avals)), lambda: eval_ir(b, *args))


def _cond_lower(ctx, index, *args, branches):
    jax, jnp = _jnp()
    ops = [jnp.asarray(a, av.dtype) for a, av in zip(args, ctx.avals_in[1:], strict=True)]
    fns = [functools.partial(lambda ir, *xs: lower_ir(ir, xs), b) for b in branches]
    idx = jnp.clip(jnp.asarray(index, jnp.int32), 0, len(branches) - 1)
    if len(fns) == 1:
        return fns[0](*ops)
    return list(jax.lax.switch(idx, fns, *ops))


def _cond_jvp(primals, tangents, *, branches):
    index, ops = primals[0], list(primals[1:])
    nz = [t is not None for t in tangents[1:]]
    n_out = len(branches[0].outs)
    want = [False] * n_out
    for b in branches:
        want = [w or z for w, z in zip(want, jvp_ir(b, nz)[1], strict=True)]
    jirs = tuple(_jvp_grouped(b, [len(ops)], nz, [n_out], want)[0] for b in branches)
    ts = [_strong(t, a) for t, a in zip(tangents[1:], branches[0].in_avals, strict=True) if t is not None]
    outs = cond_p.bind(index, *ops, *ts, branches=jirs)
    rest = iter(outs[n_out:])
    return list(outs[:n_out]), [next(rest) if w else None for w in want]


def _expand(pred, ndim):
    """A batched ``(size,)`` predicate shaped to broadcast against a rank-``ndim`` value."""
    from ..primitives.shape import reshape
    shape = tuple(np.shape(pred))
    return reshape(pred, shape + (1,) * (ndim - len(shape))) if ndim > len(shape) else pred


def _guard_operands(taken, ops, dims):
    """The float operands a branch sees where ``taken`` is false, with their gradient
    stopped: every member runs every branch, and a branch not taken must add no
    derivative, not even ``0 * inf`` (``sqrt`` of a negative operand) -- only a select of
    outputs would still send its NaN back."""
    from ..primitives.elementwise import select
    from ..primitives.misc import stop_gradient
    gops, gdims = [], []
    for x, d in zip(ops, dims, strict=True):
        if _is_float(get_aval(x)):
            x = select(_expand(taken, len(np.shape(x)) + (d is None)), x, stop_gradient(x))
            d = 0
        gops.append(x)
        gdims.append(d)
    return gops, gdims


def _cond_batch(size, vals, dims, *, branches):
    from ..primitives.elementwise import eq, select
    vals, dims = sp.fronted(vals, dims, size)
    index, ops = vals[0], vals[1:]
    odims = dims[1:]
    n_out = len(branches[0].outs)
    if dims[0] is None:
        out_b = [False] * n_out
        for b in branches:
            out_b = [x or y for x, y in zip(out_b, _vmap_force(b, odims, size, [False] * n_out)[1], strict=True)]
        birs = tuple(_vmap_force(b, odims, size, out_b)[0] for b in branches)
        return cond_p.bind(index, *ops, branches=birs), [0 if x else None for x in out_b]
    # a batched index: every branch runs, each member takes its branch's outputs
    from ..primitives.elementwise import maximum, minimum
    idx = minimum(maximum(index, 0), len(branches) - 1)
    results = [eval_ir(_vmap_force(b, gdims, size, [True] * n_out)[0], *gops)
               for k, b in enumerate(branches) for gops, gdims in [_guard_operands(eq(idx, k), ops, odims)]]
    outs = results[0]
    for k in range(1, len(branches)):
        pred = eq(idx, k)
        outs = [select(_expand(pred, len(np.shape(o))), n, o) for n, o in zip(results[k], outs, strict=True)]
    avals = branches[0].out_avals
    return [_strong(o, a) for o, a in zip(outs, avals, strict=True)], [0] * n_out


def _cond_vjp_fwd(*inputs, branches):
    return cond_p.bind(*inputs, branches=branches), list(inputs)


def _cond_vjp_bwd(needed, residuals, g, *, branches):
    index, ops = residuals[0], residuals[1:]
    nd = list(needed[1:])
    if not any(nd):
        return [None] * len(needed)
    out_avals = branches[0].out_avals
    cts = [_tangent(c, a) for c, a in zip(g, out_avals, strict=True) if _is_float(a)]
    virs = tuple(vjp_ir(b, nd) for b in branches)
    got = iter(cond_p.bind(index, *ops, *cts, branches=virs))
    return [None] + [next(got) if n else None for n in nd]


cond_p.shape = _cond_shape
cond_p.impl = _cond_impl
cond_p.lower = _cond_lower
cond_p.jvp = _cond_jvp
cond_p.batch = _cond_batch
cond_p.vjp_fwd = _cond_vjp_fwd
cond_p.vjp_bwd = _cond_vjp_bwd


# ============================================================================ while

while_p = Primitive("while", multiple_results=True)


def _while_shape(*avals, cond_ir, body_ir, n_cc, n_bc):
    cc, bc, init = _split(avals, n_cc, n_bc)
    _loose_check("while_loop", cc + init, cond_ir.in_avals)
    _loose_check("while_loop", bc + init, body_ir.in_avals)
    return list(body_ir.in_avals[n_bc:])


def _while_python(cond_ir, body_ir, n_cc, n_bc):
    """The whole loop as one generated Python function of ``(*cond_consts,
    *body_consts, *init)`` (see ``core/pyeval.py``), kept on the body program."""
    cache = derived_cache(body_ir)
    key = ("python_while", id(cond_ir), n_cc, n_bc)
    hit = cache.get(key)
    if hit is not None and hit[0] is cond_ir:
        return hit[1]
    cc, bc = [f"c{k}" for k in range(n_cc)], [f"b{k}" for k in range(n_bc)]
    carry = [f"i{k}" for k in range(len(body_ir.outs))]
    c_np, b_np = numpy_inputs(cond_ir.in_avals[:n_cc]), numpy_inputs(body_ir.in_avals[:n_bc])
    carry_np = numpy_inputs(body_ir.in_avals[n_bc:])
    while True:  # a carry holds NumPy values if its initial value and the body's output do
        em = Emitter()
        lines, (pred,), _ = em.emit(cond_ir, cc + carry, 12, c_np + carry_np)
        body, outs, out_np = em.emit(body_ir, bc + carry, 12, b_np + carry_np)
        new = [a and b for a, b in zip(carry_np, out_np, strict=True)]
        if new == carry_np:
            break
        carry_np = new
    lines = ["        while True:"] + lines + [f"            if not {pred}:", "                break"] + body
    if carry:
        lines.append(f"            {', '.join(carry)}, = {', '.join(outs)},")
    lines.append(f"        return [{', '.join(carry)}]")
    fn = em.build("while_loop", cc + bc + carry, lines)
    cache[key] = (cond_ir, fn)
    return fn


def _while_impl(*args, cond_ir, body_ir, n_cc, n_bc):
    def slow():
        cc, bc, carry = _split(args, n_cc, n_bc)
        while bool(eval_ir(cond_ir, *cc, *carry)[0]):
            carry = eval_ir(body_ir, *bc, *carry)
        return list(carry)

    avals = cond_ir.in_avals[:n_cc] + body_ir.in_avals
    return _run_fast(lambda: _while_python(cond_ir, body_ir, n_cc, n_bc)(*concrete_args(args, avals)), slow)


def _while_lower(ctx, *args, cond_ir, body_ir, n_cc, n_bc):
    jax, jnp = _jnp()
    cc, bc, init = _split(args, n_cc, n_bc)
    avals = body_ir.in_avals[n_bc:]
    init = [jnp.asarray(x, a.dtype) for x, a in zip(init, avals, strict=True)]
    out = jax.lax.while_loop(lambda c: lower_ir(cond_ir, cc + list(c))[0],
                             lambda c: lower_ir(body_ir, bc + list(c)), init)
    return list(out)


def _while_jvp(primals, tangents, *, cond_ir, body_ir, n_cc, n_bc):
    cc, bc, init = _split(primals, n_cc, n_bc)
    _, bct, ict = _split(tangents, n_cc, n_bc)
    n_c = len(init)
    bnz = [t is not None for t in bct]
    cnz = [t is not None for t in ict]
    while True:  # which carries get a nonzero tangent: a fixed point
        onz = jvp_ir(body_ir, bnz + cnz)[1]
        new = [a or b for a, b in zip(cnz, onz, strict=True)]
        if new == cnz:
            break
        cnz = new
    bj, _ = _jvp_grouped(body_ir, [n_bc, n_c], bnz + cnz, [n_c], cnz)
    carry_avals = body_ir.in_avals[n_bc:]
    t_avals = [a.update(weak_type=False) for a, z in zip(carry_avals, cnz, strict=True) if z]
    cj = _with_inputs(cond_ir, after=t_avals)
    b_ts = [_strong(t, a) for t, a in zip(bct, body_ir.in_avals[:n_bc], strict=True) if t is not None]
    i_ts = [_tangent(t, a) for t, a, z in zip(ict, carry_avals, cnz, strict=True) if z]
    outs = while_p.bind(*cc, *bc, *b_ts, *init, *i_ts, cond_ir=cj, body_ir=bj, n_cc=n_cc, n_bc=n_bc + len(b_ts))
    rest = iter(outs[n_c:])
    return list(outs[:n_c]), [next(rest) if z else None for z in cnz]


def _while_batch(size, vals, dims, *, cond_ir, body_ir, n_cc, n_bc):
    from ..primitives.elementwise import select
    vals, dims = sp.fronted(vals, dims, size)
    cc, bc, init = _split(vals, n_cc, n_bc)
    ccd, bcd, idims = _split(dims, n_cc, n_bc)
    n_c = len(init)
    cb = [d is not None for d in idims]
    while True:  # which carries are batched: a fixed point
        od = vmap_ir(body_ir, bcd + [0 if b else None for b in cb], size)[1]
        new = [b or d is not None for b, d in zip(cb, od, strict=True)]
        if new == cb:
            break
        cb = new
    cdims = [0 if b else None for b in cb]
    pred_batched = vmap_ir(cond_ir, ccd + cdims, size)[1][0] is not None
    if not pred_batched:
        bcond = vmap_ir(cond_ir, ccd + cdims, size)[0]
        bbody = _vmap_force(body_ir, bcd + cdims, size, cb)[0]
        init = [move_to_front(v, None, size) if b and d is None else v for v, b, d in zip(init, cb, idims, strict=True)]
        outs = while_p.bind(*cc, *bc, *init, cond_ir=bcond, body_ir=bbody, n_cc=n_cc, n_bc=n_bc)
        return outs, cdims
    # a batched predicate: every carry is batched; the loop runs while any member
    # goes on, and a finished member's carry stays frozen
    cdims = [0] * n_c
    bcond = _vmap_force(cond_ir, ccd + cdims, size, [True])[0]
    bbody = _vmap_force(body_ir, bcd + cdims, size, [True] * n_c)[0]
    cache = derived_cache(body_ir)
    key = ("while_batched_pred", id(bcond), id(bbody))
    hit = cache.get(key)
    if hit is None:
        def any_cond(*args):
            from ..primitives.elementwise import convert_element_type, gt
            from ..primitives.reductions import reduce_max
            p = eval_ir(bcond, *args)[0]
            return [gt(reduce_max(convert_element_type(p, np.int32), (0,)), 0)]

        def frozen_body(*args):
            cc_, bc_, c = _split(args, n_cc, n_bc)
            p = eval_ir(bcond, *cc_, *c)[0]
            new = eval_ir(bbody, *bc_, *c)
            return [_strong(select(_expand(p, len(np.shape(o))), nw, o), a)
                    for nw, o, a in zip(new, c, bbody.out_avals, strict=True)]

        ncond = stage(any_cond, bcond.in_avals)
        nbody = stage(frozen_body, bcond.in_avals[:n_cc] + bbody.in_avals)
        cache[key] = hit = (ncond, nbody, bcond, bbody)
    ncond, nbody = hit[0], hit[1]
    init = [move_to_front(v, None, size) if d is None else v for v, d in zip(init, idims, strict=True)]
    init = [_strong(v, a) for v, a in zip(init, nbody.in_avals[n_cc + n_bc:], strict=True)]
    outs = while_p.bind(*cc, *cc, *bc, *init, cond_ir=ncond, body_ir=nbody, n_cc=n_cc, n_bc=n_cc + n_bc)
    return outs, cdims


def _while_vjp_fwd(*inputs, cond_ir, body_ir, n_cc, n_bc):
    outs = while_p.bind(*inputs, cond_ir=cond_ir, body_ir=body_ir, n_cc=n_cc, n_bc=n_bc)
    return outs, [user_location()]


def _while_vjp_bwd(needed, residuals, g, *, cond_ir, body_ir, n_cc, n_bc):
    if any(needed[n_cc:]) and any(c is not None for c in g):
        raise NonDifferentiableError(
            f"reverse-mode differentiation (grad/vjp/jacrev) does not work through while_loop, whose number "
            f"of iterations is only known when it runs (the while_loop at {residuals[0]}).\nFix: use "
            "funcgrad.lax.fori_loop with concrete (Python int) bounds, or funcgrad.lax.scan, which are "
            "reverse-differentiable; forward mode (jvp/jacfwd) works through while_loop.")
    return [None] * len(needed)


while_p.shape = _while_shape
while_p.impl = _while_impl
while_p.lower = _while_lower
while_p.jvp = _while_jvp
while_p.batch = _while_batch
while_p.vjp_fwd = _while_vjp_fwd
while_p.vjp_bwd = _while_vjp_bwd


# ============================================================================ scan

scan_p = Primitive("scan", multiple_results=True)


def _scan_shape(*avals, body, n_consts, n_carry, length, reverse, unroll):
    consts, init, xs = _split(avals, n_consts, n_carry)
    for x in xs:
        if not x.shape or x.shape[0] != length:
            raise ShapeError(f"scan: an xs leaf is {x.str_short()} for a scan of length {length} "
                             f"(at {user_location()}).")
    _loose_check("scan", consts + init + [x.update(shape=x.shape[1:]) for x in xs], body.in_avals)
    carry = list(body.in_avals[n_consts:n_consts + n_carry])
    ys = [a.update(shape=(length,) + a.shape, weak_type=False) for a in body.out_avals[n_carry:]]
    return carry + ys


def _scan_python(body, n_consts, n_carry):
    """The whole loop as one generated Python function of ``(*consts, *init, *xs, *ys,
    order)`` (see ``core/pyeval.py``): each step slices the ``xs``, runs the body's
    NumPy calls and writes its ``y`` outputs into the preallocated ``ys``."""
    cache = derived_cache(body)
    key = ("python_scan", n_consts, n_carry)
    fn = cache.get(key)
    if fn is not None:
        return fn
    n_x, n_y = len(body.in_vars) - n_consts - n_carry, len(body.outs) - n_carry
    cs, carry = [f"c{k}" for k in range(n_consts)], [f"i{k}" for k in range(n_carry)]
    xs, big_xs, big_ys = [f"x{k}" for k in range(n_x)], [f"X{k}" for k in range(n_x)], [f"Y{k}" for k in range(n_y)]
    c_np, carry_np = numpy_inputs(body.in_avals[:n_consts]), numpy_inputs(body.in_avals[n_consts:n_consts + n_carry])
    while True:  # a carry holds NumPy values if its initial value and the body's output do
        em = Emitter()
        stmts, outs, out_np = em.emit(body, cs + carry + xs, 12, c_np + carry_np + [True] * n_x)
        new = [a and b for a, b in zip(carry_np, out_np[:n_carry], strict=True)]
        if new == carry_np:
            break
        carry_np = new
    lines = ["        for _t in _order:"] + [f"            {x} = {X}[_t]" for x, X in zip(xs, big_xs, strict=True)]
    lines += stmts + [f"            {Y}[_t] = {o}" for Y, o in zip(big_ys, outs[n_carry:], strict=True)]
    if carry:
        lines.append(f"            {', '.join(carry)}, = {', '.join(outs[:n_carry])},")
    lines.append(f"        return [{', '.join(carry)}]")
    fn = cache[key] = em.build("scan_loop", cs + carry + big_xs + big_ys + ["_order"], lines)
    return fn


def _scan_impl(*args, body, n_consts, n_carry, length, reverse, unroll):
    def fast():
        consts, carry, xs = _split(args, n_consts, n_carry)
        head = concrete_args(consts + carry, body.in_avals[:n_consts + n_carry])
        ys = [np.empty((length,) + a.shape, a.dtype) for a in body.out_avals[n_carry:]]
        order = range(length - 1, -1, -1) if reverse else range(length)
        out = _scan_python(body, n_consts, n_carry)(*head, *[np.asarray(x) for x in xs], *ys, order)
        return out + ys

    return _run_fast(fast, lambda: _scan_slow(args, body, n_consts, n_carry, length, reverse))


def _scan_slow(args, body, n_consts, n_carry, length, reverse):
    consts, carry, xs = _split(args, n_consts, n_carry)
    xs = [np.asarray(x) for x in xs]
    y_avals = body.out_avals[n_carry:]
    ys = [[] for _ in y_avals]
    for i in (range(length - 1, -1, -1) if reverse else range(length)):
        out = eval_ir(body, *consts, *carry, *[x[i] for x in xs])
        carry = out[:n_carry]
        for acc, y in zip(ys, out[n_carry:], strict=True):
            acc.append(y)
    if reverse:
        for acc in ys:
            acc.reverse()
    stacked = [np.stack([np.asarray(v, a.dtype) for v in acc]) if acc else np.zeros((0,) + a.shape, a.dtype)
               for acc, a in zip(ys, y_avals, strict=True)]
    return list(carry) + stacked


def _scan_lower(ctx, *args, body, n_consts, n_carry, length, reverse, unroll):
    jax, jnp = _jnp()
    consts, init, xs = _split(args, n_consts, n_carry)
    _, i_avals, x_avals = _split(ctx.avals_in, n_consts, n_carry)
    init = [jnp.asarray(x, a.dtype) for x, a in zip(init, i_avals, strict=True)]
    xs = [jnp.asarray(x, a.dtype) for x, a in zip(xs, x_avals, strict=True)]

    def step(carry, x):
        out = lower_ir(body, consts + list(carry) + list(x))
        return out[:n_carry], out[n_carry:]

    carry, ys = jax.lax.scan(step, init, xs, length=length, reverse=reverse, unroll=unroll)
    return list(carry) + list(ys)


def _scan_jvp(primals, tangents, *, body, n_consts, n_carry, length, reverse, unroll):
    consts, init, xs = _split(primals, n_consts, n_carry)
    ct, it, xt = _split(tangents, n_consts, n_carry)
    n_x, n_y = len(xs), len(body.outs) - n_carry
    cnz = [t is not None for t in ct]
    inz = [t is not None for t in it]
    xnz = [t is not None for t in xt]
    while True:  # which carries get a nonzero tangent: a fixed point
        onz = jvp_ir(body, cnz + inz + xnz)[1]
        new = [a or b for a, b in zip(inz, onz[:n_carry], strict=True)]
        if new == inz:
            break
        inz = new
    ynz = list(onz[n_carry:])
    bj, _ = _jvp_grouped(body, [n_consts, n_carry, n_x], cnz + inz + xnz, [n_carry, n_y], inz + ynz)
    b_in = body.in_avals
    c_ts = [_strong(t, a) for t, a in zip(ct, b_in[:n_consts], strict=True) if t is not None]
    i_ts = [_tangent(t, a) for t, a, z in zip(it, b_in[n_consts:n_consts + n_carry], inz, strict=True) if z]
    x_ts = [_strong(t, get_aval(x).update(weak_type=False)) for t, x in zip(xt, xs, strict=True) if t is not None]
    n_ct = len(i_ts)
    outs = scan_p.bind(*consts, *c_ts, *init, *i_ts, *xs, *x_ts, body=bj, n_consts=n_consts + len(c_ts),
                       n_carry=n_carry + n_ct, length=length, reverse=reverse, unroll=unroll)
    carry, carry_t, ys, ys_t = _split(outs, n_carry, n_ct, n_y)
    ci, yi = iter(carry_t), iter(ys_t)
    return carry + ys, [next(ci) if z else None for z in inz] + [next(yi) if z else None for z in ynz]


def _batch_axis_second(x):
    """A batched ``xs`` value (batch first) with the batch at axis 1, so each scanned
    slice has it first."""
    from ..primitives.shape import transpose
    nd = len(np.shape(x))
    return transpose(x, (1, 0) + tuple(range(2, nd)))


def _scan_batch(size, vals, dims, *, body, n_consts, n_carry, length, reverse, unroll):
    vals, dims = sp.fronted(vals, dims, size)
    consts, init, xs = _split(vals, n_consts, n_carry)
    cd, idims, xd = _split(dims, n_consts, n_carry)
    n_y = len(body.outs) - n_carry
    xs = [x if d is None else _batch_axis_second(x) for x, d in zip(xs, xd, strict=True)]
    cb = [d is not None for d in idims]
    while True:  # which carries are batched: a fixed point
        od = vmap_ir(body, cd + [0 if b else None for b in cb] + xd, size)[1]
        new = [b or d is not None for b, d in zip(cb, od[:n_carry], strict=True)]
        if new == cb:
            break
        cb = new
    bb, out_b = _vmap_force(body, cd + [0 if b else None for b in cb] + xd, size, cb + [False] * n_y)
    init = [move_to_front(v, None, size) if b and d is None else v for v, b, d in zip(init, cb, idims, strict=True)]
    outs = scan_p.bind(*consts, *init, *xs, body=bb, n_consts=n_consts, n_carry=n_carry, length=length,
                       reverse=reverse, unroll=unroll)
    return outs, [0 if b else None for b in cb] + [1 if b else None for b in out_b[n_carry:]]


def _with_carry_in(body, n_consts, n_carry):
    """The body also returning its carry inputs (stacked by the scan: the residuals)."""
    cache = derived_cache(body)
    hit = cache.get("with_carry_in")
    if hit is None:
        hit = cache["with_carry_in"] = IR(body.in_vars, body.const_vars, body.consts, body.eqns,
                                          body.outs + body.in_vars[n_consts:n_consts + n_carry])
    return hit


def _scan_vjp_fwd(*inputs, body, n_consts, n_carry, length, reverse, unroll):
    fbody = _with_carry_in(body, n_consts, n_carry)
    outs = scan_p.bind(*inputs, body=fbody, n_consts=n_consts, n_carry=n_carry, length=length,
                       reverse=reverse, unroll=unroll)
    n = len(body.outs)
    consts, _, xs = _split(inputs, n_consts, n_carry)
    return list(outs[:n]), consts + xs + list(outs[n:])


def _scan_bwd_body(body, n_consts, n_carry, need_c, need_x):
    """The body of the reverse scan: ``(consts, ct_consts_acc, ct_carry, x, carry, ct_y)
    -> (ct_consts_acc + ct_consts, ct_carry_prev, ct_x)``."""
    cache = derived_cache(body)
    key = ("scan_bwd", tuple(need_c), tuple(need_x))
    hit = cache.get(key)
    if hit is not None:
        return hit
    from ..primitives.elementwise import add
    b_in, b_out = body.in_avals, body.out_avals
    c_avals, i_avals, x_avals = _split(b_in, n_consts, n_carry)
    fc = [_is_float(a) for a in i_avals]
    y_avals = b_out[n_carry:]
    vir = vjp_ir(body, list(need_c) + fc + list(need_x))
    acc_avals = [a.update(weak_type=False) for a, n in zip(c_avals, need_c, strict=True) if n]
    ctc_avals = [a.update(weak_type=False) for a, f in zip(i_avals, fc, strict=True) if f]
    cty_avals = [a.update(weak_type=False) for a in y_avals if _is_float(a)]
    ctx_avals = [a.update(weak_type=False) for a, n in zip(x_avals, need_x, strict=True) if n]
    n_acc, n_fc, n_x = len(acc_avals), len(ctc_avals), len(x_avals)

    def program(*args):
        cs, acc, ctc, x, carry, cty = _split(args, n_consts, n_acc, n_fc, n_x, n_carry)
        out = eval_ir(vir, *cs, *carry, *x, *ctc, *cty)
        ct_cs, ct_prev, ct_x = _split(out, n_acc, n_fc)
        return ([_strong(add(a, c), av) for a, c, av in zip(acc, ct_cs, acc_avals, strict=True)]
                + [_strong(c, av) for c, av in zip(ct_prev, ctc_avals, strict=True)]
                + [_strong(c, av) for c, av in zip(ct_x, ctx_avals, strict=True)])

    avals = list(c_avals) + acc_avals + ctc_avals + list(x_avals) + list(i_avals) + cty_avals
    cache[key] = hit = (stage(program, avals), acc_avals, ctc_avals, fc)
    return hit


def _scan_vjp_bwd(needed, residuals, g, *, body, n_consts, n_carry, length, reverse, unroll):
    n_x = len(body.in_vars) - n_consts - n_carry
    consts, xs, stacked = _split(residuals, n_consts, n_x)
    need_c, need_i, need_x = _split(needed, n_consts, n_carry)
    if not any(needed):
        return [None] * len(needed)
    bbody, acc_avals, ctc_avals, fc = _scan_bwd_body(body, n_consts, n_carry, need_c, need_x)
    g = list(g)
    i_avals = body.in_avals[n_consts:n_consts + n_carry]
    ct_carry = [_tangent(c, a.update(weak_type=False)) for c, a, f in zip(g[:n_carry], i_avals, fc, strict=True) if f]
    y_avals = [a.update(shape=(length,) + a.shape, weak_type=False) for a in body.out_avals[n_carry:]]
    ct_ys = [_tangent(c, a) for c, a in zip(g[n_carry:], y_avals, strict=True) if _is_float(a)]
    acc0 = [_zeros(a) for a in acc_avals]
    outs = scan_p.bind(*consts, *acc0, *ct_carry, *xs, *stacked, *ct_ys, body=bbody, n_consts=n_consts,
                       n_carry=len(acc0) + len(ct_carry), length=length, reverse=not reverse, unroll=unroll)
    ct_consts, ct_init, ct_xs = _split(outs, len(acc0), len(ct_carry))
    cc, ci, cx = iter(ct_consts), iter(ct_init), iter(ct_xs)
    res = [next(cc) if n else None for n in need_c]
    for n, f in zip(need_i, fc, strict=True):  # every float carry has a cotangent; keep the needed ones
        ct = next(ci) if f else None
        res.append(ct if n else None)
    res += [next(cx) if n else None for n in need_x]
    return res


scan_p.shape = _scan_shape
scan_p.impl = _scan_impl
scan_p.lower = _scan_lower
scan_p.jvp = _scan_jvp
scan_p.batch = _scan_batch
scan_p.vjp_fwd = _scan_vjp_fwd
scan_p.vjp_bwd = _scan_vjp_bwd


# The public functions (they stage the user's functions and bind the primitives above).
from .control_flow_api import cond, fori_loop, map, scan, switch, while_loop  # noqa: E402,A004

__all__ = ["cond", "switch", "while_loop", "fori_loop", "scan", "map", "cond_p", "while_p", "scan_p"]
