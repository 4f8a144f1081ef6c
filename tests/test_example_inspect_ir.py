"""examples/inspect_ir.py: prints a loss's program and its gradient's, writes both as DOT
files, and renders them as PNGs when Graphviz is there (and says how to get it when not)."""
import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
SCRIPT = EXAMPLES / "inspect_ir.py"


def can_render():
    return shutil.which("dot") is not None and importlib.util.find_spec("graphviz") is not None


@pytest.fixture(scope="module")
def inspect_ir():
    spec = importlib.util.spec_from_file_location("inspect_ir", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_writes_the_dot_file_of_each_program(inspect_ir, tmp_path, capsys):
    written = inspect_ir.main(["--out", str(tmp_path / "ir")])
    printed = capsys.readouterr().out
    programs = inspect_ir.programs()
    assert set(programs) == {"loss_ir", "grad_ir"}
    for stem, ir in programs.items():
        path = tmp_path / "ir" / f"{stem}.dot"
        assert path in written
        text = path.read_text()
        assert text == ir.to_dot(name=stem)
        assert text.startswith(f'digraph "{stem}" {{')
        boxes = [line for line in text.splitlines() if "shape=box" in line]
        assert len(boxes) == len(ir.eqns) > 0
        for line, eqn in zip(boxes, ir.eqns, strict=True):
            assert f'[label="{eqn.prim.name}' in line
        assert str(ir) in printed
    # the gradient's program holds the loss's forward pass and the backward pass after it
    assert len(programs["grad_ir"].eqns) > len(programs["loss_ir"].eqns)
    assert programs["grad_ir"].out_avals == [v.aval for v in programs["loss_ir"].in_vars[:2]]


@pytest.mark.skipif(not can_render(), reason="rendering needs the graphviz package and the 'dot' program")
def test_renders_pngs_when_graphviz_is_installed(inspect_ir, tmp_path, capsys):
    written = inspect_ir.main(["--out", str(tmp_path)])
    printed = capsys.readouterr().out
    for stem in ("loss_ir", "grad_ir"):
        png = tmp_path / f"{stem}.png"
        assert png in written
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Rendered" in printed and "Skipped" not in printed


def test_says_how_to_render_when_graphviz_is_missing(tmp_path):
    """With no 'dot' program on PATH the DOT files are written, no PNG, and the output says
    what to install."""
    empty = tmp_path / "empty_path"
    empty.mkdir()
    env = dict(os.environ, PATH=str(empty))
    res = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path / "out")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "Skipped rendering PNG images" in res.stdout
    assert "pip install graphviz" in res.stdout and "Graphviz programs" in res.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["grad_ir.dot", "loss_ir.dot"]
