"""``IR.to_dot()``: a program drawn as a Graphviz graph.

Every count checked here is derived from the IR itself: one node per equation, input,
constant and output; one edge per use of a variable; one cluster per program held in a
parameter; and the names those nodes and edges carry are the ones ``str(ir)`` prints.
The DOT text is read back with the small reader below, and also with the Graphviz
``dot`` program and with ``pydot`` when they are installed."""
import collections
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import lax
from funcgrad.core.dot import to_dot
from funcgrad.core.ir import IR

F32 = np.float32
HAS_DOT = shutil.which("dot") is not None


# ---------------------------------------------------------------------------- programs

def mlp_loss(params, x, y):
    (w1, b1), (w2, b2) = params
    h = fnp.tanh(x @ w1 + b1)
    return fnp.mean((h @ w2 + b2 - y) ** 2)


MLP_ARGS = (((np.ones((4, 8), F32), np.ones(8, F32)), (np.ones((8, 3), F32), np.ones(3, F32))),
            np.ones((5, 4), F32), np.ones((5, 3), F32))


def control_flow(x):
    y = lax.cond(fnp.sum(x) > 0, lambda t: fnp.sin(t), lambda t: t * 2.0, x)
    c, ys = lax.scan(lambda c, v: (c + v, c * v), 0.0, y)
    return c + fnp.sum(ys)


def looping(x):
    fg.debug_print('x is "{x}" <{x}> \\n', x=x)      # quotes, braces, angle brackets and a backslash
    return lax.while_loop(lambda c: c < 10.0, lambda c: c * 2.0, x)


W = np.arange(6, dtype=F32).reshape(2, 3)

PROGRAMS = {
    "mlp_loss": lambda: fg.make_ir(mlp_loss)(*MLP_ARGS),
    "mlp_grad": lambda: fg.make_ir(fg.grad(mlp_loss))(*MLP_ARGS),
    "cond_scan": lambda: fg.make_ir(control_flow)(np.ones(3, F32)),
    "cond_scan_grad": lambda: fg.make_ir(fg.grad(control_flow))(np.ones(3, F32)),
    "while_print": lambda: fg.make_ir(looping)(1.0),
    "jit_checkpoint": lambda: fg.make_ir(fg.jit(lambda x: fg.checkpoint(fnp.sin)(x) * 3.0))(1.0),
    "constants": lambda: fg.make_ir(lambda x: fnp.sum(x @ W) + 1.0)(np.ones((4, 2), F32)),
    "literal_and_input_outputs": lambda: fg.make_ir(lambda x: (x, 2.0, x * x))(1.0),
}


@pytest.fixture(params=sorted(PROGRAMS))
def ir(request):
    return PROGRAMS[request.param]()


# ---------------------------------------------------------------------------- walking the IR

def subprograms(value, path):
    """(path, program) for the programs a parameter value holds, found as the printer finds them."""
    if isinstance(value, IR):
        return [(path, value)]
    if isinstance(value, (tuple, list)) and any(isinstance(e, IR) for e in value):
        return [s for i, e in enumerate(value) for s in subprograms(e, f"{path}[{i}]")]
    return []


def occurrences(ir, title=None):
    """Every program in printing order: (title, program), the whole program first."""
    found = [(title, ir)]
    for eqn in ir.eqns:
        for key, value in eqn.params.items():
            for path, sub in subprograms(value, key):
                found += occurrences(sub, f"{eqn.prim.name}: {path}")
    return found


def declared_vars(ir):
    """The variables in the order ``str(ir)`` lists them (a program held twice, twice):
    constants, inputs, then each equation's outputs and the programs it holds."""
    out = list(ir.const_vars) + list(ir.in_vars)
    for eqn in ir.eqns:
        out += eqn.outputs
        for value in eqn.params.values():
            for _, sub in subprograms(value, ""):
                out += declared_vars(sub)
    return out


DECL = re.compile(r"(?<![\w.])([a-z]+):((?:[a-z]+\d*)\[[\d,]*\]~?)")


def printed_declarations(ir):
    """``name:type`` of every declaration in ``str(ir)``, in order."""
    return [f"{n}:{t}" for n, t in DECL.findall(str(ir))]


def printed_names(ir):
    """Per program occurrence, each variable's name as ``str(ir)`` prints it."""
    decls = iter(printed_declarations(ir))
    envs = []

    def walk(p):
        env = {}
        envs.append((p, env))
        for v in list(p.const_vars) + list(p.in_vars):
            env[v] = next(decls).split(":")[0]
        for eqn in p.eqns:
            for v in eqn.outputs:
                env[v] = next(decls).split(":")[0]
            for value in eqn.params.values():
                for _, sub in subprograms(value, ""):
                    walk(sub)

    walk(ir)
    assert next(decls, None) is None
    return envs


def eqns_in_order(ir):
    """Every equation, as ``str(ir)`` lists them: each followed by those of the programs it holds."""
    out = []
    for eqn in ir.eqns:
        out.append(eqn)
        for value in eqn.params.values():
            for _, sub in subprograms(value, ""):
                out += eqns_in_order(sub)
    return out


def var_uses(p):
    return [x for eqn in p.eqns for x in eqn.inputs if isinstance(x, fg.core.ir.Var)] + \
        [x for x in p.outs if isinstance(x, fg.core.ir.Var)]


# ---------------------------------------------------------------------------- reading DOT

TOKEN = re.compile(r'\s*("(?:\\.|[^"\\])*"|->|[{}\[\];=,]|[^\s{}\[\];=,"]+)')
Graph = collections.namedtuple("Graph", "name nodes edges clusters")


def unquote(tok):
    """A DOT string's value, with Graphviz's ``\\n`` line breaks as real newlines."""
    if not tok.startswith('"'):
        return tok
    out, i, s = [], 0, tok[1:-1]
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append("\n" if s[i + 1] == "n" else s[i + 1])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def parse_dot(text):
    """Read the DOT that ``to_dot`` writes: nodes (id -> attrs, with ``cluster``, in
    file order), edges ``(tail, head, attrs)`` and clusters (id -> attrs, with ``parent``)."""
    toks, pos = [], 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if m is None:
            assert not text[pos:].strip(), f"unreadable DOT at {text[pos:pos + 40]!r}"
            break
        toks.append(m.group(1))
        pos = m.end()
    assert toks[0] == "digraph" and toks[2] == "{", toks[:3]
    name, i = unquote(toks[1]), 3
    nodes, edges, clusters, stack = {}, [], {}, [None]

    def attrs(i):
        out = {}
        if toks[i] != "[":
            return out, i
        i += 1
        while toks[i] != "]":
            key, eq, value = toks[i], toks[i + 1], toks[i + 2]
            assert eq == "=", toks[i:i + 3]
            out[key] = unquote(value)
            i += 3
            if toks[i] == ",":
                i += 1
        return out, i + 1

    while i < len(toks):
        t = toks[i]
        if t == "}":
            stack.pop()
            i += 1
        elif t == "subgraph":
            clusters[toks[i + 1]] = {"parent": stack[-1]}
            stack.append(toks[i + 1])
            assert toks[i + 2] == "{"
            i += 3
        elif t == "{":
            stack.append(stack[-1])           # a group such as { rank=same; ... }
            i += 1
        elif t == ";":
            i += 1
        elif t in ("graph", "node", "edge"):
            _, i = attrs(i + 1)
        elif toks[i + 1] == "=":               # an attribute of the enclosing (sub)graph
            if stack[-1] is not None:
                clusters[stack[-1]][t] = unquote(toks[i + 2])
            i += 3
        elif toks[i + 1] == "->":
            a, i2 = attrs(i + 3)
            edges.append((t, toks[i + 2], a))
            i = i2
        else:
            a, i = attrs(i + 1)
            if a:                              # a bare id only places a node already written
                assert t not in nodes, f"node {t} written twice"
                nodes[t] = dict(a, cluster=stack[-1])
    assert stack == [], "unbalanced braces"
    return Graph(name, nodes, edges, clusters)


def kind(node):
    if node.get("peripheries") == "2":
        return "output"
    return {"ellipse": "input", "cylinder": "constant", "box": "equation"}.get(node["shape"], node["shape"])


def data_edges(g):
    return [e for e in g.edges if "lhead" not in e[2]]


def eqn_outputs(label):
    """The ``name:type`` outputs an equation's label lists after its last ``->``."""
    return [d for d in " ".join(label.split("\n")).rsplit(" -> ", 1)[1].split() if d != "()"]


def dot_declarations(g):
    out = []
    for node in g.nodes.values():
        if kind(node) in ("input", "constant"):
            out.append(node["label"].split("\n")[0])
        elif kind(node) == "equation":
            out += eqn_outputs(node["label"])
    return out


# ---------------------------------------------------------------------------- tests

def test_every_equation_is_a_node_labelled_with_its_primitive(ir):
    g = parse_dot(ir.to_dot())
    eqns = eqns_in_order(ir)
    assert len(eqns) == sum(len(p.eqns) for _, p in occurrences(ir))
    boxes = [n for n in g.nodes.values() if kind(n) == "equation"]
    assert len(boxes) == len(eqns) > 0
    assert [re.match(r"[\w]+", n["label"]).group() for n in boxes] == [e.prim.name for e in eqns]


def test_inputs_constants_and_outputs_have_their_own_shapes(ir):
    g = parse_dot(ir.to_dot())
    progs = [p for _, p in occurrences(ir)]
    counts = collections.Counter(kind(n) for n in g.nodes.values())
    assert counts["input"] == sum(len(p.in_vars) for p in progs)
    assert counts["constant"] == sum(len(p.const_vars) for p in progs)
    assert counts["output"] == sum(len(p.outs) for p in progs)
    assert len(g.nodes) == sum(len(p.in_vars) + len(p.const_vars) + len(p.eqns) + len(p.outs) for p in progs)


def test_one_edge_per_use_of_a_variable(ir):
    g = parse_dot(ir.to_dot())
    progs = [p for _, p in occurrences(ir)]
    assert len(data_edges(g)) == sum(len(var_uses(p)) for p in progs)
    assert len(g.edges) - len(data_edges(g)) == len(progs) - 1     # one dashed line per held program


def test_each_edge_starts_where_its_variable_is_made(ir):
    g = parse_dot(ir.to_dot())
    for tail, head, a in data_edges(g):
        label = g.nodes[tail]["label"]
        made_there = eqn_outputs(label) if kind(g.nodes[tail]) == "equation" else label.split("\n")[:1]
        assert a["label"] in made_there, (tail, head, a["label"], label)
        assert g.nodes[tail]["cluster"] == g.nodes[head]["cluster"]


def test_names_and_types_are_those_of_the_printed_program(ir):
    g = parse_dot(ir.to_dot())
    assert dot_declarations(g) == printed_declarations(ir)
    assert len(printed_declarations(ir)) == len(declared_vars(ir))
    expected_edges = collections.Counter(f"{env[v]}:{v.aval.str_short()}"
                                         for p, env in printed_names(ir) for v in var_uses(p))
    assert collections.Counter(e[2]["label"] for e in data_edges(g)) == expected_edges


def test_operands_are_written_as_the_printer_writes_them():
    ir = PROGRAMS["mlp_loss"]()
    text_lines = [line.split(" = ", 1)[1] for line in str(ir).splitlines() if " = " in line]
    g = parse_dot(ir.to_dot())
    for line, node in zip(text_lines, (n for n in g.nodes.values() if kind(n) == "equation"), strict=True):
        prim_params, _, operands = line.rpartition("] ") if "[" in line else ("", "", line.split(" ", 1)[1])
        label = " ".join(node["label"].split("\n"))
        assert label.startswith((prim_params + "]") if prim_params else line.split(" ")[0])
        assert label.rsplit(" -> ", 1)[0].endswith(" " + operands)
    (square,) = [n["label"] for n in g.nodes.values() if n["label"].startswith("pow")]
    assert square.endswith(" 2 -> m:f32[5,3]")                      # the literal exponent, inline


def test_held_programs_are_clusters_labelled_by_their_parameter(ir):
    g = parse_dot(ir.to_dot())
    subs = occurrences(ir)[1:]
    clusters = list(g.clusters.items())
    assert [c[1]["label"] for c in clusters] == [title for title, _ in subs]
    assert all(cid.startswith("cluster_") for cid, _ in clusters)
    for (cid, _), (_, p) in zip(clusters, subs, strict=True):
        inside = [n for n in g.nodes.values() if n["cluster"] == cid]
        assert len(inside) == len(p.in_vars) + len(p.const_vars) + len(p.eqns) + len(p.outs)


def test_cond_branches_and_scan_body_get_clusters():
    g = parse_dot(PROGRAMS["cond_scan"]().to_dot())
    assert sorted(c["label"] for c in g.clusters.values()) == ["cond: branches[0]", "cond: branches[1]", "scan: body"]
    g = parse_dot(PROGRAMS["jit_checkpoint"]().to_dot())
    (outer,) = [k for k, c in g.clusters.items() if c["label"] == "jit_call: ir"]
    (inner,) = [c for c in g.clusters.values() if c["label"] == "remat: ir"]
    assert inner["parent"] == outer                                  # nested programs, nested clusters


def test_quotes_braces_and_angle_brackets_survive():
    ir = PROGRAMS["while_print"]()
    g = parse_dot(ir.to_dot(name='say "hi" {x}'))
    assert g.name == 'say "hi" {x}'
    (box,) = [n for n in g.nodes.values() if n["label"].startswith("debug_print")]
    assert 'fmt=x is "{x}" <{x}> \\n' in box["label"]
    lam = parse_dot(PROGRAMS["jit_checkpoint"]().to_dot())
    assert any("name=<lambda>" in n["label"] for n in lam.nodes.values())


def test_constants_are_named_after_the_inputs_as_printed():
    ir = PROGRAMS["constants"]()
    assert str(ir).startswith("{ b:f32[2,3] ; a:f32[4,2] ->")
    g = parse_dot(ir.to_dot())
    (const,) = [n for n in g.nodes.values() if kind(n) == "constant"]
    assert const["label"] == "b:f32[2,3]\nconstant"


def test_literal_outputs_are_written_in_the_output_node():
    g = parse_dot(PROGRAMS["literal_and_input_outputs"]().to_dot())
    outs = [n["label"] for n in g.nodes.values() if kind(n) == "output"]
    assert outs == ["out 0", "out 1 = 2.0", "out 2"]


def test_an_empty_program_still_makes_a_graph():
    ir = fg.make_ir(lambda: ())()
    g = parse_dot(ir.to_dot())
    assert [n["label"] for n in g.nodes.values()] == ["(empty program)"] and not g.edges


def test_direction_and_the_method_is_the_module_function(ir):
    assert ir.to_dot() == to_dot(ir, "ir")
    assert 'rankdir="LR"' in ir.to_dot(rankdir="LR") and 'rankdir="TB"' in ir.to_dot()


# ---------------------------------------------------------------------------- other readers

@pytest.mark.skipif(not HAS_DOT, reason="the Graphviz 'dot' program is not installed")
def test_graphviz_reads_it_without_warnings(ir):
    text = ir.to_dot()
    res = subprocess.run(["dot", "-Tjson"], input=text, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    laid_out = json.loads(res.stdout)
    g = parse_dot(text)
    objects = laid_out.get("objects", [])
    assert len([o for o in objects if "nodes" not in o and "subgraphs" not in o and "_gvid" in o
                and not o["name"].startswith("cluster_") and o["name"] in g.nodes]) == len(g.nodes)
    assert len(laid_out.get("edges", [])) == len(g.edges)


@pytest.mark.skipif(not HAS_DOT, reason="the Graphviz 'dot' program is not installed")
def test_rendered_text_shows_labels_as_written():
    ir = PROGRAMS["while_print"]()
    res = subprocess.run(["dot", "-Tsvg"], input=ir.to_dot(), capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    texts = [t.text for t in ET.fromstring(res.stdout).iter("{http://www.w3.org/2000/svg}text")]
    assert 'debug_print[fmt=x is "{x}" <{x}> \\n names=(\'x\',)]' in texts
    assert "a -> ()" in texts and "while: body_ir" in texts


def test_pydot_reads_it(ir):
    pydot = pytest.importorskip("pydot")
    (graph,) = pydot.graph_from_dot_data(ir.to_dot())
    g = parse_dot(ir.to_dot())

    def collect(gr):
        nodes = [n for n in gr.get_nodes() if n.get("label") is not None]
        edges = list(gr.get_edges())
        for sub in gr.get_subgraphs():
            n, e = collect(sub)
            nodes += n
            edges += e
        return nodes, edges

    nodes, edges = collect(graph)
    assert len(nodes) == len(g.nodes) and len(edges) == len(g.edges)
    labels = {n.get_name(): unquote(n.get("label")) for n in nodes}
    assert labels == {k: n["label"] for k, n in g.nodes.items()}
