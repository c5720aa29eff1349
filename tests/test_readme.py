"""The README's Python example runs as written."""
import os
import re

import pytest

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")


def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib", reason="the README draws a graph picture (extra 'examples')")
    block = re.search(r"```python\n(.*?)```", open(README).read(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    assert "(3, 4)" in capsys.readouterr().out
    assert (tmp_path / "g.png").exists()
