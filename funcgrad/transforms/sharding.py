"""Sharding errors of ``jit`` in the user's terms.

jax lays out a jitted program's inputs and outputs as ``in_shardings`` /
``out_shardings`` declare; when it cannot, it raises about "pjit arguments" and
tiling factors.  Only after such a failure (never on the per-call path) this
module works out which argument, which shape and which sharding, and raises a
:class:`~funcgrad.errors.ShardingError` saying that and the fix.

funcgrad's lowering emits plain ``jax.lax`` operations and lets XLA's sharding
propagation lay out every intermediate value, which is what meshes with ``Auto``
axes ask for; a mesh with ``Explicit`` axes wants a sharding on each operation,
which the IR does not hold.
"""
import jax
import numpy as np

from ..errors import ShardingError, user_location


def is_jax_sharding_error(e):
    """jax's sharding type errors (explicit-axis meshes) derive from no public class."""
    return type(e).__name__ == "ShardingTypeError"


def _meshes(x):
    mesh = getattr(x, "mesh", None)
    return [mesh] if mesh is not None and hasattr(mesh, "axis_types") else []


def _explicit_axes(mesh):
    names = getattr(mesh, "axis_names", ())
    return [n for n, t in zip(names, mesh.axis_types, strict=False) if "Explicit" in str(t)]


def _paired(prefix, tree):
    """``(path, sharding, leaf)`` for every leaf of ``tree`` under a sharding of the prefix."""
    is_none = lambda x: x is None  # noqa: E731  (None: no sharding declared for that part)
    with_paths, prefix_def = jax.tree_util.tree_flatten_with_path(prefix, is_leaf=is_none)
    try:
        subtrees = prefix_def.flatten_up_to(tree)
    except (ValueError, TypeError):
        return None
    out = []
    for (ppath, s), sub in zip(with_paths, subtrees, strict=True):
        if s is None:
            continue
        for lpath, leaf in jax.tree_util.tree_flatten_with_path(sub)[0]:
            out.append((ppath + lpath, s, leaf))
    return out


def _name(path, fn_name):
    """``argument 2['w']`` from a path into the tuple of dynamic positional arguments."""
    if not path:
        return "the arguments"
    head, rest = path[0], path[1:]
    idx = getattr(head, "idx", None)
    where = f"argument {idx}" if idx is not None else f"argument {jax.tree_util.keystr((head,))}"
    return where + jax.tree_util.keystr(tuple(rest))


def _indivisible(shape, sharding):
    """``(dim, size, parts)`` of the first dimension the sharding's mesh axes do not divide."""
    spec, mesh = getattr(sharding, "spec", None), getattr(sharding, "mesh", None)
    if spec is None or mesh is None:
        return None
    sizes = dict(mesh.shape)
    for dim, entry in enumerate(tuple(spec)[:len(shape)]):
        axes = () if entry is None else (entry,) if isinstance(entry, str) else tuple(entry)
        parts = int(np.prod([sizes.get(a, 1) for a in axes], dtype=np.int64))
        if parts > 1 and shape[dim] % parts:
            return dim, shape[dim], parts
    return None


def explain(name, in_shardings, out_shardings, static_argnums, e, args, kwargs):
    """Raise a :class:`ShardingError` for the failed call when the failure is about shardings."""
    where = user_location()
    dyn = tuple(a for i, a in enumerate(args) if i not in set(static_argnums))
    if in_shardings is not None and kwargs and "kwargs" in str(e):
        raise ShardingError(
            f"jit of {name}: keyword arguments {sorted(kwargs)} were passed to a function jitted with "
            f"in_shardings (at {where}); in_shardings lays out positional arguments only.\n"
            "Fix: pass every dynamic argument by position, or make it static (static_argnames).") from e
    pairs = _paired(in_shardings, dyn) if in_shardings is not None else []
    for path, s, leaf in pairs or ():
        shape = tuple(np.shape(leaf))
        bad = _indivisible(shape, s)
        if bad is not None:
            dim, size, parts = bad
            raise ShardingError(
                f"jit of {name}: {_name(path, name)} of shape {shape} cannot take the sharding "
                f"{getattr(s, 'spec', s)}: it splits dimension {dim} (size {size}) into {parts} parts "
                f"(at {where}).\nFix: make dimension {dim} a multiple of {parts} (for a data-parallel "
                f"batch: a batch size divisible by the number of devices), or shard another dimension.") from e
    for path, s, leaf in pairs or ():
        have = getattr(leaf, "sharding", None)
        if have is None or not getattr(leaf, "committed", True) or not hasattr(have, "is_equivalent_to"):
            continue
        if not have.is_equivalent_to(s, np.ndim(leaf)):
            raise ShardingError(
                f"jit of {name}: {_name(path, name)} (shape {tuple(np.shape(leaf))}) is a jax.Array laid "
                f"out as {have}, but in_shardings declares {s} (at {where}).\nFix: move it first, "
                f"funcgrad.device_put(x, sharding) (e.g. params from a single-device step), or pass "
                f"NumPy arrays, which are placed as declared.") from e
    meshes = [m for x in jax.tree_util.tree_leaves((in_shardings, out_shardings, dyn)) for m in _meshes(x)]
    meshes += [m for x in jax.tree_util.tree_leaves(dyn) for m in _meshes(getattr(x, "sharding", None))]
    explicit = sorted({a for m in meshes for a in _explicit_axes(m)})
    if explicit and (is_jax_sharding_error(e) or "sharding" in str(e).lower()):
        raise ShardingError(
            f"jit of {name}: the mesh axes {explicit} are Explicit, and funcgrad leaves the layout of "
            f"intermediate values to XLA, which needs Auto axes (at {where}).\nFix: make the mesh with "
            "funcgrad.parallel.make_mesh(...), or jax.make_mesh(shape, names, "
            "axis_types=(jax.sharding.AxisType.Auto,) * len(names)).") from e
