"""Every ```python block of the README and docs runs (blocks of one page share a namespace,
in order, as a reader would run them)."""
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ["README.md", "docs/how-it-works.md", "docs/api.md", "docs/optim.md"]


def _blocks(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


@pytest.mark.parametrize("page", PAGES)
def test_python_blocks_of_page_run(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # snippets that save files write here
    blocks = _blocks(page)
    assert blocks, f"{page} has no python examples"
    namespace = {"__name__": "__docs__"}
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"{page}[block {i}]", "exec"), namespace)
        except Exception as e:  # pragma: no cover - the message says which block
            raise AssertionError(f"{page}, python block {i} failed: {type(e).__name__}: {e}\n{code}") from e
