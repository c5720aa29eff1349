"""Bad input gives a clear Python exception naming the op and the shapes, dtypes or devices."""
import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu.autograd import apply
import tinygrad_cu.nn.functional as F

from conftest import device_or_skip


def test_broadcast_shape_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\), \(4,\)"):
        tg.ones(2, 3) + tg.ones(4)


def test_matmul_shape_mismatch():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\)"):
        tg.ones(2, 3) @ tg.ones(4, 5)


def test_conv_channel_and_size_mismatch():
    with pytest.raises(ValueError, match=r"conv: input has 3 channels but weight \(4, 2, 3, 3\)"):
        F.conv2d(tg.ones(1, 3, 8, 8), tg.ones(4, 2, 3, 3))
    with pytest.raises(ValueError, match="larger than the padded input"):
        F.conv2d(tg.ones(1, 1, 2, 2), tg.ones(1, 1, 3, 3))
    with pytest.raises(ValueError, match="conv2d: expected input"):
        F.conv2d(tg.ones(1, 8, 8), tg.ones(1, 1, 3, 3))



@pytest.mark.parametrize("device", ["cpu", "emu"])
def test_conv_with_fewer_weight_rows_than_groups_is_refused_as_pytorch(device):
    """PyTorch: 'expected weight to be at least <groups> at dimension 0', so no conv has 0
    output channels (conv_transpose: 0 input channels), even on an empty batch."""
    device_or_skip(device)
    z = lambda *s: tg.zeros(*s, device=device)
    for x, w, groups in [(z(2, 3, 7, 6), z(0, 3, 3, 3), 1), (z(0, 4, 7, 6), z(0, 2, 3, 2), 2)]:
        with pytest.raises(RuntimeError, match=f"expected weight to be at least {groups} at dimension 0"):
            F.conv2d(x, w, groups=groups).numpy()
    with pytest.raises(ValueError, match="expected weight to be at least 1 at dimension 0"):
        F.conv_transpose2d(z(1, 0, 3, 3), z(0, 2, 2, 2)).numpy()
    assert F.conv2d(z(0, 4, 7, 6), z(2, 2, 3, 2), groups=2).shape == (0, 2, 5, 5)

def test_integer_tensors_where_floats_are_needed():
    with pytest.raises(TypeError, match="exp: expected floating point.*int64"):   # the op itself;
        apply("exp", tg.tensor([1, 2]))           # Tensor.exp computes integers in float32, as PyTorch
    with pytest.raises(TypeError, match="matmul.*int64"):       # the float op; Tensor.matmul of ints
        apply("matmul", tg.tensor([[1, 2]]), tg.tensor([[1], [2]]))   # runs matmul_int, as PyTorch


def test_cross_entropy_labels_out_of_range_and_wrong_dtype():
    logits = tg.randn(3, 4)
    with pytest.raises(ValueError, match="cross_entropy: label 4 is out of range for 4 classes"):
        F.cross_entropy(logits, tg.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match="cross_entropy: label -1"):
        F.cross_entropy(logits, tg.tensor([0, -1, 1]))
    with pytest.raises(TypeError, match="cross_entropy: labels must be an integer tensor, got float32"):
        F.cross_entropy(logits, tg.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"cross_entropy: expected logits \(N, C\) and labels \(N,\)"):
        F.cross_entropy(logits, tg.tensor([0, 1]))


def test_mixing_devices_in_one_op():
    device_or_skip("emu")
    with pytest.raises(RuntimeError, match="add: all inputs must be on the same device, got cpu, emu"):
        tg.ones(2) + tg.ones(2, device="emu")


def test_backward_on_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match=r"shape \(\) does not require grad"):
        (tg.ones(3) * 2.0).sum().backward()


def test_mixed_float_dtypes_are_refused():
    with pytest.raises(TypeError, match="mul: inputs must have the same dtype, got float32, float64"):
        tg.ones(2) * tg.ones(2, dtype=tg.float64)


def test_bad_reshape_permute_index_and_axis():
    with pytest.raises(ValueError, match=r"reshape: cannot reshape \(2, 3\)"):
        tg.ones(2, 3).reshape(4, 2)
    with pytest.raises(ValueError, match="permute: dims"):
        tg.ones(2, 3).permute(0, 0)
    with pytest.raises(IndexError, match=r"getitem: .*\(2, 3\)"):
        tg.ones(2, 3)[5]
    with pytest.raises(ValueError, match="sum: axis 2 is out of range"):
        tg.ones(2, 3).sum(axis=2)


def test_unknown_device_and_dtype():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        tg.ones(2, device="tpu")
    with pytest.raises(TypeError, match="dtype"):
        tg.ones(2, dtype=np.complex64)


def test_out_of_range_dims_are_index_errors():
    with pytest.raises(IndexError, match=r"squeeze: dim 2 is out of range for a tensor of shape \(1, 3\)"):
        tg.ones(1, 3).squeeze(2)
    with pytest.raises(IndexError, match="flatten"):
        tg.ones(2, 3).flatten(5)
    with pytest.raises(IndexError, match="unsqueeze"):
        tg.ones(2, 3).unsqueeze(4)


def test_pad_with_a_flat_tuple_explains_the_two_forms():
    with pytest.raises(ValueError, match=r"pad: pad_width must be one \(before, after\) pair per dim"):
        tg.ones(2, 3).pad((1, 1))
