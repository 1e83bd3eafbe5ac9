"""The interactive trace page (graphc.viz.page; issue 17, parts 1 and 2).

Two kinds of tests:

* without a browser: the page of every elementwise primitive (from the registry, both
  dtypes, both AD modes) parses with ``html.parser``, loads nothing from the network,
  holds the trace as JSON and the diagram as SVG with one focusable node per trace
  variable, and its JSON's derivatives equal central finite differences;
* in a real browser (Debian's headless ``chromium`` driven by Selenium through
  ``/usr/bin/chromedriver``): no console errors, stepping with the keyboard through the
  reverse sweep of Baydin et al.'s example shows the adjoints x̄₁ = 1/x₁ + x₂ = 5.5 and
  x̄₂ = x₁ − cos x₂ = 1.716338 (computed here with ``math``), focus order and ARIA labels,
  text contrast, the lecture examples' derivatives against NumPy and finite
  differences, and the NaN origin marker. A screenshot of each page goes to
  ``$GRAPHC_ARTIFACTS_DIR`` (default ``build/artifacts/``). Without chromium these
  skip, except under CI (``GRAPHC_BROWSER=required``, set by ``.ci/run``), where they
  fail.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import graphc as gc
from graphc.ir import PRIMITIVES, apply, ops
from graphc.viz.page import trace_data

sys.path.insert(0, str(Path(__file__).parent))
from viz_golden import (  # noqa: E402
    BAYDIN,
    BAYDIN_AT,
    DEISENROTH,
    DEISENROTH_AT,
    REGRESSION,
    REGRESSION_AT,
)

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["x", "y", "z"]
MINUS = "\u2212"

MLP = "z = W1 @ x + b1; h = tanh(z); y = W2 @ h + b2; l = sum((y - t)^2)"
MLP_SHAPES = {"W1": ("H", "D"), "x": ("D", 1), "b1": ("H", 1), "W2": (1, "H"),
              "b2": (1, 1), "t": (1, 1)}
MLP_AT = {"W1": np.array([[0.5, -0.3], [0.8, 0.2], [-0.6, 0.4]]),
          "x": np.array([[1.0], [2.0]]), "b1": np.array([[0.3], [-0.2], [0.1]]),
          "W2": np.array([[1.0, -0.5, 0.7]]), "b2": np.array([[0.2]]),
          "t": np.array([[1.0]])}


# -- the page as HTML ---------------------------------------------------------------

class _Page(HTMLParser):
    """Collects what the checks need: every start tag with its attributes, the text of
    each <script>, and the attributes that could load something."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self.styles: list[str] = []
        self._in: tuple[str, dict] | None = None
        self._buf: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag in ("script", "style"):
            self._in, self._buf = (tag, a), []

    def handle_data(self, data):
        if self._in is not None:
            self._buf.append(data)

    def handle_endtag(self, tag):
        if self._in is not None and tag == self._in[0]:
            text = "".join(self._buf)
            if tag == "script":
                self.scripts.append((self._in[1], text))
            else:
                self.styles.append(text)
            self._in = None


_LOADING_ATTRS = ("src", "href", "xlink:href", "action", "data", "poster", "srcset")


def check_page(text: str, trace) -> dict:
    """Parse a page and check it is self-contained and complete; return its JSON."""
    p = _Page()
    p.feed(text)
    p.close()
    for tag, attrs in p.tags:
        assert tag not in ("link", "iframe", "img", "object", "embed", "base"), tag
        for k in _LOADING_ATTRS:
            assert k not in attrs or attrs[k].startswith(("#", "data:")), (tag, k, attrs[k])
    for css in p.styles:
        assert "url(" not in css and "@import" not in css
    assert not re.search(r"\b(fetch|XMLHttpRequest|import\s*\(|WebSocket)\b",
                         "".join(s for _, s in p.scripts))
    data_scripts = [s for a, s in p.scripts if a.get("type") == "application/json"]
    code = [s for a, s in p.scripts if a.get("type") != "application/json"]
    assert len(data_scripts) == 1 and len(code) == 1
    assert all("src" not in a for a, _ in p.scripts)
    data = json.loads(data_scripts[0])       # strict JSON: no NaN/Infinity literals
    assert [t for t, _ in p.tags].count("svg") >= 1
    nodes = [a for t, a in p.tags if t == "g" and "gc-node" in a.get("class", "")]
    ids = {trace.id_of(n) for n in trace.numbers}
    dom = [a["data-gc-dom"] for a in nodes]
    assert {n["id"] for n in data["nodes"]} == ids
    assert {n["dom"] for n in data["nodes"]} <= set(dom)
    assert all(a.get("tabindex") == "0" and a.get("aria-label") for a in nodes)
    rows = [a for t, a in p.tags if t == "tr" and "gc-row" in a.get("class", "")]
    assert len(rows) == len(data["steps"]) == len(trace.rows())
    assert all(a.get("tabindex") == "0" and a.get("aria-label") for a in rows)
    edges = [a for t, a in p.tags if t == "g" and "gc-edge" in a.get("class", "")]
    for s in data["steps"]:       # every edge a step highlights is in the diagram
        for src, dst in s["edges"]:
            assert any(e["data-gc-src"] == src and e["data-gc-dst"] == dst for e in edges)
    return data


def _json_num(x):
    return float(x)      # also the strings "nan", "inf", "-inf" the page uses


def _prims():
    return [p for p in PRIMITIVES.values()
            if p.elementwise and p.arity >= 1 and p.differentiable and p.domain]


def _fd(fun, point: dict, name: str, dtype) -> float:
    """Central difference of a scalar function in float64 (the step suits float32 too)."""
    h = 1e-6 if dtype == "float64" else 1e-3
    hi = dict(point, **{name: point[name] + h})
    lo = dict(point, **{name: point[name] - h})
    return (fun(hi) - fun(lo)) / (2 * h)


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("prim", _prims(), ids=lambda p: p.name)
def test_page_of_every_elementwise_primitive(prim, dtype, mode):
    """The page of y = prim(x, …) at the middle of the primitive's test domain: a
    self-contained document whose derivatives equal finite differences."""
    names = NAMES[:prim.arity]
    args = [ops.variable(n, dtype) for n in names]
    g = gc.Graph(args, [apply(prim, *args)])
    # a point inside the domain, away from kinks at 0 (relu, abs, max...)
    point = {n: lo + (hi - lo) * (0.37 + 0.11 * k)
             for k, (n, (lo, hi)) in enumerate(zip(names, prim.domain))}
    seed = {names[0]: 1.0} if mode == "fwd" else None
    t = gc.trace(g, at=point, mode=mode, seed=seed)
    data = check_page(t.to_html(), t)
    assert data["mode"] == mode
    g64 = gc.Graph([ops.variable(n) for n in names],
                   [apply(prim, *[ops.variable(n) for n in names])])

    def f(p):
        return float(gc.evaluate(g64, **p))
    tol = 1e-5 if dtype == "float64" else 2e-3
    if mode == "rev":
        results = {s["label"]: s["value"] for s in data["steps"]
                   if s["section"] == "adjoint" and s["kind"] == "result"}
        for n in names:
            want = _fd(f, point, n, dtype)
            assert _json_num(results[n]) == pytest.approx(want, rel=tol, abs=tol), n
    else:
        out = [s for s in data["steps"] if s["section"] == "tangent"
               and s["kind"] == "output"]
        assert len(out) == 1
        want = _fd(f, point, names[0], dtype)
        assert _json_num(out[0]["value"]) == pytest.approx(want, rel=tol, abs=tol)


@pytest.mark.parametrize("mode", ["primal", "fwd", "rev"])
def test_baydin_page_fragment_and_file(mode, tmp_path):
    seed = {"x1": 1} if mode == "fwd" else None
    t = gc.trace(BAYDIN, at=BAYDIN_AT, mode=mode, seed=seed)
    out = tmp_path / "t.html"
    page = t.to_html(out)
    assert out.read_text(encoding="utf-8") == page
    assert page.startswith("<!DOCTYPE html>") and "default-src 'none'" in page
    data = check_page(page, t)
    assert data["sections"] == t.sections
    frag = t._repr_html_()
    assert frag.startswith('<div class="gc-page"') and "<html" not in frag
    check_page(frag, t)
    if mode == "rev":
        nums = [s["numbers"] for s in data["steps"] if s["numbers"]]
        # v̄₀ = v̄₀ + v̄₂ ∂v₂/∂v₀ with its numbers: −0.283662 + 1 × 2
        assert f"{MINUS}0.283662 + 1 × 2 = 1.71634" in nums


def test_nan_origin_in_the_page():
    t = gc.trace("sqrt(x) * log(y) + x", at={"x": 0, "y": 2}, mode="rev")
    data = check_page(t.to_html(), t)
    p = data["problems"][0]
    assert p["kind"] == "inf" and p["dom"] == "vm1" and p["edge"] == ["vm1", "v1"]
    assert data["steps"][p["step"]]["flag"].startswith("⚠ first inf")


def test_page_without_diagram_when_too_large():
    t = gc.trace(BAYDIN, at=BAYDIN_AT)
    page = t.to_html(max_nodes=2)
    assert "No diagram" in page and "<svg" not in page.split("gc-data")[0]


def test_cli_format_html(tmp_path):
    from graphc.cli import main
    out = tmp_path / "trace.html"
    assert main(["trace", BAYDIN, "--at", "x1=2", "x2=5", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and 'class="gc-data"' in text
    out2 = tmp_path / "t2.html"
    assert main(["trace", BAYDIN, "--at", "x1=2", "x2=5", "--format", "html",
                 "-o", str(out2)]) == 0
    assert out2.read_text(encoding="utf-8") == text


def test_trace_data_is_strict_json_with_heat_maps():
    g = gc.parse(MLP, **MLP_SHAPES)
    t = gc.trace(g, at=MLP_AT, digits=4)
    data = trace_data(t)
    json.dumps(data, allow_nan=False)
    w1 = next(n for n in data["nodes"] if n["label"] == "W1")
    assert w1["shape"] == [3, 2] and w1["heat"]["shape"] == [3, 2]
    assert np.allclose(w1["heat"]["cells"], MLP_AT["W1"])
    big = gc.trace(gc.parse("l = sum(tanh(A))", A=(100, 7)),
                   at={"A": np.linspace(-1, 1, 700).reshape(100, 7)})
    a = next(n for n in trace_data(big)["nodes"] if n["label"] == "A")
    assert a["heat"]["sampled"] and len(a["heat"]["cells"]) <= 24


# -- in a real browser --------------------------------------------------------------

def _browser_or_skip():
    required = os.environ.get("GRAPHC_BROWSER", "") == "required"
    chromium = shutil.which("chromium") or ("/usr/bin/chromium"
                                            if os.path.exists("/usr/bin/chromium") else None)
    driver = shutil.which("chromedriver") or ("/usr/bin/chromedriver"
                                              if os.path.exists("/usr/bin/chromedriver")
                                              else None)
    why = None
    try:
        import selenium  # noqa: F401
    except ImportError:
        why = "the selenium package is not installed (pip install '.[test]')"
    if chromium is None or driver is None:
        why = ("Debian's chromium and chromium-driver are not installed "
               "(apt-get install chromium chromium-driver)")
    if why:
        if required:
            pytest.fail(f"GRAPHC_BROWSER=required but {why}")
        pytest.skip(why)
    return chromium, driver


@pytest.mark.parametrize("required", [False, True])
def test_missing_browser_skips_locally_and_fails_under_ci(monkeypatch, required):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(os.path, "exists", lambda path: False)
    monkeypatch.setenv("GRAPHC_BROWSER", "required" if required else "")
    with pytest.raises(pytest.fail.Exception if required else pytest.skip.Exception,
                       match="chromium"):
        _browser_or_skip()


@pytest.fixture(scope="module")
def browser():
    chromium, driver = _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
              "--disable-gpu", "--window-size=1400,1000"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(driver), options=opts)
    yield d
    d.quit()


def artifacts() -> Path:
    d = Path(os.environ.get("GRAPHC_ARTIFACTS_DIR") or ROOT / "build" / "artifacts")
    d.mkdir(parents=True, exist_ok=True)
    return d


def open_page(browser, trace, name: str, tmp_path, **options):
    path = tmp_path / f"{name}.html"
    trace.to_html(path, **options)
    browser.get(path.as_uri())
    browser.get_log("browser")        # (drains; load errors are checked by the caller)
    return path


def severe(browser) -> list:
    return [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def key(browser, k, times=1):
    from selenium.webdriver.common.action_chains import ActionChains
    for _ in range(times):
        ActionChains(browser).send_keys(k).perform()


def cell(browser, what: str, node: str):
    from selenium.webdriver.common.by import By
    return browser.find_element(By.CSS_SELECTOR,
                                f'td[data-gc-cell="{what}"][data-gc-node="{node}"]')


def parse_shown(text: str) -> np.ndarray:
    """A displayed value (``5.5``, ``−0.28``, ``[[1, 2], [3, 4]]``, ``[1, 2]ᵀ``)."""
    t = text.replace(MINUS, "-").strip()
    col = t.endswith("ᵀ")
    a = np.array(json.loads(t.rstrip("ᵀ")), dtype=float)
    return a.reshape(-1, 1) if col else a


def test_browser_baydin_reverse_sweep(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    x1, x2 = BAYDIN_AT["x1"], BAYDIN_AT["x2"]
    t = gc.trace(BAYDIN, at=BAYDIN_AT, mode="rev")
    open_page(browser, t, "baydin", tmp_path)
    # the page loaded and its script ran without console errors
    assert browser.execute_script(
        "return document.querySelector('.gc-page').getAttribute('data-gc-ready')") == "1"
    pos = browser.find_element(By.CSS_SELECTOR, ".gc-pos")
    n = len(t.rows())
    assert pos.text == f"Step 0 of {n}"
    assert cell(browser, "bar", "v-1").text == "·"
    rows = t.rows()
    for k in range(1, n + 1):
        key(browser, Keys.ARROW_RIGHT)
        assert pos.text == f"Step {k} of {n}"
        r = rows[k - 1]
        cur = browser.find_elements(By.CSS_SELECTOR, "tr.gc-row.gc-cur")
        assert len(cur) == 1 and cur[0].get_attribute("data-gc-row") == str(k - 1)
        line = browser.find_element(By.CSS_SELECTOR, ".gc-current .gc-line").text
        assert line == r["text"]
        if r["kind"] in ("op", "step", "input", "seed"):
            g = browser.find_elements(By.CSS_SELECTOR, "g.gc-node.gc-cur")
            assert [e.get_attribute("data-gc-dom") for e in g] == [
                "vm" + r["node"][2:] if r["node"].startswith("v-") else r["node"]]
        if r["kind"] == "step":
            assert browser.find_elements(By.CSS_SELECTOR, "g.gc-edge.gc-active")
            if r["chain"][0].startswith(r["lhs"] + " + "):     # an accumulation
                acc = browser.find_elements(By.CSS_SELECTOR, ".gc-current .gc-acc")
                assert any("→" in a.text for a in acc)
        if k == n - 3:
            # second-to-last accumulation: v̄₀ = v̄₀ + v̄₂ ∂v₂/∂v₀, with numbers
            acc = browser.find_element(By.CSS_SELECTOR, ".gc-current .gc-acc").text
            assert f"{MINUS}0.283662 + 1 × 2" in acc
    assert severe(browser) == []
    want = {"v-1": 1 / x1 + x2, "v0": x1 - math.cos(x2)}     # ∂f/∂x1, ∂f/∂x2 by hand
    for node, w in want.items():
        c = cell(browser, "bar", node)
        assert float(c.text.replace(MINUS, "-")) == pytest.approx(w, rel=5e-6)
        assert float(c.get_attribute("data-value")) == pytest.approx(w, rel=1e-12)
    assert round(want["v0"], 6) == 1.716338
    browser.save_screenshot(str(artifacts() / "baydin_rev_end.png"))
    # ← steps back (the last accumulation of x̄₁ undone), Home and End jump
    key(browser, Keys.ARROW_LEFT, 3)
    assert float(cell(browser, "bar", "v-1").text) == pytest.approx(x2)     # only v̄₂ v₀
    key(browser, Keys.HOME)
    assert pos.text == f"Step 0 of {n}" and cell(browser, "bar", "v0").text == "·"
    key(browser, Keys.END)
    assert pos.text == f"Step {n} of {n}"
    assert severe(browser) == []


def test_browser_focus_order_aria_and_details(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    t = gc.trace(BAYDIN, at=BAYDIN_AT, mode="rev")
    open_page(browser, t, "baydin_focus", tmp_path)
    browser.execute_script("document.activeElement && document.activeElement.blur()")
    seen = []
    total = 4 + len(t.numbers) + len(t.graph.outputs) + len(t.rows())
    for _ in range(total):
        key(browser, Keys.TAB)
        seen.append(browser.execute_script(
            "var e = document.activeElement; return [e.tagName.toLowerCase(), "
            "e.getAttribute('data-gc-act') || e.getAttribute('data-gc-dom') || "
            "e.getAttribute('data-gc-row'), e.getAttribute('aria-label') || ''];"))
    assert [s[0] for s in seen[:4]] == ["button"] * 4
    assert [s[1] for s in seen[:4]] == ["first", "prev", "next", "last"]
    order = sorted(t.numbers, key=lambda n: t.numbers[n])
    doms = [("vm" + str(-t.numbers[n])) if t.numbers[n] < 0 else f"v{t.numbers[n]}"
            for n in order] + [f"y{j}" for j in range(len(t.graph.outputs))]
    k = len(doms)
    assert [s[1] for s in seen[4:4 + k]] == doms            # nodes in trace order
    assert [s[1] for s in seen[4 + k:]] == [str(i) for i in range(len(t.rows()))]
    assert all(s[2] for s in seen)                           # every stop is labelled
    # focus on node v₂ shows its expression, value and local partials
    node = browser.find_element(By.CSS_SELECTOR, 'g.gc-node[data-gc-dom="v2"]')
    browser.execute_script("arguments[0].focus()", node)
    details = browser.find_element(By.CSS_SELECTOR, ".gc-details").text
    assert "v₋₁ × v₀" in details and "∂v₂/∂v₋₁" in details and "∂v₂/∂v₀" in details
    assert "10" in details
    assert "adjoint (step 0)" not in details and "adjoint (final)" in details
    key(browser, Keys.END)
    browser.execute_script("arguments[0].focus()", node)
    details = browser.find_element(By.CSS_SELECTOR, ".gc-details").text
    assert f"adjoint (step {len(t.rows())})" in details
    # Enter on a row jumps there
    row = browser.find_element(By.CSS_SELECTOR, 'tr.gc-row[data-gc-row="3"]')
    browser.execute_script("arguments[0].focus()", row)
    key(browser, Keys.ENTER)
    assert browser.find_element(By.CSS_SELECTOR, ".gc-pos").text.startswith("Step 4 ")
    assert severe(browser) == []


def _luminance(rgb):
    def ch(c):
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = rgb[:3]
    return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b)


def test_browser_text_contrast(browser, tmp_path):
    """WCAG 2 contrast of the highlighted and flagged texts is at least 4.5:1."""
    from selenium.webdriver.common.keys import Keys
    t = gc.trace("sqrt(x) * log(y) + x", at={"x": 0, "y": 2}, mode="rev")
    open_page(browser, t, "nan_contrast", tmp_path)
    key(browser, Keys.END)
    key(browser, Keys.ARROW_LEFT, 2)      # the last accumulation (results still to come)
    pairs = browser.execute_script("""
      function rgb(s) { var m = s.match(/[\\d.]+/g).map(Number); return m; }
      function bg(e) { while (e) { var c = getComputedStyle(e).backgroundColor;
        var m = rgb(c); if (m.length < 4 || m[3] > 0) return m; e = e.parentElement; }
        return [255, 255, 255]; }
      var sel = ['.gc-current .gc-line', 'tr.gc-row.gc-cur th', 'td.gc-changed',
                 'tr.gc-flagged td', '.gc-flag', 'button', '.gc-banner', 'tr.gc-todo td',
                 '.gc-help'];
      return sel.map(function (s) { var e = document.querySelector(s);
        return e ? [s, rgb(getComputedStyle(e).color), bg(e)] : [s, null, null]; });""")
    for sel, fg, bgc in pairs:
        assert fg is not None, f"no element {sel}"
        a, b = _luminance(fg), _luminance(bgc)
        ratio = (max(a, b) + 0.05) / (min(a, b) + 0.05)
        assert ratio >= 4.5, (sel, fg, bgc, ratio)
    assert severe(browser) == []


def _regression_fd(name):
    def loss(p):   # the example written with NumPy
        h = np.maximum(p["w1"] * p["x"] + p["b1"], 0.0)
        return (p["w2"] * h + p["b2"] - p["y"]) ** 2
    return _fd(loss, {k: float(v) for k, v in REGRESSION_AT.items()}, name, "float64")


def _deisenroth_fd(name):
    def f(p):
        a = p["x"] ** 2
        c = a + np.exp(a)
        return np.sqrt(c) + np.cos(c)
    return _fd(f, {"x": 2.0}, name, "float64")


def _mlp_numpy():
    """Forward and backward pass of the MLP written with NumPy (Goodfellow et al.,
    Deep Learning, §6.5)."""
    p = MLP_AT
    z = p["W1"] @ p["x"] + p["b1"]
    h = np.tanh(z)
    y = p["W2"] @ h + p["b2"]
    dy = 2 * (y - p["t"])
    dW2 = dy @ h.T
    dh = p["W2"].T @ dy
    dz = dh * (1 - h ** 2)
    return {"W1": dz @ p["x"].T, "x": p["W1"].T @ dz, "b1": dz, "W2": dW2, "b2": dy,
            "t": -dy}


LECTURES = {
    "deisenroth": (lambda: gc.trace(DEISENROTH, at=DEISENROTH_AT),
                   lambda: {"x": _deisenroth_fd("x")}, 5e-5, {"hide_constants": True}),
    "regression": (lambda: gc.trace(REGRESSION, at=REGRESSION_AT),
                   lambda: {k: _regression_fd(k) for k in REGRESSION_AT}, 1e-5, {}),
    "mlp": (lambda: gc.trace(gc.parse(MLP, **MLP_SHAPES), at=MLP_AT, digits=4),
            _mlp_numpy, 1e-3, {"rankdir": "TB"}),
}


@pytest.mark.parametrize("name", sorted(LECTURES))
def test_browser_lecture_examples(browser, name, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    make, truth, tol, opts = LECTURES[name]
    t = make()
    open_page(browser, t, name, tmp_path, **opts)
    key(browser, Keys.END)
    want = truth()
    for x in t.graph.inputs:
        shown = parse_shown(cell(browser, "bar", t.id_of(x)).text)
        w = np.asarray(want[x.name], dtype=float)
        assert np.allclose(shown.reshape(w.shape), w, rtol=tol, atol=tol), x.name
    if name == "mlp":     # an array node: shape and heat maps on focus
        node = browser.find_element(By.CSS_SELECTOR, 'g.gc-node[data-gc-dom="vm5"]')
        browser.execute_script("arguments[0].focus()", node)
        details = browser.find_element(By.CSS_SELECTOR, ".gc-details")
        assert "(3, 2)" in details.text
        heat = details.find_elements(By.CSS_SELECTOR, "figure.gc-heat svg rect")
        assert len(heat) == 2 * 6          # value and adjoint, 3×2 each
    browser.save_screenshot(str(artifacts() / f"{name}_end.png"))
    assert severe(browser) == []


def test_browser_forward_mode_and_nan_origin(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    x1, x2 = BAYDIN_AT["x1"], BAYDIN_AT["x2"]
    t = gc.trace(BAYDIN, at=BAYDIN_AT, mode="fwd", seed={"x1": 1})
    open_page(browser, t, "baydin_fwd", tmp_path)
    key(browser, Keys.END)
    out = t.graph.outputs[0]
    shown = float(cell(browser, "dot", t.id_of(out)).get_attribute("data-value"))
    assert shown == pytest.approx(1 / x1 + x2, rel=1e-12)
    assert severe(browser) == []
    t = gc.trace("sqrt(x) * log(y) + x", at={"x": 0, "y": 2}, mode="rev")
    open_page(browser, t, "nan_origin", tmp_path)
    origin = browser.find_elements(By.CSS_SELECTOR, "g.gc-node.gc-problem")
    assert [e.get_attribute("data-gc-dom") for e in origin] == ["vm1"]
    assert browser.find_elements(By.CSS_SELECTOR, "g.gc-edge.gc-problem")
    browser.find_element(By.CSS_SELECTOR, "button[data-gc-goto]").click()
    cur = browser.find_element(By.CSS_SELECTOR, "tr.gc-row.gc-cur")
    assert "gc-flagged" in cur.get_attribute("class")
    assert "first inf" in browser.find_element(By.CSS_SELECTOR, ".gc-current").text
    browser.save_screenshot(str(artifacts() / "nan_origin.png"))
    assert severe(browser) == []


def _docs_pages():
    """The ``graphc-page`` markers of docs/traces.md: (file name, graphc arguments)."""
    import shlex
    text = (ROOT / "docs" / "traces.md").read_text(encoding="utf-8")
    out = []
    for m in re.finditer(r"<!--\s*graphc-page(.*?)-->", text, re.S):
        name, *args = shlex.split(m.group(1))
        out.append((name, args))
    return out


def test_docs_pages_open_without_errors(browser, tmp_path, capsys):
    """Every page the docs site links (built by docs/hooks/graphc_docs.py from the same
    markers) opens, steps to the end, and shows the trace's adjoints or tangents."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from graphc.cli import main
    pages = _docs_pages()
    assert {"trace-pages/baydin.html", "trace-pages/deisenroth.html",
            "trace-pages/regression.html", "trace-pages/mlp.html"} <= {n for n, _ in pages}
    for name, args in pages:
        capsys.readouterr()
        assert main(args + ["--format", "html"]) == 0
        page = capsys.readouterr().out
        path = tmp_path / Path(name).name
        path.write_text(page, encoding="utf-8")
        browser.get(path.as_uri())
        key(browser, Keys.END)
        data = json.loads(browser.execute_script(
            "return document.querySelector('script.gc-data').textContent"))
        what = {"rev": "bar", "fwd": "dot", "primal": "v"}[data["mode"]]
        final = {s["node"]: s["value_text"] for s in data["steps"] if s["sets"] == what}
        for node, text in final.items():
            assert cell(browser, what, node).text == text, (name, node)
        assert browser.find_element(By.CSS_SELECTOR, ".gc-pos").text.endswith(
            f"of {len(data['steps'])}")
        assert severe(browser) == [], name
