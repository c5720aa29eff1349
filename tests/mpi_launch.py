"""Running a script under `mpiexec -n N` from a test, with a timeout that fails the
test instead of letting a hang eat CI's time (tests/test_distributed*.py)."""
import functools
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def mpiexec():
    """The mpiexec beside this Python (the mpich wheel installs it into the venv), else
    the one on PATH (a system MPI that mpi4py was built against)."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return beside if os.path.exists(beside) else shutil.which("mpiexec")


@functools.lru_cache(maxsize=None)
def _why_no_mpi():
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py is not installed (pip install -e '.[distributed]')"
    # in a child: loading MPI initialises it, which the pytest process must not do
    probe = subprocess.run([sys.executable, "-c", "from mpi4py import MPI"], capture_output=True, text=True,
                           timeout=120, stdin=subprocess.DEVNULL)
    if probe.returncode:
        return f"mpi4py is installed but finds no MPI library ({' '.join(probe.stderr.strip().splitlines()[-1:])})"
    return None


def require_mpi():
    """Skip, saying why, only where mpi4py is not installed or cannot load an MPI (the
    mpich wheel exists for Linux and macOS only); mpi4py with an MPI but without an
    mpiexec is a broken install and fails."""
    reason = _why_no_mpi()
    if reason:
        print(reason)
        pytest.skip(reason + ": the MPI tests cannot run")
    assert mpiexec() is not None, "mpi4py is installed but no mpiexec was found (beside python or on PATH)"


def environment():
    """One BLAS and one tinygrad_cu thread per rank (2 ranks on a 2-core machine), no
    downloads, and Open MPI's consent to run as root (CI runs as root)."""
    return dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", TINYGRAD_CU_CPU_THREADS="1",
                TINYGRAD_CU_OFFLINE="1", MPLBACKEND="Agg", OMPI_ALLOW_RUN_AS_ROOT="1",
                OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", PYTHONPATH=ROOT)


def run(n, args, timeout, cwd=None):
    """(returncode, stdout, stderr, seconds) of `mpiexec -n n python args...`; n=None runs
    plain `python` (MPI's singleton start: a world of one). Past `timeout` seconds the
    whole process group is killed and the test fails with what it printed."""
    command = [sys.executable, *args] if n is None else [mpiexec(), "-n", str(n), sys.executable, *args]
    start = time.monotonic()
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True,
                            env=environment(), cwd=cwd or ROOT, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(command)} did not finish in {timeout} s (a hang?)\n{out}\n{err}")
    return proc.returncode, out, err, time.monotonic() - start
