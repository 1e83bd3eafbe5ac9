"""Loops in the interactive trace page (graphc.viz.page; issue 14, part 6).

A ``scan``/``while_loop``/``switch`` node is drawn as one node in the page's diagram;
its body is shown once, folded in a ``<details>`` element captioned with the trip
count, and unfolds on a click (on its summary, on the loop node in the diagram, or on
the button of its row group). The primal, tangent and adjoint tables show each loop
as one row group (``<tbody class="gc-loop-rows">``) headed by the trip count, so the
number of rows does not depend on the trip count.

Structure checks parse the generated HTML; the browser test (Debian's headless
chromium through Selenium, as in tests/viz/test_trace_page.py) clicks to unfold.
Without chromium it skips, except under ``GRAPHC_BROWSER=required`` where it fails.
"""

from __future__ import annotations

import math
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import graphc as gc
from graphc.frontend.tracer import trace
from graphc.viz.page import loop_groups, trace_data

HAVE_DOT = shutil.which("dot") is not None
ROOT = Path(__file__).resolve().parents[2]

PENDULUM = """x = 1.0; v = 0.0
for i in range(N): x, v = x + h*v, v - h*sin(x)
E = 0.5*v^2 + 1 - cos(x)"""


def pendulum_np(h, n):
    x, v = 1.0, 0.0
    for _ in range(n):
        x, v = x + h * v, v - h * math.sin(x)
    return 0.5 * v ** 2 + 1 - math.cos(x)


def pendulum_trace(n: int, mode: str = "rev"):
    return gc.trace(gc.parse(PENDULUM.replace("N", str(n))), {"h": 0.01}, mode=mode)


class _El:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[_El] = []
        self.text: list[str] = []

    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def all_text(self) -> str:
        return "".join(self.text) + "".join(c.all_text() for c in self.children)

    def find(self, tag=None, cls=None, **attrs) -> list[_El]:
        out = []
        for c in self.children:
            if ((tag is None or c.tag == tag) and (cls is None or cls in c.classes())
                    and all(c.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())):
                out.append(c)
            out.extend(c.find(tag, cls, **attrs))
        return out


_VOID = {"meta", "br", "img", "input", "link", "hr", "wbr", "col", "area", "base"}


class _Tree(HTMLParser):
    """A small DOM of the page (HTML and inline SVG), strict about nesting: an end tag
    that does not close the open element fails the test."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = _El("#root", {}, None)
        self.feed(text)
        self.close()
        assert self.cur is self.root, f"unclosed <{self.cur.tag}>"

    def handle_starttag(self, tag, attrs):
        el = _El(tag, dict(attrs), self.cur)
        self.cur.children.append(el)
        if tag not in _VOID:
            self.cur = el

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(_El(tag, dict(attrs), self.cur))

    def handle_endtag(self, tag):
        if tag in _VOID:
            return
        assert self.cur.tag == tag, f"</{tag}> closes <{self.cur.tag}>"
        self.cur = self.cur.parent

    def handle_data(self, data):
        self.cur.text.append(data)


def page_tree(tr, **options) -> _El:
    return _Tree(tr.to_html(**options)).root


def test_loop_rows_form_one_group_whose_size_does_not_grow_with_the_trip_count():
    counts = []
    for n in (10, 5000):
        root = page_tree(pendulum_trace(n))
        rows = root.find("tr", "gc-row")
        groups = root.find("tbody", "gc-loop-rows")
        counts.append(len(rows))
        # one group in the primal table and one in the adjoint table
        assert len(groups) == 2
        for grp in groups:
            head = grp.find("tr", "gc-loop-head")
            assert len(head) == 1
            text = head[0].all_text()
            assert f"{n} steps of a body of 5 operations" in text
            assert grp.attrs["data-gc-loop"] == "v6"
            assert grp.find("button", data_gc_open_loop="v6")
            assert grp.find("tr", "gc-row")       # the rows of the packing, loop, unpacking
        primal = groups[0].find("tr", "gc-row")
        assert any("scan(" in r.all_text() and f"length={n}" in r.all_text() for r in primal)
    assert counts[0] == counts[1]


def test_trace_data_marks_loop_rows_and_shortens_the_loop_derivative():
    tr = pendulum_trace(1000)
    groups = loop_groups(tr)
    assert list(groups) == ["v6"] and "v6" in groups["v6"]
    data = trace_data(tr)
    (rec,) = data["loops"]
    assert (rec["op"], rec["trips"], rec["dom"]) == ("scan", 1000, "v6")
    assert rec["bodies"][0]["operations"] == 5
    assert rec["bodies"][0]["outputs"] == ["x", "v"]     # named after the variables
    vjp = [s for s in data["steps"] if "VJP of" in s["text"]]
    assert len(vjp) == 1 and vjp[0]["loop"] == "v6" and len(vjp[0]["text"]) < 200
    # the shortened row still holds the right numbers: the adjoint of h at the end
    hbar = [s for s in data["steps"] if s["kind"] == "result"][-1]
    fd = (pendulum_np(0.01 + 1e-7, 1000) - pendulum_np(0.01 - 1e-7, 1000)) / 2e-7
    assert hbar["value"] == pytest.approx(fd, rel=1e-6)
    # rows of a group are contiguous runs in table order, and only loop rows have it
    for s in data["steps"]:
        if s["loop"]:
            assert s["node"] in groups["v6"] or s["section"] == "adjoint"
    # forward mode: the tangent table groups the loop too
    fwd = trace_data(pendulum_trace(1000, "fwd"))
    assert any(s["loop"] == "v6" for s in fwd["steps"] if s["section"] == "tangent")
    assert all(len(s["text"]) < 400 for s in fwd["steps"])


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's dot program is not installed")
def test_loop_body_is_folded_below_a_diagram_without_clusters():
    html = pendulum_trace(1000).to_html()
    root = _Tree(html).root
    (diagram,) = root.find("div", "gc-diagram")
    assert not diagram.find("g", "cluster")             # the body is not in the diagram
    assert diagram.find("g", "gc-node", data_gc_dom="v6")   # the loop is one node
    (det,) = root.find("details", "gc-loop")
    assert "open" not in det.attrs                       # folded by default
    assert det.attrs["data-gc-loop"] == "v6"
    summary = det.find("summary")[0].all_text()
    assert "1000 steps" in summary and "v₆ = scan" in summary
    fig = det.find("figure", "gc-loop-body")
    assert len(fig) == 1
    assert "drawn once" in fig[0].find("figcaption")[0].all_text()
    svg_nodes = fig[0].find("g", "node")
    # the body's operations, once: inputs c0, c1, k0, five operations, two outputs
    assert len(svg_nodes) >= 5 + 3
    ir = fig[0].find("pre", "gc-loop-ir")[0].all_text()
    assert ir.count("sin(") == 1 and "graph (c0, c1, k0) -> (x, v)" in ir
    # ids of the body diagram do not clash with the page's
    ids = [a["id"] for _, a in _all_attrs(root) if "id" in a]
    assert len(ids) == len(set(ids))


def _all_attrs(el):
    for c in el.children:
        yield c.tag, c.attrs
        yield from _all_attrs(c)


def test_pages_of_while_loops_switches_and_nested_loops():
    def f(x):
        s = gc.while_loop(lambda c: c < 10.0, lambda c: c * 1.5 + x, x, max_steps=20)
        return gc.cond(s > 12.0, lambda a: a * 2.0, lambda a: gc.sin(a), s)

    g = trace(f)
    data = trace_data(gc.trace(g, {"x": 0.7}, mode="rev"))
    ops = [r["op"] for r in data["loops"]]
    assert ops == ["while_loop", "switch"]
    assert data["loops"][0]["trips"] == 20
    assert len(data["loops"][0]["bodies"]) == 2   # the body and the condition
    root = page_tree(gc.trace(g, {"x": 0.7}, mode="rev"))
    heads = [h.all_text() for h in root.find("tr", "gc-loop-head")]
    assert any("at most 20 steps" in h for h in heads)
    assert any("one of 2 branches" in h for h in heads)
    if HAVE_DOT:
        assert len(root.find("details", "gc-loop")) == 2
    # a parsed program with nested loops: one outer group, the inner loop inside the
    # folded body
    nested = gc.parse("s = 0.0\nfor i in range(4):\n    for j in range(3):\n"
                      "        s = s + x*j\ny = s")
    data = trace_data(gc.trace(nested, {"x": 0.5}, mode="rev"))
    assert len(data["loops"]) == 1
    assert data["steps"][-1]["value"] == pytest.approx(4 * 3)
    if HAVE_DOT:
        root = page_tree(gc.trace(nested, {"x": 0.5}, mode="rev"))
        (det,) = root.find("details", "gc-loop")
        assert det.find("g", "cluster")     # the inner loop drawn in the outer body


def test_pages_without_loops_have_no_loop_markup():
    tr = gc.trace(gc.parse("ln(x1) + x1*x2 - sin(x2)"), {"x1": 2.0, "x2": 5.0}, mode="rev")
    html = tr.to_html()
    data = trace_data(tr)
    assert data["loops"] == [] and all(s["loop"] is None for s in data["steps"])
    root = _Tree(html).root
    assert not root.find("tbody", "gc-loop-rows") and not root.find("details", "gc-loop")
    assert not root.find("tr", "gc-loop-head")


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
    if not HAVE_DOT:
        why = "Graphviz's dot program is not installed"
    if why:
        if required:
            pytest.fail(f"GRAPHC_BROWSER=required but {why}")
        pytest.skip(why)
    return chromium, driver


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


def test_browser_unfolds_the_loop_body_by_clicks(browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    path = tmp_path / "loop.html"
    pendulum_trace(5000).to_html(path)
    browser.get(path.as_uri())
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    det = browser.find_element(By.CSS_SELECTOR, "details.gc-loop")
    body = det.find_element(By.CSS_SELECTOR, "figure.gc-loop-body")
    assert det.get_attribute("open") is None and not body.is_displayed()
    summary = det.find_element(By.TAG_NAME, "summary")
    assert "5000 steps" in summary.text
    summary.click()                                   # unfold
    assert browser.execute_script("return arguments[0].open", det) is True
    assert body.is_displayed()
    svg = body.find_element(By.CSS_SELECTOR, "svg.gc-body-svg")
    assert svg.is_displayed() and svg.size["width"] > 50
    assert "sin(" in body.find_element(By.CSS_SELECTOR, "pre.gc-loop-ir").text
    browser.execute_script("arguments[0].scrollIntoView()", det)
    browser.save_screenshot(str(artifacts() / "loop_body_open.png"))
    summary.click()                                   # fold again
    assert browser.execute_script("return arguments[0].open", det) is False
    assert not body.is_displayed()
    # a click on the loop node in the diagram unfolds it and steps to the loop's row
    node = browser.find_element(By.CSS_SELECTOR, '.gc-diagram g.gc-node[data-gc-dom="v6"]')
    ActionChains(browser).move_to_element(node).click().perform()
    assert browser.execute_script("return arguments[0].open", det) is True
    cur = browser.find_element(By.CSS_SELECTOR, 'tr.gc-row[aria-current="step"]')
    assert "scan(" in cur.text and "length=5000" in cur.text
    group = cur.find_element(By.XPATH, "..")
    assert "gc-loop-cur" in group.get_attribute("class")
    # the row group's button unfolds it too
    browser.execute_script("arguments[0].open = false", det)
    btn = browser.find_elements(By.CSS_SELECTOR, 'button[data-gc-open-loop="v6"]')[-1]
    browser.execute_script("arguments[0].scrollIntoView()", btn)
    btn.click()
    assert browser.execute_script("return arguments[0].open", det) is True
    # stepping to the end shows the adjoint of h, which equals finite differences
    ActionChains(browser).send_keys(Keys.END).perform()
    last = browser.find_element(By.CSS_SELECTOR, 'tr.gc-row[aria-current="step"]')
    shown = float(last.find_elements(By.CSS_SELECTOR, "td.gc-num")[0].text
                  .replace("\u2212", "-"))
    fd = (pendulum_np(0.01 + 1e-7, 5000) - pendulum_np(0.01 - 1e-7, 5000)) / 2e-7
    assert shown == pytest.approx(fd, rel=1e-4)
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.gc-row")
    assert len(rows) < 40                               # not one row per step
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    browser.save_screenshot(str(artifacts() / "loop_end.png"))
    assert np.isfinite(shown)
