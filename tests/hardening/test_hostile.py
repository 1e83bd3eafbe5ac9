"""Hostile strings are data: every one is a ParseError, and nothing is ever executed."""

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphc as gc

SENTINEL_CODE = "open('{p}', 'w').write('x')"

HOSTILE = [
    "__import__('os').system('id')",
    "__import__",
    "x.__class__.__bases__",
    "().__class__",
    "x.real",
    "globals()['x']",
    "__builtins__",
    "[c for c in x]",
    "{x: 1}",
    "lambda: 1",
    "(lambda x: x)(1)",
    "f'{x}'",
    "'abc'",
    "(y := 2)",
    "sin(*x)",
    "sin(**x)",
    "max(*[x, y])",
    "sin(x, alpha=1)",          # keyword trick on an op without parameters
    "leaky_relu(x, __class__=1)",
    "leaky_relu(x, alpha=__import__)",
    "eval", "exec", "open", "print", "compile", "getattr", "breakpoint",
    "eval('1')", "exec('1')", "open('/etc/passwd')",
    "x if y else z",
    "import os",
    "os.system",
    "x; import os",
    "\u0455in(x)",              # Cyrillic dze look-alike of 's'
    "x\u2212y",                 # unicode minus sign
    "\uff58",                   # fullwidth x
    "x\x00y",
    "x\x00",
    "\\x41",
    "x @ y",                    # matrix product of scalars
    "x[0]",
    "`x`",
    "x $ y",
    "x ! y",
]


@pytest.mark.parametrize("src", HOSTILE)
def test_rejected_with_a_clear_parse_error(src):
    with pytest.raises(gc.ParseError) as info:
        gc.parse(src)
    msg = str(info.value)
    assert "expected" in msg or "not allowed" in msg or "unknown" in msg, msg
    assert info.value.column is not None


def test_nothing_is_executed(tmp_path):
    sentinel = tmp_path / "executed"
    attempts = [SENTINEL_CODE.format(p=sentinel),
                f"__import__('pathlib').Path('{sentinel}').touch()",
                f"exec(\"open('{sentinel}','w')\")"]
    for src in attempts:
        for call in (gc.parse, lambda s: gc.parse(s, inputs=["x"])):
            with pytest.raises(gc.ParseError):
                call(src)
    # also through the CLI
    from graphc.cli import main
    assert main(["eval", attempts[0], "--at", "x=1"]) == 2
    assert not sentinel.exists()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash(data):
    text = data.decode("latin-1")
    try:
        gc.parse(text)
    except gc.ParseError:
        pass


TOKENS = ["x", "y", "1", "2.5e3", "+", "-", "*", "/", "^", "**", "(", ")", ",", "=",
          ";", "\n", "sin", "max", "where", "leaky_relu", "alpha", "<", ">=", "pi", "e",
          " ", "==", "!="]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_token_soup_never_crashes(tokens):
    src = "".join(tokens)
    try:
        g = gc.parse(src)
    except gc.ParseError:
        return
    # whatever parses also evaluates (possibly to NaN) without raising
    gc.evaluate(g, **{n: 0.5 for n in g.input_names})


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.printable, max_size=60))
def test_printable_text_never_crashes(src):
    try:
        gc.parse(src)
    except gc.ParseError:
        pass
