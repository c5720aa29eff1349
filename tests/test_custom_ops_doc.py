"""docs/custom_ops.md runs: every ```python block, in order, in one namespace (as one
script would), so the walkthrough cannot drift from the code."""
import os
import re

import tinygrad_cu as tg
from tinygrad_cu.op import REGISTRY

from conftest import device_or_skip

PAGE = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, "docs", "custom_ops.md"))


def python_blocks(text):
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_every_code_block_of_the_walkthrough_runs(tmp_path, monkeypatch, capsys):
    device_or_skip("emu")
    with open(PAGE) as f:
        blocks = python_blocks(f.read())
    assert len(blocks) >= 8
    monkeypatch.chdir(tmp_path)                       # the trace file lands here
    before = set(REGISTRY)
    namespace = {"__name__": "__custom_ops_doc__"}
    try:
        for i, block in enumerate(blocks):
            # compiled under the page's own name: the sources' #line point into the page
            exec(compile(block, PAGE, "exec"), namespace)
    finally:
        for name in set(REGISTRY) - before:
            tg.custom_op.unregister(name)
    out = capsys.readouterr().out
    assert "race check failed in kernel 'row_sum_forward'" in out and "__syncthreads() is missing" in out
    assert "sigmoid_off" in out and "swish backward" in out and (tmp_path / "swish_trace.json").exists()


def test_the_page_is_linked_from_ops_md():
    with open(os.path.join(os.path.dirname(PAGE), "ops.md")) as f:
        assert "custom_ops.md" in f.read()
