"""Every ```python block of the README and docs runs (blocks of one page share a namespace,
in order, as a reader would run them), and where a ```text block follows it directly,
that is what the block prints."""
import contextlib
import io
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ["README.md"] + sorted(os.path.relpath(os.path.join(d, f), ROOT)
                               for d, _, files in os.walk(os.path.join(ROOT, "docs")) for f in files
                               if f.endswith(".md"))
# Pages that are generated API reference (mkdocstrings directives only) hold no examples.
NO_EXAMPLES = {p for p in PAGES if p.startswith("docs/reference/")}


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
    if page in NO_EXAMPLES and not blocks:
        pytest.skip("an API reference page generated from docstrings")
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


REFERENCE_PAGES = ["funcgrad", "numpy", "lax", "nn", "random", "scipy", "optim", "parallel", "tree", "serialization",
                   "errors", "config", "test_util"]


def test_site_builds_strictly(tmp_path):
    """``mkdocs build --strict`` (mkdocs.yml: every page in the nav, the API reference generated
    from the docstrings) passes with no warning."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    pytest.importorskip("material")
    import subprocess
    import sys

    site = tmp_path / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    assert (site / "index.html").is_file()
    for name in REFERENCE_PAGES:
        page = site / "reference" / name / "index.html"
        assert page.is_file(), f"missing reference page {name}"
        assert 'class="doc doc-' in page.read_text(encoding="utf-8"), f"reference page {name} documents nothing"
