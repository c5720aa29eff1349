import numpy as np
import pytest

import tinygrad_cu as tg


def device_or_skip(name):
    ok, reason = tg.device_status(name)
    if not ok:
        msg = f"device {name!r} unavailable: {reason}"
        print(msg)
        pytest.skip(msg)
    return name


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
