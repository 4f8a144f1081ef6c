"""Training on many devices with jax's shardings.

funcgrad has no distribution layer of its own: a jitted step compiles to one XLA
program, and ``jit(..., in_shardings=..., out_shardings=...)`` tells XLA how its
inputs and outputs are laid out over a :class:`jax.sharding.Mesh` of devices.  XLA
splits the work and inserts the communication (the all-reduce that sums a
data-parallel gradient) itself.  This module holds the few helpers that make the
common layouts one line each:

- :func:`make_mesh`: all devices (of every host) on named axes;
- :func:`replicated`, :func:`batch_sharding`: the two shardings of data parallelism;
- :func:`data_parallel`: a step jitted with the batch split over the mesh and
  everything else replicated;
- :func:`state_shardings`: shardings for an optimizer state whose moments follow
  sharded params (model parallelism);
- :func:`device_put`: place a pytree as a sharding says (also ``funcgrad.device_put``).
"""
import inspect

import jax
import numpy as np
from jax.sharding import AxisType, NamedSharding, PartitionSpec

from .errors import user_location
from .transforms.jit import jit
from .transforms.lowering import x64 as _x64

__all__ = ["device_put", "make_mesh", "replicated", "batch_sharding", "data_parallel", "state_shardings"]


def device_put(x, device=None):
    """``x`` (an array or a pytree) as ``jax.Array`` placed on ``device``: a
    ``jax.Device``, a ``jax.sharding.Sharding`` (``NamedSharding(mesh, P("data"))``
    splits the leading axis over the mesh axis ``"data"``), or a pytree prefix of them;
    ``None`` is jax's default device.  float64 stays float64 (as under ``jit``).

    Each device receives only its own slice.  The result is what a jitted step takes and
    returns; funcgrad's eager (NumPy) operations also accept it, and compute on a copy
    gathered to the host.
    """
    with _x64(True):
        return jax.device_put(x, device)


def make_mesh(axis_shapes=None, axis_names=("data",), *, devices=None):
    """A :class:`jax.sharding.Mesh` of ``devices`` (default: every device of every
    process, ``jax.devices()``) with the named axes, e.g. ``make_mesh((4, 2), ("data",
    "model"))``; by default one axis ``"data"`` over all devices.

    The axes are ``Auto``: XLA lays out the intermediate values of a funcgrad program
    from the shardings of its inputs and outputs.
    """
    devices = list(jax.devices() if devices is None else devices)
    names = (axis_names,) if isinstance(axis_names, str) else tuple(axis_names)
    shapes = (len(devices),) if axis_shapes is None else tuple(axis_shapes)
    if len(shapes) != len(names) or int(np.prod(shapes, dtype=np.int64)) != len(devices):
        raise ValueError(
            f"make_mesh: axis shapes {shapes} for axes {names} do not hold the {len(devices)} devices "
            f"(at {user_location()}).\nFix: give one size per axis name, multiplying to {len(devices)}.")
    return jax.make_mesh(shapes, names, axis_types=(AxisType.Auto,) * len(names), devices=devices)


def replicated(mesh):
    """A whole copy on every device of ``mesh`` (params and optimizer state under data parallelism)."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh, axis=None):
    """The leading (batch) axis split over the mesh axis ``axis`` (default: over all
    of ``mesh``'s axes, i.e. over every device), the other axes whole."""
    axes = tuple(mesh.axis_names) if axis is None else axis
    if isinstance(axes, tuple) and len(axes) == 1:
        axes = axes[0]
    return NamedSharding(mesh, PartitionSpec(axes))


def data_parallel(step, mesh=None, *, batch_argnums, axis=None, static_argnums=(), static_argnames=(),
                  donate_argnums=(), out_shardings=None):
    """``step`` jitted for data parallelism over ``mesh`` (default :func:`make_mesh`:
    all devices): the positional arguments ``batch_argnums`` are split along their
    leading axis (:func:`batch_sharding`), every other one is replicated, and so are
    all outputs unless ``out_shardings`` says otherwise.

    Each device computes the gradient of its slice of the batch; XLA sums the slices'
    gradients with an all-reduce, so the params every device holds stay equal, and
    equal to what the same step computes on one device (to float rounding).  The batch
    size must be a multiple of the number of devices on ``axis``.

    ``step(params, opt_state, x, y) -> (params, opt_state, loss)`` becomes
    ``data_parallel(step, mesh, batch_argnums=(2, 3))``; call it with arguments by
    position. It is a ``funcgrad.jit`` function, so ``.lower(...)`` shows its program.
    """
    mesh = make_mesh() if mesh is None else mesh
    batch = (batch_argnums,) if isinstance(batch_argnums, int) else tuple(batch_argnums)
    statics = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    try:
        params = list(inspect.signature(step).parameters.values())
    except (TypeError, ValueError):
        params = None
    if params is None or any(p.kind is p.VAR_POSITIONAL for p in params):
        raise TypeError(
            f"data_parallel: cannot tell how many positional arguments {getattr(step, '__name__', step)!r} "
            f"takes (at {user_location()}).\nFix: give the step a plain signature, def step(params, "
            "opt_state, x, y), or call funcgrad.jit(step, in_shardings=(...)) with one sharding per argument.")
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    static_names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
    statics = {n % len(names) if n < 0 else n for n in statics} | {names.index(k) for k in static_names if k in names}
    batch = {n % len(names) if n < 0 else n for n in batch}
    bad = sorted(n for n in batch if n >= len(names) or n in statics)
    if bad:
        raise ValueError(
            f"data_parallel: batch_argnums {sorted(batch)} name no dynamic positional argument of "
            f"{step.__name__}{tuple(names)} (at {user_location()}).\nFix: give the positions of the batch "
            "arguments, counting from 0.")
    rep, split = replicated(mesh), batch_sharding(mesh, axis)
    in_shardings = tuple(split if i in batch else rep for i in range(len(names)) if i not in statics)
    return jit(step, static_argnums=static_argnums, static_argnames=static_argnames, donate_argnums=donate_argnums,
               in_shardings=in_shardings, out_shardings=rep if out_shardings is None else out_shardings)


def state_shardings(state, params, param_shardings, mesh=None):
    """Shardings for an optimizer ``state`` of ``params``: every part of the state shaped
    like the params (Adam's ``m`` and ``v``, momentum buffers) gets ``param_shardings``
    (a pytree like ``params``, or one sharding for all), everything else (step counts,
    scalars) is replicated over ``mesh`` (default: the mesh of ``param_shardings``).
    Use it in ``out_shardings`` and with :func:`device_put`, so that the moments of a
    sharded weight stay sharded like the weight."""
    params_def = jax.tree_util.tree_structure(params)
    shapes = [np.shape(p) for p in jax.tree_util.tree_leaves(params)]
    if isinstance(param_shardings, jax.sharding.Sharding):
        param_shardings = jax.tree_util.tree_map(lambda _: param_shardings, params)
    if mesh is None:
        mesh = next((s.mesh for s in jax.tree_util.tree_leaves(param_shardings) if hasattr(s, "mesh")), None)
    if mesh is None:
        raise ValueError(f"state_shardings: no mesh in param_shardings (at {user_location()}).\n"
                         "Fix: pass mesh=..., or NamedSharding param shardings.")
    rep = replicated(mesh)

    def like_params(node):
        if jax.tree_util.tree_structure(node) != params_def:
            return False
        return [np.shape(x) for x in jax.tree_util.tree_leaves(node)] == shapes

    return jax.tree_util.tree_map(lambda node: param_shardings if like_params(node) else rep, state,
                                  is_leaf=like_params)
