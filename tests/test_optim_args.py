"""Optimisers and schedulers refuse bad hyperparameters with PyTorch's messages
("Invalid learning rate: nan"), NaN included: `lr < 0` is False for NaN, and one NaN
step makes every parameter NaN. Expected messages are written out by hand."""
import math
import re

import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu import optim
from tinygrad_cu.nn import Parameter

NAN, INF = float("nan"), float("inf")


def params():
    return [Parameter(np.ones(2))]


BAD = [  # optimiser, keyword arguments, error type, start of the message
    (optim.SGD, dict(lr=NAN), ValueError, "Invalid learning rate: nan"),
    (optim.SGD, dict(lr=-0.1), ValueError, "Invalid learning rate: -0.1"),
    (optim.SGD, dict(lr=INF), ValueError, "Invalid learning rate: inf"),
    (optim.SGD, dict(lr=None), TypeError, "SGD: lr must be a number, got None"),
    (optim.SGD, dict(lr="0.1"), TypeError, "SGD: lr must be a number, got '0.1'"),
    (optim.SGD, dict(lr=0.1, momentum=-0.9), ValueError, "Invalid momentum value: -0.9"),
    (optim.SGD, dict(lr=0.1, momentum=NAN), ValueError, "Invalid momentum value: nan"),
    (optim.SGD, dict(lr=0.1, weight_decay=-1e-4), ValueError, "Invalid weight_decay value: -0.0001"),
    (optim.SGD, dict(lr=0.1, nesterov=True), ValueError, "SGD: Nesterov momentum requires a momentum > 0"),
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov="yes"), TypeError, "SGD: nesterov must be a bool"),
]
for _cls in (optim.Adam, optim.AdamW):
    BAD += [
        (_cls, dict(lr=NAN), ValueError, "Invalid learning rate: nan"),
        (_cls, dict(lr=-1e-3), ValueError, "Invalid learning rate: -0.001"),
        (_cls, dict(eps=-1e-8), ValueError, "Invalid epsilon value: -1e-08"),
        (_cls, dict(eps=NAN), ValueError, "Invalid epsilon value: nan"),
        (_cls, dict(betas=(1.0, 0.999)), ValueError, "Invalid beta parameter at index 0: 1.0"),
        (_cls, dict(betas=(0.9, -0.1)), ValueError, "Invalid beta parameter at index 1: -0.1"),
        (_cls, dict(betas=(0.9, NAN)), ValueError, "Invalid beta parameter at index 1: nan"),
        (_cls, dict(betas=(0.9,)), ValueError, f"{_cls.__name__}: betas must be a pair of numbers"),
        (_cls, dict(betas=0.9), TypeError, f"{_cls.__name__}: betas must be a pair of numbers"),
        (_cls, dict(weight_decay=-0.01), ValueError, "Invalid weight_decay value: -0.01"),
    ]


@pytest.mark.parametrize("cls,kwargs,error,message", BAD,
                         ids=[f"{c.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for c, kw, _, _ in BAD])
def test_bad_hyperparameters_are_refused(cls, kwargs, error, message):
    with pytest.raises(error, match="^" + re.escape(message)):
        cls(params(), **kwargs)


def test_the_message_says_who_asked_and_what_is_allowed():
    with pytest.raises(ValueError, match=re.escape("Invalid learning rate: nan (Adam: lr must be >= 0 and finite)")):
        optim.Adam(params(), lr=NAN)
    with pytest.raises(ValueError, match=re.escape("(AdamW: betas[1] must be [0, 1))")):
        optim.AdamW(params(), betas=(0.9, 1.0))


def test_boundary_values_are_accepted():
    optim.SGD(params(), lr=0.0, momentum=0.0, weight_decay=0.0)
    optim.SGD(params(), lr=np.float32(0.1), momentum=np.float64(0.9), nesterov=True)
    optim.Adam(params(), lr=0, betas=(0.0, 0.0), eps=0.0)
    optim.Adam(params(), betas=[0.5, 0.999])          # a list, as JSON gives it back


def test_a_param_group_override_is_checked_too():
    with pytest.raises(ValueError, match="Invalid learning rate: nan"):
        optim.SGD([{"params": params(), "lr": NAN}], lr=0.1)
    opt = optim.SGD(params(), lr=0.1)
    with pytest.raises(ValueError, match="Invalid momentum value: -1"):
        opt.add_param_group({"params": params(), "momentum": -1})
    assert len(opt.param_groups) == 1


def test_a_checkpoint_with_a_bad_learning_rate_changes_nothing():
    opt = optim.Adam(params(), lr=0.01)
    saved = opt.state_dict()
    saved["param_groups"][0]["lr"] = NAN
    with pytest.raises(ValueError, match="Invalid learning rate: nan"):
        opt.load_state_dict(saved)
    assert opt.lr == 0.01


@pytest.mark.parametrize("make,error,message", [
    (lambda o: optim.StepLR(o, step_size=0), ValueError, "StepLR: step_size must be >= 1, got 0"),
    (lambda o: optim.StepLR(o, step_size=2.5), TypeError, "StepLR: step_size must be an int, got 2.5"),
    (lambda o: optim.StepLR(o, step_size=2, gamma=NAN), ValueError, "Invalid gamma value: nan"),
    (lambda o: optim.StepLR(o, step_size=2, gamma=-0.5), ValueError, "Invalid gamma value: -0.5"),
    (lambda o: optim.CosineAnnealingLR(o, T_max=NAN), TypeError, "CosineAnnealingLR: T_max must be an int"),
    (lambda o: optim.CosineAnnealingLR(o, T_max=0), ValueError, "CosineAnnealingLR: T_max must be >= 1, got 0"),
    (lambda o: optim.CosineAnnealingLR(o, T_max=5, eta_min=-1e-3), ValueError, "Invalid eta_min value: -0.001"),
])
def test_schedulers_refuse_bad_arguments(make, error, message):
    with pytest.raises(error, match="^" + re.escape(message)):
        make(optim.SGD(params(), lr=0.1))


def test_a_valid_schedule_still_runs():
    opt = optim.SGD(params(), lr=0.1)
    sched = optim.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(4):
        sched.step()
    assert math.isclose(opt.lr, 0.025)
    assert tg.is_grad_enabled()
