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


def has_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib not installed: pictures not checked")
        return False
    return True


def pictures_of(name, graph=True):
    return {f"{name}_curves.png"} | ({f"{name}_graph.png", f"{name}_graph.svg"} if graph else set())


@pytest.mark.parametrize("script,args,name", [
    ("mlp.py", ["--epochs", "2", "--train-limit", "600"], "mlp_lecture"),
    ("mlp.py", ["--epochs", "1", "--train-limit", "300", "--arch", "large", "--loss", "quadratic"], "mlp_large"),
    ("mlp.py", ["--epochs", "1", "--train-limit", "300", "--arch", "wide"], "mlp_wide"),
    ("lenet5.py", ["--epochs", "1", "--train-limit", "200"], "lenet5"),
    ("cnn.py", ["--epochs", "1", "--train-limit", "200", "--width", "4"], "cnn_mnist"),
])
def test_example_trains_and_writes_its_outputs(script, args, name, tmp_path):
    out = run_example(script, *args, "--out", str(tmp_path / "out"), tmp_path=tmp_path)
    assert "digits-fallback" in out and "test: loss" in out
    limit = args[args.index("--train-limit") + 1]
    assert f"the first {limit} of " in out and "training images (--train-limit)" in out, out
    files = set(os.listdir(tmp_path / "out"))
    assert f"{name}.npz" in files
    if has_matplotlib():
        assert pictures_of(name) | {f"{name}_weights.png"} <= files, files


def test_conv_dims_trains_both_tasks_and_draws_their_kernels(tmp_path):
    out = run_example("conv_dims.py", "--quick", "--epochs", "1", "--out", str(tmp_path / "out"), tmp_path=tmp_path)
    assert out.count("test: loss") == 2 and "conv1d: test accuracy" in out and "conv3d: test accuracy" in out
    files = set(os.listdir(tmp_path / "out"))
    assert {"conv1d.npz", "conv3d.npz"} <= files
    if has_matplotlib():
        assert pictures_of("conv1d") | pictures_of("conv3d") | {"conv1d_kernels.png", "conv3d_kernels.png"} <= files


def test_progress_is_a_line_every_n_batches_outside_a_terminal(tmp_path):
    out = run_example("mlp.py", "--epochs", "1", "--train-limit", "600", "--batch-size", "50", "--log-every", "3",
                      "--no-plots", "--out", str(tmp_path), tmp_path=tmp_path)
    # 540 training images in 11 batches: lines after batches 3, 6 and 9
    assert [line.split()[3] for line in out.splitlines() if line.startswith("epoch 1/1  batch")] == \
        ["3/11", "6/11", "9/11"], out


def test_every_file_in_examples_is_an_example_with_the_common_flags():
    for script in sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".py")):
        result = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), "--help"], capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        flags = ["--epochs", "--device", "--out"] + ([] if script == "conv_dims.py" else ["--data-dir"])
        assert all(flag in result.stdout for flag in flags), (script, result.stdout)


def test_lecture_mlp_learns_the_digits(tmp_path):
    out = run_example("mlp.py", "--epochs", "8", "--no-plots", "--out", str(tmp_path), tmp_path=tmp_path)
    accuracy = float(out.split("accuracy ")[1].split("%")[0])
    assert accuracy > 80, out


def test_perceptron_example(tmp_path):
    out = run_example("perceptron.py", "--epochs", "1", "--out", str(tmp_path / "out"), tmp_path=tmp_path)
    assert "|w.grad| = 0.0" in out and "training accuracy" in out and "test: accuracy" in out
    assert "decisions on test: right +1" in out
    files = set(os.listdir(tmp_path / "out"))
    assert "perceptron.npz" in files
    if has_matplotlib():
        assert {"perceptron_weights.png", "perceptron_curves.png", "perceptron_graph.png",
                "perceptron_graph.svg"} <= files
