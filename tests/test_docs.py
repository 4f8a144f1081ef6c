"""Every ```python block of the README and docs runs (blocks of one page share a namespace,
in order, as a reader would run them), and where a ```text block follows it directly,
that is what the block prints."""
import contextlib
import io
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ["README.md", "docs/how-it-works.md", "docs/api.md", "docs/optim.md", "docs/control-flow.md"]


def _blocks(path):
    """``(code, shown_output or None)`` per python block."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        text = f.read()
    return [(m.group(1), m.group(3)) for m in
            re.finditer(r"```python\n(.*?)```(\s*```text\n(.*?)```)?", text, flags=re.S)]


def _lines(s):
    return [line.rstrip() for line in s.strip().splitlines()]


@pytest.mark.parametrize("page", PAGES)
def test_python_blocks_of_page_run_and_print_what_is_shown(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # snippets that save files write here
    blocks = _blocks(page)
    assert blocks, f"{page} has no python examples"
    namespace = {"__name__": "__docs__"}
    for i, (code, shown) in enumerate(blocks):
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(code, f"{page}[block {i}]", "exec"), namespace)
        except Exception as e:  # pragma: no cover - the message says which block
            raise AssertionError(f"{page}, python block {i} failed: {type(e).__name__}: {e}\n{code}") from e
        if shown is not None:
            assert _lines(out.getvalue()) == _lines(shown), (
                f"{page}, python block {i} prints something else than the page shows:\n"
                f"{out.getvalue()}\n--- the page shows:\n{shown}")
