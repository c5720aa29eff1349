"""The examples run end to end (offline, embedded digits, tiny settings) and write
their pictures and checkpoints."""
import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")


def run_example(script, *args, tmp_path):
    env = dict(os.environ, TINYGRAD_CU_OFFLINE="1", MPLBACKEND="Agg")
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), *args],
                            capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("script,args,name", [
    ("mlp.py", ["--epochs", "2", "--train-limit", "600"], "mlp_lecture"),
    ("mlp.py", ["--epochs", "1", "--train-limit", "300", "--arch", "large", "--loss", "quadratic"], "mlp_large"),
    ("lenet5.py", ["--epochs", "1", "--train-limit", "200"], "lenet5"),
    ("cnn.py", ["--epochs", "1", "--train-limit", "200", "--width", "4"], "cnn_mnist"),
])
def test_example_trains_and_writes_its_outputs(script, args, name, tmp_path):
    out = run_example(script, *args, "--out", str(tmp_path / "out"), tmp_path=tmp_path)
    assert "digits-fallback" in out and "test: loss" in out
    files = set(os.listdir(tmp_path / "out"))
    assert f"{name}.npz" in files
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib not installed: pictures not checked")
        return
    assert {f"{name}_curves.png", f"{name}_weights.png", f"{name}_graph.png"} <= files


def test_lecture_mlp_learns_the_digits(tmp_path):
    out = run_example("mlp.py", "--epochs", "8", "--no-plots", "--out", str(tmp_path), tmp_path=tmp_path)
    accuracy = float(out.split("accuracy ")[1].split("%")[0])
    assert accuracy > 80, out


def test_perceptron_example(tmp_path):
    out = run_example("perceptron.py", tmp_path=tmp_path)
    assert "|w.grad| = 0.0" in out and "training accuracy" in out
