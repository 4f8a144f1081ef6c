"""``funcgrad.tree`` follows jax.tree_util's pytree conventions: tuples, lists, dicts
(sorted keys), namedtuples, None (an empty node), registered classes and dataclasses
are nodes; everything else is a leaf."""
import collections
import dataclasses
import traceback

import jax
import numpy as np
import pytest

import funcgrad as fg
from funcgrad.errors import TreeStructureError

Point = collections.namedtuple("Point", "x y")


class Box:
    def __init__(self, items, label):
        self.items, self.label = items, label

    def __eq__(self, other):
        return type(other) is Box and self.items == other.items and self.label == other.label


fg.tree.register_node(Box, lambda b: (b.items, b.label), lambda label, items: Box(list(items), label))


@dataclasses.dataclass
class Params:
    w: object
    b: object


fg.tree.register_node(Params)

TREES = [
    1.0,
    np.ones(2),
    None,
    (),
    [],
    {},
    (1, 2.0, [3, None]),
    {"b": 1, "a": [2, (3,)], "c": None},
    Point(1, [2, 3]),
    [Point(None, 1), {"k": (None,)}],
    Box([1, 2], "lbl"),
    Params(w=1.0, b=[2.0, 3.0]),
    {"nested": [Box([Params(1, 2)], "x"), Point(3, {"z": 4})]},
]


@pytest.mark.parametrize("tree", TREES, ids=lambda t: type(t).__name__)
def test_leaves_structure_flatten_agree_with_jax(tree):
    assert fg.tree.leaves(tree) == jax.tree_util.tree_leaves(tree) or all(
        a is b for a, b in zip(fg.tree.leaves(tree), jax.tree_util.tree_leaves(tree), strict=True))
    assert fg.tree.structure(tree) == jax.tree_util.tree_structure(tree)
    leaves, treedef = fg.tree.flatten(tree)
    assert treedef == jax.tree_util.tree_structure(tree)
    rebuilt = fg.tree.unflatten(treedef, leaves)
    assert jax.tree_util.tree_structure(rebuilt) == treedef
    assert fg.tree.leaves(rebuilt) is not leaves


def test_none_is_an_empty_node_not_a_leaf():
    assert fg.tree.leaves(None) == []
    assert fg.tree.leaves([None, 1, None]) == [1]
    assert fg.tree.map(lambda x: x + 1, {"a": None, "b": 1}) == {"a": None, "b": 2}


def test_dict_keys_are_flattened_in_sorted_order():
    assert fg.tree.leaves({"b": 2, "a": 1, "c": 3}) == [1, 2, 3]


def test_namedtuples_keep_their_type():
    out = fg.tree.map(lambda v: v * 10, Point(1, 2))
    assert isinstance(out, Point) and out == Point(10, 20)
    assert fg.tree.structure(Point(1, 2)) != fg.tree.structure((1, 2))


def test_registered_class_round_trips_with_aux_data():
    b = Box([1, 2, 3], "lbl")
    leaves, treedef = fg.tree.flatten(b)
    assert leaves == [1, 2, 3]
    assert fg.tree.unflatten(treedef, [4, 5, 6]) == Box([4, 5, 6], "lbl")
    assert fg.tree.structure(Box([1], "a")) != fg.tree.structure(Box([1], "b"))   # aux is structure
    assert fg.tree.map(lambda x: -x, b) == Box([-1, -2, -3], "lbl")


def test_dataclass_registration_makes_every_field_a_child():
    p = Params(w=np.ones(2), b=3.0)
    leaves = fg.tree.leaves(p)
    assert len(leaves) == 2 and leaves[1] == 3.0
    out = fg.tree.map(lambda x: x * 2, p)
    assert isinstance(out, Params) and out.b == 6.0
    np.testing.assert_array_equal(out.w, [2.0, 2.0])


def test_register_node_returns_the_class_so_it_can_decorate():
    @dataclasses.dataclass
    class Pair:
        a: object
        b: object

    assert fg.tree.register_node(Pair) is Pair
    assert fg.tree.leaves(Pair(1, 2)) == [1, 2]


def test_classes_registered_with_jax_are_pytrees_here():
    @jax.tree_util.register_dataclass
    @dataclasses.dataclass
    class State:
        step: object
        mu: object

    assert fg.tree.leaves(State(1, [2, 3])) == [1, 2, 3]
    assert fg.tree.map(lambda x: x + 1, State(1, [2, 3])) == State(2, [3, 4])


def test_unregistered_objects_are_leaves():
    class Opaque:
        pass

    o = Opaque()
    assert fg.tree.leaves([o, 1]) == [o, 1]


def test_map_over_several_trees():
    a = {"x": [1, 2], "y": Point(3, 4)}
    b = {"x": [10, 20], "y": Point(30, 40)}
    assert fg.tree.map(lambda u, v: u + v, a, b) == {"x": [11, 22], "y": Point(33, 44)}
    assert fg.tree.map(lambda u, v: u + v, a, b) == jax.tree_util.tree_map(lambda u, v: u + v, a, b)


def test_map_with_is_leaf():
    tree = {"a": (1, 2), "b": [(3, 4)]}
    out = fg.tree.map(lambda t: sum(t), tree, is_leaf=lambda t: isinstance(t, tuple))
    assert out == {"a": 3, "b": [7]}
    assert fg.tree.leaves(tree, is_leaf=lambda t: isinstance(t, tuple)) == [(1, 2), (3, 4)]


@pytest.mark.parametrize("a, b, where", [
    ({"w": [1, 2]}, {"w": [1, 2, 3]}, "['w'][2]"),
    ({"w": 1, "b": 2}, {"w": 1, "c": 2}, "['b']"),
    ((1, 2), [1, 2], "node types differ"),
    (Point(1, 2), (1, 2), ".x vs [0]"),
    ([1, None], [1, 2], "[1]"),
])
def test_map_over_different_structures_raises_tree_structure_error_naming_the_path(a, b, where):
    with pytest.raises(TreeStructureError) as e:
        fg.tree.map(lambda u, v: u, a, b)
    assert where in str(e.value)
    assert "test_tree.py" in str(e.value)
    assert traceback.extract_tb(e.value.__traceback__)[-1].filename == __file__


def test_jax_tree_map_and_funcgrad_tree_map_agree_on_none_leaves_of_the_first_tree():
    # None in the first tree is an empty node: jax requires the same in the others
    with pytest.raises(TreeStructureError):
        fg.tree.map(lambda u, v: u, [None], [1])
    with pytest.raises(ValueError):
        jax.tree_util.tree_map(lambda u, v: u, [None], [1])
