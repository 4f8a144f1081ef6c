"""Rewrite the ```text output blocks of documentation pages with what their ```python blocks print now.

Usage: python tools/refresh_doc_outputs.py docs/errors.md [more pages ...]

Blocks of one page run in order in one namespace, from a scratch directory, exactly as
``tests/test_docs.py`` runs them; every output block that differs is replaced and
printed, so review the diff (``git diff docs/``) before committing.
"""
import contextlib
import io
import os
import re
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLOCK = re.compile(r"```python\n(.*?)```(\s*```text\n(.*?)```)?", flags=re.S)


def refresh(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    rel = os.path.relpath(os.path.abspath(path), ROOT)
    namespace = {"__name__": "__docs__"}
    pieces, last, changed = [], 0, 0
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        try:
            for i, m in enumerate(BLOCK.finditer(text)):
                code, shown = m.group(1), m.group(3)
                out = io.StringIO()
                with contextlib.redirect_stdout(out):
                    exec(compile(code, f"{rel}[block {i}]", "exec"), namespace)
                got = [line.rstrip() for line in out.getvalue().strip("\n").rstrip().splitlines()]
                if shown is not None and [line.rstrip() for line in shown.strip().splitlines()] != got:
                    print(f"--- {rel}, block {i}:\n" + "\n".join(got))
                    start, end = m.span(3)
                    pieces += [text[last:start], "\n".join(got) + "\n"]
                    last = end
                    changed += 1
        finally:
            os.chdir(cwd)
    pieces.append(text[last:])
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(pieces))
    return changed


if __name__ == "__main__":
    for page in sys.argv[1:]:
        print(f"{page}: {refresh(page)} output block(s) updated")
