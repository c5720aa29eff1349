"""The tiled matmul and implicit-GEMM conv kernels on emu beyond the registry's small
cases: several tiles in every direction with ragged edges, broadcast batch dims in
the backward (gradients summed inside the kernel), strides and padding, grids capped
at 2 blocks (every tiled kernel loops over its tiles), and empty sizes."""
import numpy as np
import pytest

from tinygrad_cu.device.gpu import GPUDevice

from conftest import device_or_skip
from test_ops_emu import check_op_on_emu


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


@pytest.fixture
def tiny_grids(monkeypatch):
    monkeypatch.setattr(GPUDevice, "MAX_BLOCKS", 2)


@pytest.mark.parametrize("a_shape,b_shape", [
    ((130, 70), (70, 129)),                   # 3 x 3 tiles, ragged, K not a multiple of 16
    ((3, 1, 65, 17), (4, 17, 66)),            # broadcast on both sides -> summed gradients
    ((5, 2, 33), (33, 1)),                    # one column
    ((1, 200), (200, 3)),                     # long reduction, one row
])
def test_matmul_tiles(a_shape, b_shape, rng, tiny_grids):
    device_or_skip("emu")
    check_op_on_emu("matmul", rng, [([f32(rng, *a_shape), f32(rng, *b_shape)], {})])


def test_matmul_empty(rng):
    device_or_skip("emu")
    check_op_on_emu("matmul", rng, [([f32(rng, 0, 3, 4), f32(rng, 4, 5)], {}),
                                    ([f32(rng, 3, 0), f32(rng, 0, 5)], {})])


@pytest.mark.parametrize("x_shape,w_shape,attrs", [
    ((3, 6, 14, 13), (16, 6, 5, 5), dict(stride=1, padding=0)),    # LeNet conv2, ragged
    ((2, 1, 28, 28), (6, 1, 5, 5), dict(stride=1, padding=2)),     # LeNet conv1
    ((2, 10, 9, 11), (9, 10, 3, 4), dict(stride=(2, 3), padding=(1, 2))),
    ((1, 3, 6, 6), (2, 3, 6, 6), dict(stride=1, padding=0)),       # kernel = whole image
    ((2, 3, 7, 5), (2, 3, 1, 1), dict(stride=3, padding=0)),       # 1x1 kernel, input rows skipped
])
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_tiles(x_shape, w_shape, attrs, bias, rng, tiny_grids):
    device_or_skip("emu")
    arrays = [f32(rng, *x_shape), f32(rng, *w_shape)] + ([f32(rng, w_shape[0])] if bias else [])
    check_op_on_emu("conv", rng, [(arrays, attrs)])


@pytest.mark.parametrize("x_shape,w_shape,attrs", [
    ((2, 4, 30), (5, 4, 7), dict(stride=3, padding=2)),
    ((1, 2, 5, 6, 4), (3, 2, 3, 2, 2), dict(stride=(2, 1, 2), padding=(1, 1, 0))),
])
def test_conv_1d_3d(x_shape, w_shape, attrs, rng, tiny_grids):
    device_or_skip("emu")
    check_op_on_emu("conv", rng, [([f32(rng, *x_shape), f32(rng, *w_shape), f32(rng, w_shape[0])], attrs)])


def test_tiled_kernels_pass_race_mode(rng, monkeypatch):
    """The registry's first conv cases are 1-D (direct kernels, no barriers): run the
    barrier kernels (conv2d_*, matmul with several tiles and a summed broadcast) under
    the emulator's race-checking mode here."""
    device_or_skip("emu")
    import functools
    from tinygrad_cu.device import _devices
    from tinygrad_cu.runtime import emu
    monkeypatch.setitem(_devices, "emu", GPUDevice("emu", emu, functools.partial(emu.SourceModule, check="race")))
    check_op_on_emu("conv", rng, [([f32(rng, 2, 3, 9, 10), f32(rng, 9, 3, 3, 3), f32(rng, 9)], dict(stride=1, padding=1)),
                                  ([f32(rng, 1, 2, 8, 7), f32(rng, 3, 2, 3, 2)], dict(stride=2, padding=(0, 1)))])
    check_op_on_emu("matmul", rng, [([f32(rng, 2, 1, 70, 20), f32(rng, 3, 20, 65)], {})])
