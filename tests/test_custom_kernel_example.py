"""examples/custom_kernel.py trains the lecture MLP with its custom op, and an example's
--profile prints the profiler's table and writes a Chrome trace (offline, tiny settings)."""
import json
import os
import subprocess
import sys

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")


def run_example(script, *args, cwd):
    env = dict(os.environ, TINYGRAD_CU_OFFLINE="1", MPLBACKEND="Agg")
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), *args], capture_output=True,
                            text=True, env=env, timeout=300, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_custom_kernel_example_trains_with_its_op(tmp_path):
    out = run_example("custom_kernel.py", "--epochs", "1", "--train-limit", "300", "--no-plots",
                      "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert "HiddenLayer" in out and "test: loss" in out and (tmp_path / "out" / "custom_kernel_mlp.npz").exists()


def test_profile_flag_prints_the_table_and_writes_the_trace(tmp_path):
    out = run_example("lenet5.py", "--profile", "2", "--train-limit", "200", "--batch-size", "16",
                      "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert "profile of 2 training step(s)" in out and "conv backward" in out and "Wall time" in out
    trace = json.loads((tmp_path / "out" / "trace.json").read_text())
    assert sum(e.get("name") == "conv backward" for e in trace["traceEvents"]) == 4    # 2 convs x 2 steps
    assert "epoch 1" not in out                                                        # profiled, not trained
