"""Tests of minidl.optim: update rules, parameter groups, saving and loading, schedules.

Each optimiser is compared with ``torch.optim`` over 20 steps of random gradients, starting
from the same float64 values; hand-computed first steps keep the suite meaningful without torch.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl
from minidl import optim
from minidl.optim import lr_scheduler

SHAPES = [(3, 4), (5,), ()]
STEPS = 20


def initial_values(seed=0, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


def gradient_stream(seed=1, shapes=SHAPES, steps=STEPS, missing=()):
    """``steps`` lists of gradients, one per shape, of varying scale (so AMSGrad's maximum matters).

    ``missing`` holds (step, parameter) pairs whose gradient is None, as for a frozen or unused
    parameter.
    """
    rng = np.random.default_rng(seed)
    stream = []
    for step in range(steps):
        scale = rng.uniform(0.1, 3.0)
        stream.append([None if (step, i) in missing else np.asarray(scale * rng.standard_normal(shape))
                       for i, shape in enumerate(shapes)])
    return stream


def minidl_params(values):
    return [minidl.tensor(v.copy(), requires_grad=True) for v in values]


def run_minidl(optimizer, params, grads):
    """Step ``optimizer`` once per entry of ``grads``; the parameter values after every step."""
    trajectory = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else g.copy()
        optimizer.step()
        trajectory.append([p.numpy().copy() for p in params])
    return trajectory


def run_torch(torch, make, values, grads, groups=None):
    params = [torch.tensor(v, requires_grad=True) for v in values]
    optimizer = make(groups(params) if groups else params)
    trajectory = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else torch.from_numpy(g.copy())
        optimizer.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory


def assert_same_trajectory(ours, theirs, atol=1e-10):
    assert len(ours) == len(theirs)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        for i, (x, y) in enumerate(zip(a, b)):
            np.testing.assert_allclose(x, y, rtol=0, atol=atol, err_msg=f"step {step + 1}, parameter {i}")


def compare_with_torch(name, kwargs, groups=None, grads=None):
    torch = pytest.importorskip("torch")
    values, grads = initial_values(), grads or gradient_stream()
    params = minidl_params(values)
    ours = run_minidl(getattr(optim, name)(groups(params) if groups else params, **kwargs), params, grads)
    theirs = run_torch(torch, lambda p: getattr(torch.optim, name)(p, **kwargs), values, grads, groups)
    assert_same_trajectory(ours, theirs)
    return params


# ---------------------------------------------------------------- parity with torch.optim
PARITY_CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "weight_decay": 0.1, "nesterov": True, "momentum": 0.8}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "maximize": True}),
    ("Adam", {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-3}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1, "maximize": True}),
    ("AdamW", {"lr": 0.05}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.3, "amsgrad": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-4}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "weight_decay": 0.05}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.05, "maximize": True}),
    ("Adadelta", {}),  # PyTorch's defaults, lr=1.0 included, as the MNIST example uses them
    ("Adadelta", {"lr": 0.5, "rho": 0.95, "eps": 1e-4}),
    ("Adadelta", {"weight_decay": 0.1}),
    ("Adadelta", {"lr": 2.0, "rho": 0.5, "weight_decay": 0.05, "maximize": True}),
]


def case_id(case):
    name, kwargs = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kwargs.items())


@pytest.mark.parametrize("case", PARITY_CASES, ids=case_id)
def test_trajectory_matches_torch(case):
    compare_with_torch(*case)


@settings(max_examples=15)
@given(lr=st.floats(1e-3, 0.5), momentum=st.sampled_from([0.0, 0.5, 0.95]),
       dampening=st.sampled_from([0.0, 0.5]), weight_decay=st.sampled_from([0.0, 1e-2]),
       nesterov=st.booleans())
def test_sgd_matches_torch_across_hyperparameters(lr, momentum, dampening, weight_decay, nesterov):
    if nesterov and (momentum == 0 or dampening != 0):
        nesterov = False  # an invalid combination, tested among the bad arguments
    compare_with_torch("SGD", {"lr": lr, "momentum": momentum, "dampening": dampening,
                               "weight_decay": weight_decay, "nesterov": nesterov})


@settings(max_examples=15)
@given(name=st.sampled_from(["Adam", "AdamW"]), lr=st.floats(1e-3, 0.2), beta1=st.floats(0.0, 0.99),
       beta2=st.floats(0.5, 0.9999), weight_decay=st.sampled_from([0.0, 1e-2]), amsgrad=st.booleans())
def test_adam_matches_torch_across_hyperparameters(name, lr, beta1, beta2, weight_decay, amsgrad):
    compare_with_torch(name, {"lr": lr, "betas": (beta1, beta2), "weight_decay": weight_decay, "amsgrad": amsgrad})


@settings(max_examples=15)
@given(lr=st.floats(1e-3, 0.1), alpha=st.floats(0.5, 0.999), momentum=st.sampled_from([0.0, 0.9]),
       centered=st.booleans(), weight_decay=st.sampled_from([0.0, 1e-2]))
def test_rmsprop_matches_torch_across_hyperparameters(lr, alpha, momentum, centered, weight_decay):
    compare_with_torch("RMSprop", {"lr": lr, "alpha": alpha, "momentum": momentum, "centered": centered,
                                   "weight_decay": weight_decay})


@settings(max_examples=15)
@given(lr=st.floats(1e-3, 2.0), rho=st.floats(0.0, 1.0), eps=st.sampled_from([1e-8, 1e-6, 1e-3]),
       weight_decay=st.sampled_from([0.0, 1e-2]), maximize=st.booleans())
def test_adadelta_matches_torch_across_hyperparameters(lr, rho, eps, weight_decay, maximize):
    compare_with_torch("Adadelta", {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                                    "maximize": maximize})


def two_groups(params):
    """Earlier layers at a tenth of the rate and without decay, as when fine-tuning."""
    return [{"params": params[:2], "lr": 0.005, "weight_decay": 0.0}, {"params": params[2:]}]


@pytest.mark.parametrize("case", [
    ("SGD", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.05, "weight_decay": 0.1, "momentum": 0.5}),
    ("Adadelta", {"lr": 1.0, "weight_decay": 0.1}),
], ids=case_id)
def test_parameter_groups_match_torch(case):
    compare_with_torch(*case, groups=two_groups)


@pytest.mark.parametrize("case", [
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}),
    ("Adadelta", {"lr": 1.0, "rho": 0.8}),
], ids=case_id)
def test_parameters_without_grad_are_skipped_as_in_torch(case):
    # Parameter 1 never gets a gradient; parameter 2 only on even steps (its state, including
    # Adam's step count, advances only then).
    missing = {(step, 1) for step in range(STEPS)} | {(step, 2) for step in range(1, STEPS, 2)}
    params = compare_with_torch(*case, grads=gradient_stream(missing=missing))
    np.testing.assert_array_equal(params[1].numpy(), initial_values()[1])


# ---------------------------------------------------------------- first steps by hand
def test_sgd_momentum_first_two_steps_by_hand():
    p = minidl.tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = np.array([0.5, 1.0])
    opt.step()  # buf = g1 = [0.5, 1];  p = [1, -2] - 0.1 * buf
    np.testing.assert_allclose(p.numpy(), [0.95, -2.1], rtol=0, atol=1e-15)
    p.grad = np.array([1.0, -1.0])
    opt.step()  # buf = 0.9 * [0.5, 1] + [1, -1] = [1.45, -0.1];  p -= 0.1 * buf
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], [1.45, -0.1], rtol=0, atol=1e-15)
    np.testing.assert_allclose(p.numpy(), [0.805, -2.09], rtol=0, atol=1e-15)


def test_sgd_nesterov_dampening_and_weight_decay_first_two_steps_by_hand():
    p = minidl.tensor(np.array([2.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.5, weight_decay=0.1, nesterov=True)
    p.grad = np.array([1.0])
    opt.step()  # g = 1 + 0.1*2 = 1.2; buf = 1.2; step with g + 0.5*buf = 1.8; p = 2 - 0.18
    np.testing.assert_allclose(p.numpy(), [1.82], rtol=0, atol=1e-15)
    p.grad = np.array([1.0])
    opt.step()  # g = 1 + 0.182 = 1.182; buf = 0.6 + 1.182 = 1.782; g + 0.5*buf = 2.073; p -= 0.2073
    np.testing.assert_allclose(p.numpy(), [1.82 - 0.2073], rtol=0, atol=1e-15)

    q = minidl.tensor(np.array([0.0]), requires_grad=True)
    damped = optim.SGD([q], lr=1.0, momentum=0.5, dampening=0.5)
    q.grad = np.array([1.0])
    damped.step()  # the first step keeps the whole gradient: buf = 1
    damped.step()  # buf = 0.5 * 1 + (1 - 0.5) * 1 = 1
    np.testing.assert_allclose(q.numpy(), [-2.0], rtol=0, atol=1e-15)


def test_adam_first_two_steps_by_hand():
    p = minidl.tensor(np.array([1.0]), requires_grad=True)
    opt = optim.Adam([p], lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    p.grad = np.array([2.0])
    opt.step()
    # m = 0.1 * 2 = 0.2, v = 0.001 * 4 = 0.004; m_hat = 0.2 / 0.1 = 2, v_hat = 0.004 / 0.001 = 4
    np.testing.assert_allclose(p.numpy(), [1.0 - 0.1 * 2.0 / (2.0 + 1e-8)], rtol=0, atol=1e-12)
    p.grad = np.array([-1.0])
    opt.step()
    m, v = 0.9 * 0.2 + 0.1 * -1.0, 0.999 * 0.004 + 0.001 * 1.0  # 0.08 and 0.004996
    m_hat, v_hat = m / (1 - 0.9**2), v / (1 - 0.999**2)
    expected = 1.0 - 0.1 * 2.0 / (2.0 + 1e-8) - 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8)
    np.testing.assert_allclose(p.numpy(), [expected], rtol=0, atol=1e-12)
    assert opt.state[p]["step"] == 2
    np.testing.assert_allclose(opt.state[p]["exp_avg"], [0.08], rtol=0, atol=1e-15)
    np.testing.assert_allclose(opt.state[p]["exp_avg_sq"], [0.004996], rtol=0, atol=1e-15)


def test_amsgrad_divides_by_the_largest_second_moment_by_hand():
    p = minidl.tensor(np.array([0.0]), requires_grad=True)
    opt = optim.Adam([p], lr=0.1, betas=(0.5, 0.5), eps=0.0, amsgrad=True)
    p.grad = np.array([2.0])
    opt.step()  # m = 1, v = 2; m_hat = 2, v_hat = 4: p = -0.1 * 2 / 2
    np.testing.assert_allclose(p.numpy(), [-0.1], rtol=0, atol=1e-15)
    p.grad = np.array([0.0])
    opt.step()  # m = 0.5, v = 1 but max(v) stays 2; both corrections are 1 - 0.5^2 = 0.75
    np.testing.assert_allclose(opt.state[p]["max_exp_avg_sq"], [2.0], rtol=0, atol=1e-15)
    expected = -0.1 - (0.1 / 0.75) * 0.5 / (math.sqrt(2.0) / math.sqrt(0.75))
    np.testing.assert_allclose(p.numpy(), [expected], rtol=0, atol=1e-15)


def test_adamw_decays_weights_before_the_adam_step():
    p = minidl.tensor(np.array([3.0]), requires_grad=True)
    opt = optim.AdamW([p], lr=0.1, weight_decay=0.5)
    p.grad = np.array([-4.0])
    opt.step()  # p = 3 * (1 - 0.1 * 0.5) = 2.85, then the first Adam step moves it by lr against sign(g)
    np.testing.assert_allclose(p.numpy(), [2.85 + 0.1 * 4.0 / (4.0 + 1e-8)], rtol=0, atol=1e-12)


def test_rmsprop_first_step_by_hand():
    p = minidl.tensor(np.array([1.0, 1.0]), requires_grad=True)
    opt = optim.RMSprop([p], lr=0.01, alpha=0.99, eps=1e-8)
    p.grad = np.array([3.0, -0.5])
    opt.step()  # v = 0.01 * g^2, sqrt(v) = 0.1 |g|: each coordinate moves by lr / 0.1 = 0.1
    np.testing.assert_allclose(p.numpy(), [1.0 - 0.01 * 3.0 / (0.3 + 1e-8), 1.0 + 0.01 * 0.5 / (0.05 + 1e-8)],
                               rtol=0, atol=1e-15)


def test_centered_rmsprop_first_step_by_hand():
    p = minidl.tensor(np.array([1.0]), requires_grad=True)
    opt = optim.RMSprop([p], lr=0.01, alpha=0.99, eps=0.0, centered=True)
    p.grad = np.array([2.0])
    opt.step()  # v = 0.01 * 4 = 0.04, g_avg = 0.01 * 2 = 0.02: variance 0.04 - 0.0004 = 0.0396
    np.testing.assert_allclose(p.numpy(), [1.0 - 0.01 * 2.0 / math.sqrt(0.0396)], rtol=0, atol=1e-15)
    np.testing.assert_allclose(opt.state[p]["grad_avg"], [0.02], rtol=0, atol=1e-15)


def test_adadelta_first_two_steps_by_hand():
    p = minidl.tensor(np.array([1.0]), requires_grad=True)
    opt = optim.Adadelta([p], lr=1.0, rho=0.5, eps=1.0)
    p.grad = np.array([2.0])
    opt.step()  # v = 0.5 * 4 = 2; delta = sqrt(0 + 1) / sqrt(2 + 1) * 2 = 2 / sqrt(3); u = 0.5 * 4 / 3
    np.testing.assert_allclose(p.numpy(), [1.0 - 2.0 / math.sqrt(3.0)], rtol=0, atol=1e-15)
    np.testing.assert_allclose(opt.state[p]["acc_delta"], [2.0 / 3.0], rtol=0, atol=1e-15)
    p.grad = np.array([1.0])
    opt.step()  # v = 1 + 0.5 = 1.5; delta = sqrt(2/3 + 1) / sqrt(1.5 + 1) = sqrt(2/3); u = 1/3 + 1/3
    np.testing.assert_allclose(p.numpy(), [1.0 - 2.0 / math.sqrt(3.0) - math.sqrt(2.0 / 3.0)], rtol=0, atol=1e-15)
    np.testing.assert_allclose(opt.state[p]["square_avg"], [1.5], rtol=0, atol=1e-15)
    np.testing.assert_allclose(opt.state[p]["acc_delta"], [2.0 / 3.0], rtol=0, atol=1e-15)
    assert opt.state[p]["step"] == 2


# ---------------------------------------------------------------- mechanics
def stateful_optimizers():
    return [
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda p: optim.Adam(p, lr=0.05, amsgrad=True),
        lambda p: optim.AdamW(p, lr=0.05),
        lambda p: optim.RMSprop(p, lr=0.01, momentum=0.9, centered=True),
        lambda p: optim.Adadelta(p, lr=1.0, rho=0.8, weight_decay=0.01),
    ]


OPTIMIZER_IDS = ["SGD", "Adam", "AdamW", "RMSprop", "Adadelta"]


@pytest.mark.parametrize("make", stateful_optimizers(), ids=OPTIMIZER_IDS)
def test_float32_parameters_stay_float32_in_place_and_without_a_graph(make):
    p = minidl.tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    array = p.numpy()
    opt = make([p])
    for _ in range(3):
        p.grad = np.full((2, 3), 0.5)  # a float64 gradient must not upcast the float32 weights
        opt.step()
    assert p.numpy() is array and p.dtype == np.float32
    assert not np.allclose(p.numpy(), 1.0)
    assert p.is_leaf and p.requires_grad
    assert all(v.dtype == np.float32 for v in opt.state[p].values() if isinstance(v, np.ndarray))


@pytest.mark.parametrize("optimizer", [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop, optim.Adadelta])
def test_maximize_climbs_the_gradient(optimizer):
    p = minidl.tensor(np.array([0.0, 0.0]), requires_grad=True)
    opt = optimizer([p], lr=0.1, maximize=True)
    p.grad = np.array([1.0, -2.0])
    opt.step()
    np.testing.assert_array_equal(np.sign(p.numpy()), [1.0, -1.0])


def test_a_tensor_gradient_is_accepted():
    p = minidl.tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.5)
    p.grad = minidl.tensor(np.array([2.0, 2.0]))
    opt.step()
    np.testing.assert_array_equal(p.numpy(), [0.0, 1.0])


def test_step_does_not_modify_the_gradient():
    p = minidl.tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.5)
    p.grad = np.array([1.0, 2.0, 3.0])
    opt.step()
    opt.step()
    np.testing.assert_array_equal(p.grad, [1.0, 2.0, 3.0])


def test_zero_grad():
    a, b = minidl.tensor(np.ones(2), requires_grad=True), minidl.tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1)
    a.grad, b.grad = np.ones(2), np.ones(3)
    grad = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is grad
    np.testing.assert_array_equal(a.grad, [0.0, 0.0])
    np.testing.assert_array_equal(b.grad, [0.0, 0.0, 0.0])
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_zero_grad_then_backward_gives_fresh_gradients():
    x = minidl.tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = optim.SGD([x], lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        (x * x).sum().backward()  # without zero_grad the second gradient would be doubled
        np.testing.assert_allclose(x.grad, 2 * x.numpy(), rtol=0, atol=1e-15)
        opt.step()


def test_step_returns_the_closure_loss_and_records_inside_no_grad():
    x = minidl.tensor(np.array([1.0, -1.0]), requires_grad=True)
    opt = optim.SGD([x], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (x * x).sum()
        loss.backward()
        return loss

    with minidl.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 2.0
    np.testing.assert_allclose(x.numpy(), [0.5, -0.5], rtol=0, atol=1e-15)  # x - 0.25 * 2x


def test_param_groups_fill_in_the_defaults():
    a, b = minidl.tensor(np.ones(2), requires_grad=True), minidl.tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([{"params": [a], "lr": 0.01}, {"params": b}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1]
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.9]
    assert opt.param_groups[1]["params"] == [b]
    c = minidl.tensor(np.ones(2), requires_grad=True)
    opt.add_param_group({"params": [c], "momentum": 0.0})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["momentum"] == 0.0
    for p in (a, b, c):
        p.grad = np.ones(2)
    opt.step()
    np.testing.assert_allclose([a.numpy()[0], b.numpy()[0], c.numpy()[0]], [0.99, 0.9, 0.9], rtol=0, atol=1e-15)
    assert "momentum_buffer" not in opt.state[c]
    assert "Parameter Group 2" in repr(opt) and "momentum: 0.0" in repr(opt)


QUADRATIC_CASES = [
    ("SGD", {"lr": 0.09}, 300, None),
    ("SGD", {"lr": 0.09, "momentum": 0.5, "nesterov": True}, 300, None),
    ("Adam", {"lr": 0.1}, 500, "cosine"),
    ("AdamW", {"lr": 0.1, "weight_decay": 0.0, "amsgrad": True}, 500, "cosine"),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}, 500, "cosine"),
    ("Adadelta", {"lr": 1.0}, 500, "cosine"),
]


@pytest.mark.parametrize("name, kwargs, steps, schedule", QUADRATIC_CASES, ids=lambda v: str(v))
def test_minimises_a_quadratic(name, kwargs, steps, schedule):
    # f(x) = x^T A x / 2 - b^T x with A symmetric positive definite has its minimum at A^-1 b.
    rng = np.random.default_rng(0)
    m = rng.standard_normal((4, 4))
    a_matrix, b_vector = m @ m.T + np.eye(4), rng.standard_normal(4)
    x_star = np.linalg.solve(a_matrix, b_vector)
    x = minidl.tensor(np.zeros(4), requires_grad=True)
    a, b = minidl.tensor(a_matrix), minidl.tensor(b_vector)
    opt = getattr(optim, name)([x], **kwargs)
    scheduler = lr_scheduler.CosineAnnealingLR(opt, T_max=steps) if schedule else None
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.5 * (x @ (a @ x)) - (b * x).sum()
        loss.backward()
        opt.step()
        if scheduler:
            scheduler.step()
    np.testing.assert_allclose(x.numpy(), x_star, rtol=0, atol=1e-8)


# ---------------------------------------------------------------- saving and resuming
def grouped(make):
    return lambda params: make([{"params": params[:2]}, {"params": params[2:], "lr": 0.02}])


@pytest.mark.parametrize("make", stateful_optimizers(), ids=OPTIMIZER_IDS)
def test_state_dict_resumes_exactly(make):
    values, grads = initial_values(), gradient_stream(steps=10)
    params = minidl_params(values)
    uninterrupted = run_minidl(grouped(make)(params), params, grads)

    params = minidl_params(values)
    first = grouped(make)(params)
    run_minidl(first, params, grads[:5])
    saved = first.state_dict()
    resumed_params = minidl_params([p.numpy() for p in params])
    resumed = grouped(make)(resumed_params)
    resumed.param_groups[1]["lr"] = 123.0  # the saved rates must replace this
    resumed.load_state_dict(saved)
    second_half = run_minidl(resumed, resumed_params, grads[5:])
    for ours, reference in zip(second_half, uninterrupted[5:]):
        for x, y in zip(ours, reference):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("make", stateful_optimizers(), ids=OPTIMIZER_IDS)
def test_state_dict_is_a_copy_both_ways(make):
    params = minidl_params(initial_values())
    opt = make(params)
    run_minidl(opt, params, gradient_stream(steps=2))
    saved = opt.state_dict()
    snapshot = {i: {k: np.copy(v) for k, v in s.items()} for i, s in saved["state"].items()}
    run_minidl(opt, params, gradient_stream(steps=2))  # saving must not alias the live state
    saved["param_groups"][0]["lr"] = 99.0
    assert opt.param_groups[0]["lr"] != 99.0
    for i, s in saved["state"].items():
        for k, v in s.items():
            np.testing.assert_array_equal(v, snapshot[i][k])

    fresh_params = minidl_params(initial_values())
    fresh = make(fresh_params)
    fresh.load_state_dict(saved)
    run_minidl(fresh, fresh_params, gradient_stream(steps=1))  # loading must copy too
    for i, s in saved["state"].items():
        for k, v in s.items():
            np.testing.assert_array_equal(v, snapshot[i][k])


@pytest.mark.parametrize("case", [
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}),
    ("Adadelta", {"lr": 1.0, "weight_decay": 0.1}),
], ids=case_id)
def test_state_dict_layout_matches_torch(case):
    torch = pytest.importorskip("torch")
    name, kwargs = case
    values, grads = initial_values(), gradient_stream(steps=3, missing={(0, 1), (1, 1), (2, 1)})
    params = minidl_params(values)
    ours = getattr(optim, name)(two_groups(params), **kwargs)
    run_minidl(ours, params, grads)
    torch_params = [torch.tensor(v, requires_grad=True) for v in values]
    theirs = getattr(torch.optim, name)(two_groups(torch_params), **kwargs)
    for step_grads in grads:
        for p, g in zip(torch_params, step_grads):
            p.grad = None if g is None else torch.from_numpy(g)
        theirs.step()
    ours, theirs = ours.state_dict(), theirs.state_dict()
    assert [g["params"] for g in ours["param_groups"]] == [g["params"] for g in theirs["param_groups"]]
    for our_group, their_group in zip(ours["param_groups"], theirs["param_groups"]):
        assert set(our_group) <= set(their_group)
        assert all(our_group[k] == their_group[k] for k in our_group if k != "params")
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for index, their_state in theirs["state"].items():
        assert set(ours["state"][index]) == set(their_state)
        for key, value in their_state.items():
            np.testing.assert_allclose(ours["state"][index][key], value.numpy(), rtol=0, atol=1e-10)


def test_load_state_dict_casts_to_the_parameter_dtype():
    saved_params = minidl_params(initial_values())
    saved = optim.Adam(saved_params, lr=0.01)
    run_minidl(saved, saved_params, gradient_stream(steps=2))
    params = [minidl.tensor(v.astype(np.float32), requires_grad=True) for v in initial_values()]
    opt = optim.Adam(params, lr=0.01)
    opt.load_state_dict(saved.state_dict())
    assert opt.state[params[0]]["exp_avg"].dtype == np.float32
    assert opt.state[params[0]]["step"] == 2


def test_load_state_dict_rejects_a_mismatched_state():
    def sgd(groups):
        return optim.SGD(groups, lr=0.1, momentum=0.9)

    params = minidl_params(initial_values())
    opt = sgd(params)
    run_minidl(opt, params, gradient_stream(steps=1))
    saved = opt.state_dict()

    with pytest.raises(ValueError, match="saved state has 1 parameter groups but this optimizer has 2"):
        sgd([{"params": params[:1]}, {"params": params[1:]}]).load_state_dict(saved)
    with pytest.raises(ValueError, match="group 0 holds 3 parameters in the saved state but 2"):
        sgd(params[:2]).load_state_dict(saved)
    other = minidl_params(initial_values(shapes=[(3, 4), (6,), ()]))
    shape_message = r"'momentum_buffer' of parameter 1 has shape \(5,\) but the parameter has shape \(6,\)"
    with pytest.raises(ValueError, match=shape_message):
        sgd(other).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"lacks \['amsgrad', 'betas', .*another kind of optimizer"):
        optim.Adam(params).load_state_dict(saved)
    with pytest.raises(ValueError, match="expected a dict with keys 'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})
    bad_lr = opt.state_dict()
    bad_lr["param_groups"][0]["lr"] = -1.0
    with pytest.raises(ValueError, match="SGD: lr must be >= 0, got -1.0"):
        opt.load_state_dict(bad_lr)
    assert opt.param_groups[0]["lr"] == 0.1  # a refused load changes nothing


# ---------------------------------------------------------------- bad arguments
def param():
    return minidl.tensor(np.ones(2), requires_grad=True)


BAD_OPTIMIZER_ARGUMENTS = [
    (lambda: optim.SGD([param()], lr=-0.1), ValueError, "SGD: lr must be >= 0, got -0.1"),
    (lambda: optim.SGD([param()], lr="0.1"), TypeError, "SGD: lr must be a number, got '0.1'"),
    (lambda: optim.SGD([param()], lr=float("nan")), ValueError, "SGD: lr must be >= 0, got nan"),
    (lambda: optim.SGD([param()], momentum=-0.9), ValueError, "SGD: momentum must be >= 0"),
    (lambda: optim.SGD([param()], weight_decay=-1), ValueError, "SGD: weight_decay must be >= 0"),
    (lambda: optim.SGD([param()], nesterov=True), ValueError, "Nesterov momentum requires a momentum > 0"),
    (lambda: optim.SGD([param()], momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     "Nesterov momentum requires a momentum > 0 and zero dampening, got momentum=0.9, dampening=0.1"),
    (lambda: optim.SGD([{"params": [param()], "lr": -1}], lr=0.1), ValueError, "SGD: lr must be >= 0, got -1"),
    (lambda: optim.Adam([param()], betas=(1.0, 0.999)), ValueError, r"Adam: betas\[0\] must be in \[0, 1\), got 1.0"),
    (lambda: optim.Adam([param()], betas=(0.9, -0.1)), ValueError, r"Adam: betas\[1\] must be in \[0, 1\)"),
    (lambda: optim.Adam([param()], betas=0.9), TypeError, r"Adam: betas must be a pair \(beta1, beta2\), got 0.9"),
    (lambda: optim.AdamW([param()], eps=-1e-8), ValueError, "AdamW: eps must be >= 0"),
    (lambda: optim.Adam([param()], lr=-1), ValueError, "Adam: lr must be >= 0"),
    (lambda: optim.RMSprop([param()], alpha=-0.5), ValueError, "RMSprop: alpha must be >= 0"),
    (lambda: optim.RMSprop([param()], momentum=-0.5), ValueError, "RMSprop: momentum must be >= 0"),
    (lambda: optim.Adadelta([param()], lr=-1.0), ValueError, "Adadelta: lr must be >= 0, got -1.0"),
    (lambda: optim.Adadelta([param()], rho=1.5), ValueError, r"Adadelta: rho must be in \[0, 1\], got 1.5"),
    (lambda: optim.Adadelta([param()], rho=-0.1), ValueError, "Adadelta: rho must be >= 0, got -0.1"),
    (lambda: optim.Adadelta([param()], eps=-1e-6), ValueError, "Adadelta: eps must be >= 0"),
    (lambda: optim.Adadelta([param()], weight_decay=-0.1), ValueError, "Adadelta: weight_decay must be >= 0"),
    (lambda: optim.Adadelta([param()], rho="0.9"), TypeError, "Adadelta: rho must be a number, got '0.9'"),
    (lambda: optim.SGD([], lr=0.1), ValueError, "SGD: got an empty parameter list"),
    (lambda: optim.SGD(param(), lr=0.1), TypeError, "got a single Tensor of shape \\(2,\\); wrap it in a list"),
    (lambda: optim.SGD({param()}, lr=0.1), TypeError, "a set's order changes between runs"),
    (lambda: optim.SGD([np.ones(2)], lr=0.1), TypeError,
     "SGD: can only optimize Tensors, but one of the params is ndarray"),
    (lambda: optim.SGD([("w", param())], lr=0.1), TypeError, r"not model.named_parameters\(\)"),
    (lambda: optim.SGD([param() * 2], lr=0.1), ValueError, "can't optimize a non-leaf Tensor"),
    (lambda: optim.SGD([minidl.tensor(np.arange(3))], lr=0.1), TypeError, "floating point Tensors, got dtype int64"),
    (lambda: optim.SGD([{"lr": 0.1}], lr=0.1), ValueError, "a parameter group needs a 'params' entry"),
    (lambda: optim.SGD([{"params": [param()]}, param()], lr=0.1), TypeError, "a parameter group must be a dict"),
]


@pytest.mark.parametrize("build, error, match", BAD_OPTIMIZER_ARGUMENTS)
def test_bad_optimizer_arguments_raise_clear_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_a_parameter_may_appear_only_once():
    p = param()
    with pytest.raises(ValueError, match="lists the same parameter twice"):
        optim.SGD([p, p], lr=0.1)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [p]})


def test_a_gradient_of_the_wrong_shape_is_refused():
    # The gradient is refused where it is assigned, before any step could broadcast it.
    p = param()
    with pytest.raises(ValueError, match=r"grad: assigned a gradient of shape \(3,\) to a tensor of shape \(2,\)"):
        p.grad = np.ones(3)


# ---------------------------------------------------------------- learning-rate schedules
def scheduled_optimizer():
    """SGD with two groups (base rates 0.1 and 0.02), fresh parameters."""
    return optim.SGD([{"params": [param()]}, {"params": [param()], "lr": 0.02}], lr=0.1)


def lr_sequence(optimizer, scheduler, steps=30):
    """The rates after construction and after each of ``steps`` scheduler steps."""
    rates = [scheduler.get_last_lr()]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr())
        assert rates[-1] == [group["lr"] for group in optimizer.param_groups]
    return np.array(rates)


SCHEDULER_CASES = [
    ("StepLR", {"step_size": 7, "gamma": 0.5}),
    ("StepLR", {"step_size": 1}),
    ("CosineAnnealingLR", {"T_max": 30}),
    ("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.001}),  # 30 epochs: past T_max it rises again
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.25, "end_factor": 0.5, "total_iters": 8}),
]


@pytest.mark.parametrize("case", SCHEDULER_CASES, ids=case_id)
def test_scheduler_matches_torch(case):
    torch = pytest.importorskip("torch")
    name, kwargs = case
    ours_opt = scheduled_optimizer()
    ours = lr_sequence(ours_opt, getattr(lr_scheduler, name)(ours_opt, **kwargs))
    w1, w2 = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    their_opt = torch.optim.SGD([{"params": [w1]}, {"params": [w2], "lr": 0.02}], lr=0.1)
    theirs = lr_sequence(their_opt, getattr(torch.optim.lr_scheduler, name)(their_opt, **kwargs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


def warmup_then_cosine(optimizer_module, scheduler_module, optimizer):
    warmup = scheduler_module.LinearLR(optimizer, start_factor=0.1, total_iters=5)
    cosine = scheduler_module.CosineAnnealingLR(optimizer, T_max=25)
    return scheduler_module.SequentialLR(optimizer, [warmup, cosine], milestones=[5])


def three_phases(optimizer_module, scheduler_module, optimizer):
    warmup = scheduler_module.LinearLR(optimizer, start_factor=0.5, total_iters=3)
    steps = scheduler_module.StepLR(optimizer, step_size=2, gamma=0.5)
    cosine = scheduler_module.CosineAnnealingLR(optimizer, T_max=20, eta_min=0.01)
    return scheduler_module.SequentialLR(optimizer, [warmup, steps, cosine], milestones=[3, 10])


@pytest.mark.parametrize("build", [warmup_then_cosine, three_phases])
def test_sequential_lr_matches_torch(build):
    torch = pytest.importorskip("torch")
    ours_opt = scheduled_optimizer()
    ours = lr_sequence(ours_opt, build(optim, lr_scheduler, ours_opt))
    w1, w2 = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    their_opt = torch.optim.SGD([{"params": [w1]}, {"params": [w2], "lr": 0.02}], lr=0.1)
    theirs = lr_sequence(their_opt, build(torch.optim, torch.optim.lr_scheduler, their_opt))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


def test_schedules_by_hand():
    opt = optim.SGD([param()], lr=0.8)
    rates = lr_sequence(opt, lr_scheduler.StepLR(opt, step_size=3, gamma=0.5), steps=7)[:, 0]
    np.testing.assert_allclose(rates, [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2], rtol=1e-15)

    opt = optim.SGD([param()], lr=1.0)
    rates = lr_sequence(opt, lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.2), steps=4)[:, 0]
    half_cosine = [(1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)]  # 1, .854, .5, .146, 0
    np.testing.assert_allclose(rates, [0.2 + 0.8 * c for c in half_cosine], rtol=1e-15)
    assert rates[-1] == pytest.approx(0.2, abs=1e-15)

    opt = optim.SGD([param()], lr=0.4)
    rates = lr_sequence(opt, lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=3), steps=5)[:, 0]
    np.testing.assert_allclose(rates, [0.1, 0.2, 0.3, 0.4, 0.4, 0.4], rtol=1e-15)

    opt = optim.SGD([param()], lr=1.0)
    warmup = lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=2)
    cosine = lr_scheduler.CosineAnnealingLR(opt, T_max=2)
    rates = lr_sequence(opt, lr_scheduler.SequentialLR(opt, [warmup, cosine], milestones=[2]), steps=4)[:, 0]
    np.testing.assert_allclose(rates, [0.5, 0.75, 1.0, 0.5, 0.0], rtol=0, atol=1e-15)


def test_scheduler_records_initial_lr_per_group():
    opt = scheduled_optimizer()
    scheduler = lr_scheduler.StepLR(opt, step_size=2)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.02]
    assert scheduler.base_lrs == [0.1, 0.02]
    lr_sequence(opt, scheduler, steps=3)
    # A second scheduler keeps the first one's base rates, not the decayed current ones.
    assert lr_scheduler.CosineAnnealingLR(opt, T_max=10).base_lrs == [0.1, 0.02]


def test_scheduler_resumes_from_last_epoch():
    opt = scheduled_optimizer()
    reference = lr_sequence(opt, lr_scheduler.StepLR(opt, step_size=3, gamma=0.5), steps=10)
    resumed_opt = scheduled_optimizer()
    for group, base in zip(resumed_opt.param_groups, [0.1, 0.02]):
        group["initial_lr"] = base
    resumed = lr_scheduler.StepLR(resumed_opt, step_size=3, gamma=0.5, last_epoch=5)
    assert resumed.last_epoch == 6
    np.testing.assert_allclose(lr_sequence(resumed_opt, resumed, steps=4), reference[6:], rtol=1e-15)


SCHEDULE_BUILDERS = [
    lambda opt: lr_scheduler.StepLR(opt, step_size=4, gamma=0.3),
    lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=12, eta_min=1e-3),
    lambda opt: lr_scheduler.LinearLR(opt, start_factor=0.2, total_iters=10),
    lambda opt: warmup_then_cosine(optim, lr_scheduler, opt),
    lambda opt: three_phases(optim, lr_scheduler, opt),
]


@pytest.mark.parametrize("build", SCHEDULE_BUILDERS, ids=["StepLR", "Cosine", "Linear", "warmup+cosine", "3 phases"])
def test_scheduler_state_dict_resumes_exactly(build):
    opt = scheduled_optimizer()
    reference = lr_sequence(opt, build(opt), steps=17)

    opt = scheduled_optimizer()
    scheduler = build(opt)
    lr_sequence(opt, scheduler, steps=7)
    saved_optimizer, saved_scheduler = opt.state_dict(), scheduler.state_dict()
    fresh_opt = scheduled_optimizer()
    fresh = build(fresh_opt)  # build the scheduler first: building it writes the epoch-0 rates
    fresh_opt.load_state_dict(saved_optimizer)
    fresh.load_state_dict(saved_scheduler)
    assert fresh.last_epoch == 7
    np.testing.assert_array_equal(lr_sequence(fresh_opt, fresh, steps=10), reference[7:])


def test_scheduler_state_dict_matches_torch():
    torch = pytest.importorskip("torch")
    ours_opt = scheduled_optimizer()
    ours = warmup_then_cosine(optim, lr_scheduler, ours_opt)
    lr_sequence(ours_opt, ours, steps=8)
    w = torch.zeros(2, requires_grad=True)
    their_opt = torch.optim.SGD([{"params": [w]}, {"params": [torch.zeros(2, requires_grad=True)], "lr": 0.02}],
                                lr=0.1)
    theirs = warmup_then_cosine(torch.optim, torch.optim.lr_scheduler, their_opt)
    lr_sequence(their_opt, theirs, steps=8)
    ours, theirs = ours.state_dict(), theirs.state_dict()
    assert ours["last_epoch"] == theirs["last_epoch"] == 8
    assert ours["_milestones"] == theirs["_milestones"]
    np.testing.assert_allclose(ours["_last_lr"], theirs["_last_lr"], rtol=1e-12)
    for our_child, their_child in zip(ours["_schedulers"], theirs["_schedulers"]):
        assert set(our_child) <= set(their_child)
        for key in our_child:
            np.testing.assert_allclose(our_child[key], their_child[key], rtol=1e-12)


def test_scheduler_load_state_dict_rejects_a_mismatched_state():
    opt = scheduled_optimizer()
    step = lr_scheduler.StepLR(opt, step_size=2)
    cosine_state = lr_scheduler.CosineAnnealingLR(opt, T_max=5).state_dict()
    keys_message = r"missing keys \['gamma', 'step_size'\], unexpected keys \['T_max', 'eta_min'\]"
    with pytest.raises(ValueError, match=keys_message):
        step.load_state_dict(cosine_state)
    one_group = lr_scheduler.StepLR(optim.SGD([param()], lr=0.1), step_size=2).state_dict()
    with pytest.raises(ValueError, match="learning rates for 1 parameter groups but the optimizer has 2"):
        step.load_state_dict(one_group)
    with pytest.raises(TypeError, match="StepLR.load_state_dict: expected a dict, got list"):
        step.load_state_dict([])
    sequential = warmup_then_cosine(optim, lr_scheduler, opt)
    saved = sequential.state_dict()
    saved["_schedulers"] = saved["_schedulers"][:1]
    with pytest.raises(ValueError, match="saved state holds 1 schedulers, this SequentialLR runs 2"):
        sequential.load_state_dict(saved)


def other_optimizer_scheduler(opt):
    return lr_scheduler.StepLR(scheduled_optimizer(), step_size=2)


BAD_SCHEDULER_ARGUMENTS = [
    (lambda opt: lr_scheduler.StepLR(object(), step_size=2), TypeError, "StepLR: expected an Optimizer, got object"),
    (lambda opt: lr_scheduler.StepLR(opt, step_size=0), ValueError, "StepLR: step_size must be >= 1, got 0"),
    (lambda opt: lr_scheduler.StepLR(opt, step_size=2.5), TypeError, "StepLR: step_size must be an int, got 2.5"),
    (lambda opt: lr_scheduler.StepLR(opt, step_size=2, gamma=-0.1), ValueError, "StepLR: gamma must be >= 0"),
    (lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=0), ValueError, "CosineAnnealingLR: T_max must be >= 1"),
    (lambda opt: lr_scheduler.LinearLR(opt, start_factor=0), ValueError, r"start_factor must be in \(0, 1\], got 0"),
    (lambda opt: lr_scheduler.LinearLR(opt, start_factor=1.5), ValueError, r"start_factor must be in \(0, 1\]"),
    (lambda opt: lr_scheduler.LinearLR(opt, end_factor=2.0), ValueError, r"end_factor must be in \[0, 1\], got 2.0"),
    (lambda opt: lr_scheduler.LinearLR(opt, total_iters=0), ValueError, "LinearLR: total_iters must be >= 1"),
    (lambda opt: lr_scheduler.StepLR(opt, step_size=2, last_epoch=3), KeyError, "needs 'initial_lr' in param_groups"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [], milestones=[]), ValueError, "expects at least one scheduler"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2)], milestones=[3]), ValueError,
     "expects one milestone fewer than schedulers, got 1 schedulers and 1 milestones"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2), other_optimizer_scheduler(opt)],
                                           milestones=[3]),
     ValueError, r"schedulers\[1\] \(StepLR\) drives another one"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2), opt], milestones=[3]), TypeError,
     r"schedulers\[1\] must be an LRScheduler, got SGD"),
    (lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2)] * 3, milestones=[5, 5]), ValueError,
     r"milestones must be strictly increasing, got \[5, 5\]"),
]


@pytest.mark.parametrize("build, error, match", BAD_SCHEDULER_ARGUMENTS)
def test_bad_scheduler_arguments_raise_clear_errors(build, error, match):
    with pytest.raises(error, match=match):
        build(scheduled_optimizer())
