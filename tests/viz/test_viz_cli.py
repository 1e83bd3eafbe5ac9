"""The ``graphc trace`` and ``graphc graph`` commands of the issue, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from graphc.cli import main

ROOT = Path(__file__).resolve().parents[2]
BAYDIN = "ln(x1) + x1*x2 - sin(x2)"
SVG_NS = "{http://www.w3.org/2000/svg}"


def svg_titles(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    return [g.find(f"{SVG_NS}title").text for g in root.iter(f"{SVG_NS}g")
            if g.get("class") == "node"]


def test_trace_rev_to_svg(tmp_path, capsys):
    out = tmp_path / "baydin.svg"
    assert main(["trace", BAYDIN, "--at", "x1=2", "x2=5", "--mode", "rev", "-o", str(out)]) == 0
    assert sorted(svg_titles(out)) == sorted(["vm1", "v0", "v1", "v2", "v3", "v4", "v5", "y0"])
    text = out.read_text(encoding="utf-8")
    assert "v̄₋₁ = 5.5" in text and "1/v₋₁ = 0.5" in text
    assert "wrote" in capsys.readouterr().err


def test_trace_fwd_markdown_to_stdout(capsys):
    assert main(["trace", BAYDIN, "--at", "x1=2", "x2=5", "--mode", "fwd", "--tangent", "x1=1",
                 "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert "**Forward tangent (derivative) trace**" in md
    assert "| v̇₂ | v̇₋₁ × v₀ + v̇₀ × v₋₁ = 1 × 5 + 0 × 2 | 5 |" in md
    assert "| ḟ | v̇₅ | 5.5 |" in md


def test_trace_tex_to_file(tmp_path):
    out = tmp_path / "trace.tex"
    assert main(["trace", BAYDIN, "--at", "x1=2", "x2=5", "--format", "tex", "-o",
                 str(out)]) == 0
    tex = out.read_text(encoding="utf-8")
    assert tex.count(r"\toprule") == 1 and r"\begin{tabular}" in tex
    assert (r"$\bar{v}_{-1}$ & ${}= \bar{v}_{-1} + \bar{v}_{1} \frac{\partial v_{1}}"
            r"{\partial v_{-1}} = \bar{v}_{-1} + \bar{v}_{1}/v_{-1}$ & ${}= 5.5$ \\") in tex


def test_trace_formats_from_extension_and_options(tmp_path, capsys):
    png = tmp_path / "t.png"
    assert main(["trace", "u = w1*x + b1; h = relu(u); l = (h - y)^2", "--at", "w1=5",
                 "x=3", "b1=0", "y=1", "--collapse", "--digits", "3", "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dot = tmp_path / "t.dot"
    assert main(["trace", BAYDIN, "--at", "x1=2", "x2=5", "--hide-constants",
                 "--view", "combined", "-o", str(dot)]) == 0
    assert "digraph graphc" in dot.read_text(encoding="utf-8")
    assert main(["trace", "x^2", "--at", "x=3", "--mode", "primal"]) == 0
    assert "v₁ = v₀² = 3² = 9" in capsys.readouterr().out


def test_trace_errors(capsys):
    assert main(["trace", BAYDIN, "--at", "x1=2"]) == 2
    assert "no value for input(s) x2" in capsys.readouterr().err
    assert main(["trace", BAYDIN, "--at", "x1=2", "x2=5", "-o", "x.jpg"]) == 2
    assert "output format" in capsys.readouterr().err
    assert main(["trace", BAYDIN, "--at", "x1=2", "x2=5", "--format", "png"]) == 2
    assert "-o" in capsys.readouterr().err
    assert main(["trace", BAYDIN, "--at", "x1=2", "x2=5", "--mode", "fwd"]) == 2
    assert "seed" in capsys.readouterr().err


def test_graph_before_and_after_passes(tmp_path):
    out = tmp_path / "before_after.svg"
    assert main(["graph", "x*1 + 0 + sin(x)*sin(x)", "--pass", "simplify", "--pass", "cse",
                 "-o", str(out)]) == 0
    root = ET.parse(out).getroot()
    clusters = [g for g in root.iter(f"{SVG_NS}g") if g.get("class") == "cluster"]
    assert len(clusters) == 3
    text = out.read_text(encoding="utf-8")
    assert "after simplify" in text and "after cse" in text


def test_graph_derived_and_text(capsys):
    assert main(["graph", BAYDIN, "--ad", "rev", "--format", "text"]) == 0
    listing = capsys.readouterr().out
    assert "x1_bar" in listing and "f_bar" in listing
    assert main(["graph", BAYDIN, "--at", "x1=2", "x2=5"]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith("digraph graphc") and "v₅ = 11.6521" in dot


def test_fresh_process_python_m_graphc(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = tmp_path / "baydin.svg"
    r = subprocess.run([sys.executable, "-m", "graphc", "trace", BAYDIN, "--at", "x1=2",
                        "x2=5", "--mode", "rev", "-o", str(out)],
                       capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert r.returncode == 0, r.stderr
    assert len(svg_titles(out)) == 8
    r = subprocess.run([sys.executable, "-m", "graphc", "trace", "--help"],
                       capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0 and "--hide-constants" in r.stdout and "--collapse" in r.stdout


@pytest.mark.parametrize("fmt", ["text", "md", "tex", "html"])
def test_every_table_format(fmt, capsys):
    assert main(["trace", BAYDIN, "--at", "x1=2", "x2=5", "--format", fmt]) == 0
    assert "5.5" in capsys.readouterr().out
