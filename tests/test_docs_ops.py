"""docs/ops.md lists every registered op, so the reference page cannot fall behind the
registry: an op added without a line there fails here."""
import os
import re

import tinygrad_cu as tg

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "ops.md")


def test_every_registered_op_is_named_in_docs_ops_md():
    with open(DOC) as f:
        text = f.read()
    built_in = [name for name, op in tg.REGISTRY.items()       # not the tests' own custom ops
                if type(op).__module__.startswith("tinygrad_cu.ops.")]
    assert len(built_in) > 100
    missing = [name for name in sorted(built_in)
               if not re.search(r"(?<![A-Za-z_])" + re.escape(name) + r"(?![A-Za-z_])", text)]
    assert not missing, f"ops missing from docs/ops.md: {missing}"
