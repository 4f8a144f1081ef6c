"""A griffe extension for the API reference: funcgrad's docstrings are prose with a few
reStructuredText constructs, which this turns into the Markdown mkdocstrings renders.

* ``:class:`X```, ``:func:`X```, ... (any role but ``:math:``) become ```X``` code;
* ``:math:`x``` becomes ``$x$`` and a ``.. math::`` block a ``$$ ... $$`` block
  (typeset by MathJax through ``pymdownx.arithmatex``);
* a paragraph ending in ``::`` (an rst literal block follows) ends in ``:``.

It also documents functions made by a factory (``glorot_uniform = _named(...)``) or
bound to a second name (``swish = silu``) as the functions they are at run time,
rather than as attributes.
"""
import importlib
import inspect
import re
import textwrap

import griffe

_ROLE = re.compile(r":(?:py:)?(?!math:)[a-z]+:`~?([^`]+)`")
_MATH_ROLE = re.compile(r":math:`([^`]+)`")
_MATH_DIRECTIVE = re.compile(r"^([ \t]*)\.\. math::[ \t]*(.*)$")


def _math_blocks(lines):
    out, i = [], 0
    while i < len(lines):
        m = _MATH_DIRECTIVE.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent, first = m.group(1), m.group(2).strip()
        body = [first] if first else []
        i += 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        tex = textwrap.dedent("\n".join(body)).strip()
        if "\\\\" in tex:
            tex = "\\begin{gathered}\n" + tex + "\n\\end{gathered}"
        out += ["", indent + "$$", *(indent + t for t in tex.splitlines()), indent + "$$", ""]
        if i < len(lines) and lines[i].strip():
            out.append("")
    return out


def rst_to_markdown(text):
    """The Markdown rendering of one docstring."""
    text = _MATH_ROLE.sub(lambda m: "$" + m.group(1) + "$", text)
    text = _ROLE.sub(lambda m: "`" + m.group(1) + "`", text)
    lines = _math_blocks(text.splitlines())
    for j, line in enumerate(lines):
        if line.strip() == "::":
            lines[j] = ""
        elif line.rstrip().endswith("::"):
            lines[j] = line.rstrip()[:-1]
    return "\n".join(lines)


class RstRoles(griffe.Extension):
    """Rewrite each docstring once, when griffe loads its object."""

    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None and not obj.is_alias:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)

    def on_module_members(self, *, mod, **kwargs):
        if not mod.path.startswith("funcgrad"):
            return
        runtime, inspected = None, None
        for name, member in list(mod.members.items()):
            if member.is_alias or not member.is_attribute or member.docstring is not None or name.startswith("_"):
                continue
            if runtime is None:
                try:
                    runtime = importlib.import_module(mod.path)
                except Exception:  # a module that cannot be imported keeps its static view
                    return
            value = getattr(runtime, name, None)
            if not inspect.isfunction(value):
                continue
            value = inspect.unwrap(value)
            home = f"{value.__module__}.{value.__qualname__}"
            if home != f"{mod.path}.{name}" and "<" not in value.__qualname__:
                mod.set_member(name, griffe.Alias(name, home, parent=mod, lineno=member.lineno,
                                                  endlineno=member.endlineno))
                continue
            if inspected is None:
                inspected = griffe.inspect(mod.path)
            func = inspected.members.get(name)
            if func is None or func.is_alias or not func.is_function:
                continue
            func.lineno, func.endlineno = member.lineno, member.endlineno
            if func.docstring is not None:
                func.docstring.value = rst_to_markdown(func.docstring.value)
            mod.set_member(name, func)
