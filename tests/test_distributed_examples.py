"""`mpiexec -n 2 python examples/... --distributed`: only rank 0 prints and writes, and a
checkpoint resumes under another world size with the same test loss."""
import os
import re

import pytest

import mpi_launch

EXAMPLES = os.path.join(mpi_launch.ROOT, "examples")


def example(n, script, *args, tmp_path):
    rc, out, err, _ = mpi_launch.run(n, [os.path.join(EXAMPLES, script), *args], timeout=300, cwd=tmp_path)
    assert rc == 0, out + err
    return out


def reported_test_loss(out):
    return re.search(r"test: loss (\S+), accuracy (\S+)%", out).groups()


@pytest.mark.parametrize("script,name,write_n,resume_n,limit", [
    ("mlp.py", "mlp_lecture", 2, None, "600"),         # written by 2 ranks, resumed by one process
    ("lenet5.py", "lenet5", None, 2, "200"),           # written by one process, resumed by 2 ranks
])
def test_distributed_example_and_resume_under_another_world_size(script, name, write_n, resume_n, limit, tmp_path):
    mpi_launch.require_mpi()
    flags = lambda n: ["--distributed"] if n else []      # noqa: E731
    out = example(write_n, script, *flags(write_n), "--epochs", "1", "--train-limit", limit, "--no-plots",
                  "--out", str(tmp_path / "a"), tmp_path=tmp_path)
    assert out.count("epoch 1:") == 1 and out.count("test: loss") == 1, out     # rank 0 alone prints
    checkpoint = tmp_path / "a" / f"{name}.npz"
    assert checkpoint.exists()
    resumed = example(resume_n, script, *flags(resume_n), "--epochs", "0", "--resume", str(checkpoint),
                      "--no-plots", "--out", str(tmp_path / "b"), tmp_path=tmp_path)
    assert f"resumed from {checkpoint}" in resumed
    assert reported_test_loss(resumed) == reported_test_loss(out)
