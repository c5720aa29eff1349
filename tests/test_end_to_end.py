"""Whole networks: the same model trained on cpu and on emu from the same initial
weights gives the same losses; small models learn."""
import sys
import os

import numpy as np

import tinygrad_cu as tg
from tinygrad_cu import nn

from conftest import device_or_skip

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "examples"))
from lenet5 import lenet5  # noqa: E402


def train_losses(make_model, x, y, device, steps=5, lr=0.05, momentum=0.9):
    tg.manual_seed(0)
    model = make_model().to(device)
    opt = tg.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    loss_fn = nn.CrossEntropyLoss()
    xs, ys = tg.tensor(x, device=device), tg.tensor(y, device=device)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(xs), ys)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses)


def test_lenet5_five_steps_same_losses_on_cpu_and_emu():
    device_or_skip("emu")
    rng = np.random.default_rng(0)
    x = rng.random((8, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 8)
    cpu = train_losses(lenet5, x, y, "cpu")
    emu = train_losses(lenet5, x, y, "emu")
    np.testing.assert_allclose(emu, cpu, rtol=1e-4)
    assert cpu[-1] < cpu[0]


def lecture_mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.Sigmoid(), nn.Linear(10, 10))


def test_lecture_sigmoid_mlp_same_losses_on_cpu_and_emu():
    device_or_skip("emu")
    rng = np.random.default_rng(1)
    x = rng.random((16, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    cpu = train_losses(lecture_mlp, x, y, "cpu", lr=0.5, momentum=0.0)
    emu = train_losses(lecture_mlp, x, y, "emu", lr=0.5, momentum=0.0)
    np.testing.assert_allclose(emu, cpu, rtol=1e-4)
    assert cpu[-1] < cpu[0]


def test_lecture_mlp_has_7960_parameters():
    assert sum(p.numel() for p in lecture_mlp().parameters()) == 7960


def test_lenet5_learns_the_embedded_digits_on_cpu():
    """A few hundred steps on the offline digits data set reach high accuracy."""
    from tinygrad_cu import data
    xtr, ytr, xte, yte = data.load_digits_split()
    x = data.to_nchw(data.normalize_images(xtr))
    xt = tg.tensor(data.to_nchw(data.normalize_images(xte)))
    tg.manual_seed(0)
    model = lenet5()
    opt = tg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    loader = data.DataLoader(data.TensorDataset(x, ytr.astype(np.int64)), batch_size=32, shuffle=True, seed=0)
    for epoch in range(4):
        for xb, yb in loader:
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            opt.step()
    with tg.no_grad():
        acc = (model(xt).argmax(axis=1).numpy() == yte).mean()
    assert acc > 0.9, acc
