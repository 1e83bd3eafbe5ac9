"""The example notebook runs top to bottom (executed with nbclient, as Jupyter would)."""

from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "graphc_tour.ipynb"


def test_example_notebook_runs_top_to_bottom():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent.parent)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "df/dx1 = 5.500000" in text
    rich = [o for o in outputs if o.get("output_type") == "execute_result"]
    mimes = {m for o in rich for m in o.get("data", {})}
    assert "text/latex" in mimes      # the graph's _repr_latex_
    assert "image/svg+xml" in mimes   # diagrams of the graph and of the trace
