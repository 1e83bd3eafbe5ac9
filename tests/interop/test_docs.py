"""The documentation's examples run and print what the pages say (doctest over the
Markdown pages), and the build hook's generated sections cover the whole CLI and every
primitive."""

import doctest
import importlib.util
from pathlib import Path

import pytest

import graphc as gc
from graphc.ir import PRIMITIVES

DOCS = Path(__file__).resolve().parents[2] / "docs"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("page, needs", [
    ("index.md", []),
    ("conventions.md", []),
    ("tutorial.md", ["sympy", "scipy", "dask"]),
])
def test_page_examples_run(page, needs):
    for mod in needs:
        pytest.importorskip(mod)
    result = doctest.testfile(str(DOCS / page), module_relative=False, optionflags=FLAGS,
                              verbose=False, report=True)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} example(s) of docs/{page} failed (see output)"


def _hook():
    spec = importlib.util.spec_from_file_location("graphc_docs_hook",
                                                  DOCS / "hooks" / "graphc_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_hook_cli_reference_and_primitive_table():
    hook = _hook()
    ref = hook._cli_reference()
    from graphc.cli import build_parser
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in sub.choices:
        assert f"## graphc {name}\n" in ref
    table = hook._primitive_table()
    for name, prim in PRIMITIVES.items():
        if prim.arity:
            assert f"| `{name}` |" in table
    assert "`∂/∂x = cos(x)`" in table
    page = hook.on_page_markdown("a\n<!-- graphc-run eval 'x*y' --at x=2 y=3 -->\nb",
                                 None, None, None)
    assert "$ graphc eval 'x*y' --at x=2 y=3" in page and "6" in page
    with pytest.raises(RuntimeError, match="exited with 2"):
        hook.on_page_markdown("<!-- graphc-run eval 'x*' -->", None, None, None)


def test_docs_nav_lists_every_page():
    text = (DOCS.parent / "mkdocs.yml").read_text()
    for page in sorted(p.name for p in DOCS.glob("*.md")):
        assert f": {page}" in text, f"docs/{page} is not in mkdocs.yml's nav"
    assert gc.__version__
