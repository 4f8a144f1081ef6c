"""Draw an IR as a Graphviz graph: :func:`to_dot` writes the DOT source text.

A program is easier to read as a picture once it is more than a screenful: which
equation feeds which, where the forward pass ends and the backward pass starts, what a
``cond`` or ``scan`` runs inside.  ``to_dot`` needs nothing but funcgrad; render its text
with the Graphviz ``dot`` program (``dot -Tpng ir.dot -o ir.png``) or the ``graphviz``
Python package (``graphviz.Source(text).render(...)``).

What the picture shows:

* one box per equation, written as ``str(ir)`` writes it: the primitive with its
  parameters (``reduce_sum[axes=(0,)]``; long values shortened), then its operands
  (literals such as ``0.0`` inline) and, after ``->``, its outputs with their types
  (``j -> k:f32[]``);
* the program's inputs as ellipses, its constants (captured arrays) as cylinders and its
  outputs as double ellipses (``out 0``, ``out 1``, ...);
* one arrow per use of a variable, from where it is made to where it is used, labelled
  with the variable and its type;
* every program held in a parameter (the branches of ``cond``, the body of ``scan``,
  the two programs of ``while``, the program of ``jit_call``, ``remat``,
  ``custom_jvp_call``, ...) as a framed cluster labelled with the primitive and the
  parameter's name, joined to its equation by a dashed line.

Variables have the names ``str(ir)`` gives them, and nodes are written in the order the
text lists them, so the picture and the printed program can be read side by side.
"""
from .ir import IR, Literal, _fmt_literal, _fmt_param, _names

_MAX_PARAM = 48      # longest parameter value shown in full in an equation's box
_MAX_LINE = 60       # lines of operands / outputs longer than this wrap

_INPUT = 'shape=ellipse, style=filled, fillcolor="#dbeafe"'
_CONST = 'shape=cylinder, style=filled, fillcolor="#e5e7eb"'
_EQN = 'shape=box, style="rounded,filled", fillcolor="#fef3c7"'
_OUTPUT = 'shape=ellipse, peripheries=2, style=filled, fillcolor="#dcfce7"'
_UNDEFINED = 'shape=plaintext, fontcolor="#b91c1c"'
_EMPTY = 'shape=plaintext, fontcolor="#6b7280"'
_HOLDS = 'style=dashed, arrowhead=none, color="#9ca3af"'


def to_dot(ir, name="ir", rankdir="TB"):
    """The Graphviz DOT source (a ``str``) of the program ``ir``.

    ``name`` is the graph's name; ``rankdir`` its direction (``"TB"``: top to bottom,
    ``"LR"``: left to right).  Each equation is a node, each use of a variable an edge,
    and each program held in a parameter a ``subgraph cluster_...`` of its own.  Names
    and types are those of ``str(ir)``.
    """
    writer = _Writer()
    body, _ = writer.program(ir, "  ")
    head = [
        f"digraph {_quote(name)} {{",
        f"  graph [rankdir={_quote(rankdir)}, compound=true, fontname=\"Helvetica\", fontsize=11, "
        "nodesep=0.25, ranksep=0.3];",
        '  node [fontname="Helvetica", fontsize=10, margin="0.08,0.03"];',
        '  edge [fontname="Helvetica", fontsize=9, color="#4b5563", fontcolor="#374151", arrowsize=0.6];',
    ]
    return "\n".join(head + body + ["}"]) + "\n"


def _quote(text):
    """``text`` as a DOT quoted string, shown as written.

    Backslashes and double quotes are escaped, so Graphviz neither ends the string early
    nor reads ``\\n``, ``\\N`` or ``\\G`` in a value as its own escapes.  Braces, ``|``,
    ``<`` and ``>`` mean nothing in a quoted label of a non-record node (every node here
    has a plain shape), so they are kept as they are.
    """
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\r", "").replace("\n", "\\n").replace("\t", " ") + '"'


def _label(lines):
    """A multi-line label: each line centred (Graphviz's ``\\n`` between escaped lines)."""
    return "\\n".join(_quote(line)[1:-1] for line in lines)


def _wrap(words, width=_MAX_LINE):
    """``words`` joined by spaces into lines of at most about ``width`` characters."""
    lines, line = [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    return lines + [line] if line else lines


def _short(text):
    return text if len(text) <= _MAX_PARAM else text[:_MAX_PARAM - 3] + "..."


def _subprograms(value, path):
    """``(path, program)`` for each program held in a parameter value: the value itself,
    or the elements of a tuple or list of programs (nested ones too), as ``str(ir)``
    finds them; ``[]`` for any other value."""
    if isinstance(value, IR):
        return [(path, value)]
    if isinstance(value, (tuple, list)) and any(isinstance(e, IR) for e in value):
        return [found for i, e in enumerate(value) for found in _subprograms(e, f"{path}[{i}]")]
    return []


class _Writer:
    """Writes programs as DOT statements, naming variables as the printer does: one
    sequence of names for the whole text, a program's inputs first, then its constants,
    then for each equation its outputs, then the programs in its parameters."""

    def __init__(self):
        self.names = _names()
        self.n_programs = 0

    def program(self, ir, pad):
        """The DOT lines of ``ir``'s nodes and edges (its sub-programs as clusters), and
        the id of its first node."""
        p = self.n_programs
        self.n_programs += 1
        env, made, lines, nodes = {}, {}, [], []   # made: var -> the node that makes it

        def name(v):
            if v not in env:
                env[v] = next(self.names)
            return env[v]

        def decl(v):
            return f"{name(v)}:{v.aval.str_short()}"

        def node(node_id, label, style):
            nodes.append(node_id)
            lines.append(f'{pad}{node_id} [label="{_label(label)}", {style}];')

        def use(v, head):
            """The edge of one use of ``v`` by the node ``head``."""
            if v not in made:       # a variable no equation of this program makes: shown, not hidden
                made[v] = f"p{p}_free{len(nodes)}"
                node(made[v], [decl(v), "(not defined here)"], _UNDEFINED)
            lines.append(f'{pad}{made[v]} -> {head} [label="{_label([decl(v)])}"];')

        in_labels = [[decl(v)] for v in ir.in_vars]              # named first, listed after the constants
        for i, v in enumerate(ir.const_vars):
            made[v] = f"p{p}_const{i}"
            node(made[v], [decl(v), "constant"], _CONST)
        for i, (v, label) in enumerate(zip(ir.in_vars, in_labels)):
            made[v] = f"p{p}_in{i}"
            node(made[v], label, _INPUT)

        for k, eqn in enumerate(ir.eqns):
            eqn_id = f"p{p}_e{k}"
            outs = [decl(v) for v in eqn.outputs] or ["()"]
            for v in eqn.outputs:
                made[v] = eqn_id
            params, clusters = [], []
            for key, value in eqn.params.items():
                subs = _subprograms(value, key)
                for path, sub in subs:
                    clusters.append(self.cluster(sub, f"{eqn.prim.name}: {path}", eqn_id, pad))
                if not subs:
                    params.append(_short(f"{key}={_fmt_param(value, None, 0)}"))
            operands = [_fmt_literal(x) if type(x) is Literal else name(x) for x in eqn.inputs]
            head = _wrap(params, _MAX_PARAM) or [""]     # written like the text: prim[k=v k=v]
            head[0] = eqn.prim.name + ("[" + head[0] if params else "")
            head[-1] += "]" if params else ""
            node(eqn_id, head + _wrap(operands + ["->"] + outs), _EQN)
            for cluster in clusters:
                lines.extend(cluster)
            for x in eqn.inputs:
                if type(x) is not Literal:
                    use(x, eqn_id)

        for i, x in enumerate(ir.outs):
            out_id = f"p{p}_out{i}"
            if type(x) is Literal:
                node(out_id, [f"out {i} = {_fmt_literal(x)}"], _OUTPUT)
            else:
                node(out_id, [f"out {i}"], _OUTPUT)
                use(x, out_id)
        for kind, n in (("in", len(ir.in_vars)), ("out", len(ir.outs))):     # inputs side by side, outputs too
            if n > 1:
                lines.append(f"{pad}{{ rank=same; " + " ".join(f"p{p}_{kind}{i};" for i in range(n)) + " }")
        if not nodes:
            node(f"p{p}_empty", ["(empty program)"], _EMPTY)
        return lines, nodes[0]

    def cluster(self, ir, title, holder, pad):
        """``ir`` as ``subgraph cluster_pN``, titled ``title`` and joined by a dashed line
        to the node ``holder`` of the equation that holds it."""
        p = self.n_programs
        inner, first = self.program(ir, pad + "  ")
        return ([f"{pad}subgraph cluster_p{p} {{",
                 f'{pad}  label={_quote(title)}; labeljust=l; style="rounded,dashed"; color="#9ca3af"; fontsize=10;']
                + inner + [f"{pad}}}", f"{pad}{holder} -> {first} [lhead=cluster_p{p}, {_HOLDS}];"])
