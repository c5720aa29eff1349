import os

import numpy as np
import pytest

import tinygrad_cu as tg


def device_or_skip(name):
    """Skip a test of a device that cannot run here, saying why. With
    TINYGRAD_CU_REQUIRE_CUDA=1 (scripts/gpu_check.sh sets it) an unavailable `cuda` fails
    the test instead: on the GPU machine, "42 skipped" must not look green."""
    ok, reason = tg.device_status(name)
    if not ok:
        msg = f"device {name!r} unavailable: {reason}"
        print(msg)
        if name == "cuda" and os.environ.get("TINYGRAD_CU_REQUIRE_CUDA") == "1":
            pytest.fail(msg + " (TINYGRAD_CU_REQUIRE_CUDA=1)", pytrace=False)
        pytest.skip(msg)
    return name


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


WARMUP_FROM_TESTS = 200     # a run of this many tests uses most kernel files: compile them first


def pytest_collection_finish(session):
    """A long run (the whole suite, or CI) compiles every emu kernel file up front, one
    compiler per core (tg.warmup), instead of one at a time at each file's first launch:
    on 2 cores that halves the compile wait of a cold cache. Short runs compile lazily."""
    if len(session.items) >= WARMUP_FROM_TESTS and tg.device_status("emu")[0]:
        tg.warmup("emu", progress=False)
