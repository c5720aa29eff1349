"""tg.save's temporary files: named `.{name}.tmp-{host}-{pid}-{hex}` next to the target,
removed on any error, and, when a process was killed outright mid-save, removed by the
next save to that target (tinygrad_cu/atomic_file.py). Files of live processes, other
hosts and other targets are left alone."""
import os
import re
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tinygrad_cu import atomic_file, serialization
from tinygrad_cu.serialization import load, save

pytestmark = pytest.mark.skipif(os.name != "posix", reason="stale temporary files are found by pid on POSIX only")


def dead_pid():
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def temp_for(target, host, pid, token="0123abcd"):
    path = target.parent / f".{target.name}.tmp-{host}-{pid}-{token}"
    path.write_bytes(b"PK\x03\x04 half a checkpoint")
    return path


def test_the_temporary_file_says_whose_it_is(tmp_path, monkeypatch):
    seen, real_savez = [], np.savez

    def watching_savez(f, **arrays):
        seen.extend(os.listdir(tmp_path))
        real_savez(f, **arrays)
    monkeypatch.setattr(serialization.np, "savez", watching_savez)
    save({"w": np.ones(3)}, tmp_path / "ck.npz")
    (name,) = seen
    assert re.fullmatch(rf"\.ck\.npz\.tmp-[A-Za-z0-9._]+-{os.getpid()}-[0-9a-f]{{8}}", name), name
    assert sorted(os.listdir(tmp_path)) == ["ck.npz"]


def test_a_dead_processes_temporary_file_is_removed_by_the_next_save(tmp_path):
    target = tmp_path / "ck.npz"
    host = atomic_file._host()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = temp_for(target, host, dead_pid())
        live = temp_for(target, host, sleeper.pid)                  # a save still in progress
        mine = temp_for(target, host, os.getpid(), "fedcba98")      # another thread of this process
        other_host = temp_for(target, "some.other.host", dead_pid())  # a shared file system
        other_target = temp_for(tmp_path / "other.npz", host, dead_pid())
        unrelated = tmp_path / f".{target.name}.tmp-notes"
        unrelated.write_text("not ours")
        save({"w": np.arange(3.0)}, target)
        assert not stale.exists()
        assert all(p.exists() for p in (live, mine, other_host, other_target, unrelated))
        np.testing.assert_array_equal(load(target)["w"], np.arange(3.0))
    finally:
        sleeper.kill()
        sleeper.wait()


CHILD = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    import tinygrad_cu as tg
    def stuck_fsync(fd):        # a slow disk: the parent kills us while we are in here
        print("writing", flush=True)
        time.sleep(60)
    os.fsync = stuck_fsync
    tg.save({"big": tg.Tensor(np.ones((1024, 2048), np.float32))}, sys.argv[1])
    print("finished", flush=True)
""")


def test_a_save_killed_midway_leaves_the_old_checkpoint_and_the_next_save_cleans_up(tmp_path):
    target = tmp_path / "ck.npz"
    save({"w": np.zeros(2)}, target)                                # the previous checkpoint
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"         # its 8 MB are in the temp file
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    left = [name for name in os.listdir(tmp_path) if name != "ck.npz"]
    assert len(left) == 1 and f"-{child.pid}-" in left[0], left
    assert os.path.getsize(tmp_path / left[0]) > 8 * 2**20
    np.testing.assert_array_equal(load(target)["w"], np.zeros(2))   # untouched by the killed save
    save({"w": np.ones(2)}, target)
    assert os.listdir(tmp_path) == ["ck.npz"]
    np.testing.assert_array_equal(load(target)["w"], np.ones(2))


def test_process_exists():
    assert atomic_file.process_exists(os.getpid())
    assert not atomic_file.process_exists(dead_pid())
    assert not atomic_file.process_exists(2**70)
