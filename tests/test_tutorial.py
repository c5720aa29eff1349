"""docs/tutorial.ipynb runs from top to bottom in a fresh kernel (offline: it uses the
embedded digits), as a learner would run it in Jupyter."""
import os

import pytest

NOTEBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "docs", "tutorial.ipynb")


def test_tutorial_notebook_executes(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="nbformat/nbclient are the 'test' extra: pip install -e '.[test]'")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is the 'test' extra: pip install -e '.[test]'")
    pytest.importorskip("ipykernel", reason="ipykernel is the 'test' extra: pip install -e '.[test]'")
    pytest.importorskip("matplotlib", reason="the tutorial draws with matplotlib (extra 'examples')")
    monkeypatch.setenv("TINYGRAD_CU_OFFLINE", "1")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "|w.grad| = 0.0" in text and "LeNet-5: test accuracy" in text, text
    lenet = float(text.split("LeNet-5: test accuracy ")[1].split("%")[0])
    assert lenet > 80, text                     # it learned: a random guess is 10%
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(images) >= 6                     # the pictures are inline
    assert os.path.isfile(tmp_path / "tutorial_lenet5_graph.svg")
