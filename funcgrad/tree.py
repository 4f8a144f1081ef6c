"""Pytrees with JAX's conventions, built on ``jax.tree_util``.

Tuples, lists, dicts, namedtuples, None (an empty node) and registered classes are
nodes; everything else is a leaf.  Anything registered with ``jax.tree_util``
works here too, and flattening runs at C speed.
"""
import dataclasses

import jax.tree_util as _jtu

from .errors import TreeStructureError, api_boundary, user_location

PyTreeDef = _jtu.PyTreeDef


def flatten(tree, is_leaf=None):
    """``(leaves, treedef)`` of a pytree."""
    return _jtu.tree_flatten(tree, is_leaf=is_leaf)


def unflatten(treedef, leaves):
    """Rebuild a pytree of structure ``treedef`` from ``leaves``."""
    return _jtu.tree_unflatten(treedef, list(leaves))


def leaves(tree, is_leaf=None):
    """The leaves of a pytree, in flattening order."""
    return _jtu.tree_leaves(tree, is_leaf=is_leaf)


def structure(tree, is_leaf=None):
    """The treedef of a pytree."""
    return _jtu.tree_structure(tree, is_leaf=is_leaf)


def keystr(path):
    """``"['w'][0]"``-style text of a key path."""
    return _jtu.keystr(path) if path else "<root>"


def first_difference(a, b, is_leaf=None):
    """Text naming the first path at which the structures of ``a`` and ``b`` differ, or None."""
    pa, ta = _jtu.tree_flatten_with_path(a, is_leaf=is_leaf)
    pb, tb = _jtu.tree_flatten_with_path(b, is_leaf=is_leaf)
    if ta == tb:
        return None
    paths_a = [keystr(p) for p, _ in pa]
    paths_b = [keystr(p) for p, _ in pb]
    for x, y in zip(paths_a, paths_b):
        if x != y:
            return f"first difference at {x} vs {y}"
    if len(paths_a) != len(paths_b):
        longer, which = (paths_a, "first") if len(paths_a) > len(paths_b) else (paths_b, "second")
        return f"the {which} tree has an extra leaf at {longer[min(len(paths_a), len(paths_b))]}"
    return f"node types differ: {ta} vs {tb}"


def check_same_structure(what, a, b, names=("first", "second"), is_leaf=None):
    """Raise :class:`TreeStructureError` unless ``a`` and ``b`` have one structure."""
    diff = first_difference(a, b, is_leaf=is_leaf)
    if diff is not None:
        raise TreeStructureError(
            f"{what}: the {names[0]} and {names[1]} pytrees have different structures ({diff}).\n"
            f"  {names[0]}: {structure(a, is_leaf)}\n  {names[1]}: {structure(b, is_leaf)}\n"
            f"  at {user_location()}\n"
            f"Fix: pass pytrees of the same structure (same containers, keys and number of leaves)."
        )


@api_boundary
def map(f, tree, *rest, is_leaf=None):  # noqa: A001  (mirrors jax.tree.map)
    """Apply ``f`` leafwise over one or more pytrees of one structure."""
    for i, r in enumerate(rest):
        check_same_structure("funcgrad.tree.map", tree, r, names=("tree", f"rest[{i}]"), is_leaf=is_leaf)
    return _jtu.tree_map(f, tree, *rest, is_leaf=is_leaf)


def register_node(cls, flatten_fn=None, unflatten_fn=None, *, data_fields=None, meta_fields=None):
    """Register ``cls`` as a pytree node.

    ``flatten_fn(obj) -> (children, aux)`` and ``unflatten_fn(aux, children) -> obj``.
    A dataclass may be registered with no functions: its fields are children (arrays,
    traced and differentiated) except *static* ones -- named in ``meta_fields``, or
    declared ``dataclasses.field(metadata={"static": True})`` -- which are kept as
    hashable metadata in the tree's structure (a name, a config string, a flag).
    Works as a decorator too: ``@register_node`` or
    ``@functools.partial(register_node, meta_fields=["name"])``.
    """
    if flatten_fn is None and unflatten_fn is None:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"register_node({cls.__name__}): pass flatten_fn and unflatten_fn, or register a "
                            "dataclass.")
        fields = [f for f in dataclasses.fields(cls) if f.init]
        if meta_fields is None:
            meta_fields = [f.name for f in fields if f.metadata.get("static", False)
                           and (data_fields is None or f.name not in data_fields)]
        if data_fields is None:
            data_fields = [f.name for f in fields if f.name not in meta_fields]
        _jtu.register_dataclass(cls, data_fields=list(data_fields), meta_fields=list(meta_fields))
        return cls
    if data_fields is not None or meta_fields is not None:
        raise TypeError("register_node: data_fields/meta_fields are for dataclasses registered without "
                        "flatten_fn/unflatten_fn")
    _jtu.register_pytree_node(cls, flatten_fn, unflatten_fn)
    return cls


__all__ = ["flatten", "unflatten", "leaves", "structure", "map", "register_node", "PyTreeDef"]
