"""OneCycleLR and ReduceLROnPlateau: whole schedules (rates and momenta) step for step as PyTorch's,
saving and resuming, and the errors. The other schedules are tested in test_optim.py."""

import importlib
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl
from minidl import optim
from minidl.optim.lr_scheduler import OneCycleLR, ReduceLROnPlateau, SequentialLR, StepLR


def test_the_module_path_is_pytorchs():
    module = importlib.import_module("minidl.optim.lr_scheduler")
    assert module.OneCycleLR is OneCycleLR and module.ReduceLROnPlateau is ReduceLROnPlateau
    assert optim.lr_scheduler is module


def param():
    return minidl.tensor(np.ones(2), requires_grad=True)


def two_group_optimizer(module, name, make_param, **kwargs):
    """``module.optim.<name>`` over two groups (base rates 0.1 and 0.02), as in test_optim.py."""
    return getattr(module.optim, name)([{"params": [make_param()]}, {"params": [make_param()], "lr": 0.02}],
                                       lr=0.1, **kwargs)


def torch_param(torch):
    return torch.zeros(2, requires_grad=True)


def momenta(optimizer):
    """Each group's momentum: ``momentum``, or the first of ``betas``."""
    return [group["betas"][0] if "betas" in group else group["momentum"] for group in optimizer.param_groups]


def one_cycle_sequence(optimizer, scheduler, steps):
    """Rates and momenta after construction and after each of ``steps`` steps: arrays (steps + 1, groups)."""
    rates, moms = [scheduler.get_last_lr()], [momenta(optimizer)]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr())
        moms.append(momenta(optimizer))
        assert rates[-1] == [group["lr"] for group in optimizer.param_groups]
    return np.array(rates), np.array(moms)


def compare_one_cycle(name, optimizer_kwargs, kwargs, steps):
    """Run OneCycleLR in minidl and in torch over ``steps`` steps; the rates and momenta must agree."""
    torch = pytest.importorskip("torch")
    ours_opt = two_group_optimizer(minidl, name, param, **optimizer_kwargs)
    ours = one_cycle_sequence(ours_opt, OneCycleLR(ours_opt, **kwargs), steps)
    their_opt = two_group_optimizer(torch, name, lambda: torch_param(torch), **optimizer_kwargs)
    theirs = one_cycle_sequence(their_opt, torch.optim.lr_scheduler.OneCycleLR(their_opt, **kwargs), steps)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12, atol=1e-15)
    return ours


# ---------------------------------------------------------------- OneCycleLR
ONE_CYCLE_CASES = [
    ("SGD", {"momentum": 0.9}, {"max_lr": 1.0, "total_steps": 100}),
    ("SGD", {"momentum": 0.9}, {"max_lr": [1.0, 0.3], "total_steps": 50, "anneal_strategy": "linear"}),
    ("SGD", {"momentum": 0.9}, {"max_lr": 0.5, "epochs": 4, "steps_per_epoch": 13, "pct_start": 0.25}),
    ("SGD", {"momentum": 0.9}, {"max_lr": 0.5, "total_steps": 60, "three_phase": True}),
    ("SGD", {"momentum": 0.9}, {"max_lr": 0.5, "total_steps": 60, "three_phase": True, "anneal_strategy": "linear",
                                "base_momentum": [0.8, 0.7], "max_momentum": [0.9, 0.99]}),
    ("SGD", {}, {"max_lr": 0.5, "total_steps": 40, "cycle_momentum": False, "div_factor": 10.0,
                 "final_div_factor": 100.0}),
    ("SGD", {"momentum": 0.5}, {"max_lr": 0.5, "total_steps": 1}),
    ("SGD", {"momentum": 0.5}, {"max_lr": 0.5, "total_steps": 30, "pct_start": 0.0}),
    ("Adam", {}, {"max_lr": 0.01, "total_steps": 80}),
    ("AdamW", {"betas": (0.8, 0.99)}, {"max_lr": 0.01, "total_steps": 80, "three_phase": True}),
    ("RMSprop", {"momentum": 0.9}, {"max_lr": 0.01, "total_steps": 25, "anneal_strategy": "linear"}),
]


def case_id(case):
    name, optimizer_kwargs, kwargs = case
    return "-".join([name, *(f"{k}={v}" for k, v in {**optimizer_kwargs, **kwargs}.items())])


@pytest.mark.parametrize("case", ONE_CYCLE_CASES, ids=case_id)
def test_one_cycle_matches_torch_over_the_whole_schedule(case):
    name, optimizer_kwargs, kwargs = case
    total = kwargs.get("total_steps") or kwargs["epochs"] * kwargs["steps_per_epoch"]
    rates, _ = compare_one_cycle(name, optimizer_kwargs, kwargs, total)
    assert rates.shape == (total + 1, 2)


@settings(max_examples=40)
@given(total_steps=st.integers(1, 120), pct_start=st.floats(0.0, 1.0), three_phase=st.booleans(),
       anneal_strategy=st.sampled_from(["cos", "linear"]), div_factor=st.floats(1.0, 100.0),
       final_div_factor=st.floats(1.0, 1e5), name=st.sampled_from(["SGD", "Adam"]))
def test_one_cycle_matches_torch_across_settings(total_steps, pct_start, three_phase, anneal_strategy, div_factor,
                                                 final_div_factor, name):
    torch = pytest.importorskip("torch")
    kwargs = {"max_lr": 0.4, "total_steps": total_steps, "pct_start": pct_start, "three_phase": three_phase,
              "anneal_strategy": anneal_strategy, "div_factor": div_factor, "final_div_factor": final_div_factor}
    optimizer_kwargs = {"momentum": 0.9} if name == "SGD" else {}
    try:
        their_opt = two_group_optimizer(torch, name, lambda: torch_param(torch), **optimizer_kwargs)
        theirs = one_cycle_sequence(their_opt, torch.optim.lr_scheduler.OneCycleLR(their_opt, **kwargs), total_steps)
    except ZeroDivisionError:
        # A phase of length 0 (pct_start * total_steps == 1, ...): refused when built instead.
        with pytest.raises(ValueError, match="OneCycleLR: pct_start=.* gives phase .* no length"):
            OneCycleLR(two_group_optimizer(minidl, name, param, **optimizer_kwargs), **kwargs)
        return
    ours_opt = two_group_optimizer(minidl, name, param, **optimizer_kwargs)
    ours = one_cycle_sequence(ours_opt, OneCycleLR(ours_opt, **kwargs), total_steps)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12, atol=1e-15)


def test_one_cycle_by_hand():
    # max_lr 1, div_factor 4: from 0.25; final_div_factor 2.5: down to 0.1. pct_start 0.4 of 5
    # steps: the rise ends at step 0.4 * 5 - 1 = 1, the descent runs over steps 1..4.
    opt = optim.SGD([param()], lr=0.1, momentum=0.5)
    scheduler = OneCycleLR(opt, max_lr=1.0, total_steps=5, pct_start=0.4, anneal_strategy="linear",
                           div_factor=4.0, final_div_factor=2.5, base_momentum=0.8, max_momentum=0.9)
    rates, moms = one_cycle_sequence(opt, scheduler, steps=4)
    np.testing.assert_allclose(rates[:, 0], [0.25, 1.0, 0.7, 0.4, 0.1], rtol=0, atol=1e-15)
    np.testing.assert_allclose(moms[:, 0], [0.9, 0.8, 0.8 + 0.1 / 3, 0.8 + 0.2 / 3, 0.9], rtol=0, atol=1e-15)
    group = opt.param_groups[0]
    assert (group["initial_lr"], group["max_lr"], group["min_lr"]) == (0.25, 1.0, 0.1)
    assert (group["max_momentum"], group["base_momentum"]) == (0.9, 0.8)

    opt = optim.SGD([param()], lr=0.1)
    scheduler = OneCycleLR(opt, max_lr=1.0, total_steps=3, pct_start=0.5, div_factor=2.0, final_div_factor=5.0,
                           cycle_momentum=False)
    # The rise ends at step 0.5: step 0 alone rises (0.5); the cosine from 1.0 to 0.1 spans steps
    # 0.5..2, so step 1 is a third of the way (cos(pi/3) = 1/2) and step 2 the end.
    rates, moms = one_cycle_sequence(opt, scheduler, steps=2)
    np.testing.assert_allclose(rates[:, 0], [0.5, 0.1 + 0.9 * 0.75, 0.1], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(moms[:, 0], [0.0, 0.0, 0.0])  # the optimiser's momentum is left alone


def test_one_cycle_refuses_to_step_past_total_steps():
    torch = pytest.importorskip("torch")
    opt = optim.SGD([param()], lr=0.1, momentum=0.9)
    scheduler = OneCycleLR(opt, max_lr=1.0, total_steps=4)
    their_opt = torch.optim.SGD([torch_param(torch)], lr=0.1, momentum=0.9)
    theirs = torch.optim.lr_scheduler.OneCycleLR(their_opt, max_lr=1.0, total_steps=4)
    for _ in range(4):  # the value after the last batch's step is computed, as in PyTorch
        scheduler.step()
        their_opt.step()
        theirs.step()
    with pytest.raises(ValueError, match="Tried to step 5 times"):
        theirs.step()
    with pytest.raises(ValueError, match="OneCycleLR: tried to step 5 times, but the schedule has total_steps=4"):
        scheduler.step()


def one_cycle_adam(opt, scheduler_module=minidl.optim.lr_scheduler):
    return scheduler_module.OneCycleLR(opt, max_lr=[0.05, 0.01], epochs=3, steps_per_epoch=7, three_phase=True)


def test_one_cycle_state_dict_resumes_exactly():
    def build():
        opt = two_group_optimizer(minidl, "Adam", param)
        return opt, one_cycle_adam(opt)

    opt, scheduler = build()
    reference = one_cycle_sequence(opt, scheduler, steps=21)
    opt, scheduler = build()
    one_cycle_sequence(opt, scheduler, steps=9)
    saved_optimizer, saved_scheduler = opt.state_dict(), scheduler.state_dict()

    fresh_opt, fresh = build()
    fresh_opt.load_state_dict(saved_optimizer)
    fresh.load_state_dict(saved_scheduler)
    resumed = one_cycle_sequence(fresh_opt, fresh, steps=12)
    np.testing.assert_array_equal(resumed[0], reference[0][9:])
    np.testing.assert_array_equal(resumed[1], reference[1][9:])

    # Built with last_epoch from the saved optimiser's groups, as PyTorch resumes.
    resumed_opt = two_group_optimizer(minidl, "Adam", param)
    resumed_opt.load_state_dict(saved_optimizer)
    at_nine = OneCycleLR(resumed_opt, max_lr=[0.05, 0.01], epochs=3, steps_per_epoch=7, three_phase=True,
                         last_epoch=8)
    resumed = one_cycle_sequence(resumed_opt, at_nine, steps=12)
    np.testing.assert_allclose(resumed[0], reference[0][9:], rtol=1e-15)


def test_one_cycle_state_dict_matches_torch():
    torch = pytest.importorskip("torch")
    ours_opt = two_group_optimizer(minidl, "Adam", param)
    ours = one_cycle_adam(ours_opt)
    one_cycle_sequence(ours_opt, ours, steps=5)
    their_opt = two_group_optimizer(torch, "Adam", lambda: torch_param(torch))
    theirs = one_cycle_adam(their_opt, torch.optim.lr_scheduler)
    one_cycle_sequence(their_opt, theirs, steps=5)
    ours, theirs = ours.state_dict(), theirs.state_dict()
    assert set(ours) <= set(theirs)
    for key, value in ours.items():
        if key == "_schedule_phases":
            assert value == theirs[key]
        elif isinstance(value, str | bool):
            assert value == theirs[key], key
        else:
            np.testing.assert_allclose(value, theirs[key], rtol=1e-12, err_msg=key)
    our_groups, their_groups = ours_opt.state_dict()["param_groups"], their_opt.state_dict()["param_groups"]
    for our_group, their_group in zip(our_groups, their_groups):
        for key in ("initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum", "lr"):
            assert our_group[key] == pytest.approx(their_group[key], rel=1e-12), key
        assert our_group["betas"] == pytest.approx(their_group["betas"], rel=1e-12)


def adadelta(opt):
    return OneCycleLR(opt, max_lr=1.0, total_steps=10)


BAD_ONE_CYCLE_ARGUMENTS = [
    (lambda opt: OneCycleLR(object(), max_lr=1.0, total_steps=10), TypeError, "OneCycleLR: expected an Optimizer"),
    (lambda opt: OneCycleLR(opt, max_lr=1.0), ValueError,
     "give the length of the schedule, total_steps or both epochs and steps_per_epoch"),
    (lambda opt: OneCycleLR(opt, max_lr=1.0, epochs=3), ValueError,
     "got total_steps=None, epochs=3, steps_per_epoch=None"),
    (lambda opt: OneCycleLR(opt, max_lr=1.0, total_steps=0), ValueError, "OneCycleLR: total_steps must be >= 1, got 0"),
    (lambda opt: OneCycleLR(opt, max_lr=1.0, total_steps=10.0), TypeError, "total_steps must be an int, got 10.0"),
    (lambda opt: OneCycleLR(opt, max_lr=1.0, epochs=0, steps_per_epoch=5), ValueError, "epochs must be >= 1"),
    (lambda opt: OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=1.5), ValueError,
     r"pct_start must be in \[0, 1\], got 1.5"),
    (lambda opt: OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="exp"), ValueError,
     "anneal_strategy must be 'cos' or 'linear', got 'exp'"),
    (lambda opt: OneCycleLR(opt, max_lr=-1.0, total_steps=10), ValueError, "OneCycleLR: max_lr must be >= 0"),
    (lambda opt: OneCycleLR(opt, max_lr=[1.0], total_steps=10), ValueError,
     "max_lr must hold one value per parameter group, got 1 values for 2 groups"),
    (lambda opt: OneCycleLR(opt, max_lr=[1.0, -2.0], total_steps=10), ValueError, r"max_lr\[1\] must be >= 0"),
    (lambda opt: OneCycleLR(opt, max_lr=1.0, total_steps=10, div_factor=0.0), ValueError, "div_factor must be > 0"),
    (lambda opt: OneCycleLR(opt, max_lr=1.0, total_steps=10, base_momentum=[0.8]), ValueError,
     "base_momentum must hold one value per parameter group"),
    (lambda opt: OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.1), ValueError,
     r"pct_start=0.1 with total_steps=10 gives phase 1 of 2 no length \(it starts and ends at step 0\)"),
    (lambda opt: OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=1.0), ValueError,
     "gives phase 2 of 2 no length"),
    (lambda opt: adadelta(optim.Adadelta([param()])), ValueError,
     "cycle_momentum=True needs an optimizer with a momentum .* but Adadelta has neither; pass cycle_momentum=False"),
    (lambda opt: OneCycleLR(opt, max_lr=1.0, total_steps=10, last_epoch=3), KeyError,
     "resuming at last_epoch=3 needs 'max_lr' in param_groups"),
]


@pytest.mark.parametrize("build, error, match", BAD_ONE_CYCLE_ARGUMENTS)
def test_bad_one_cycle_arguments_raise_clear_errors(build, error, match):
    with pytest.raises(error, match=match):
        build(two_group_optimizer(minidl, "SGD", param, momentum=0.9))


def test_one_cycle_without_momentum_cycling_drives_adadelta():
    opt = optim.Adadelta([param()])
    scheduler = OneCycleLR(opt, max_lr=1.0, total_steps=10, cycle_momentum=False)
    rates = [scheduler.get_last_lr()[0]]
    for _ in range(9):
        scheduler.step()
        rates.append(opt.param_groups[0]["lr"])
    # The rise ends at step 0.3 * 10 - 1 = 2, at max_lr; the last batch's step runs at max_lr / 25 / 1e4.
    assert rates[0] == pytest.approx(1.0 / 25, rel=1e-12)
    assert rates[2] == max(rates) == 1.0
    assert rates[9] == pytest.approx(1.0 / 25 / 1e4, rel=1e-12)
    assert "momentum" not in opt.param_groups[0] and "betas" not in opt.param_groups[0]


# ---------------------------------------------------------------- ReduceLROnPlateau
def plateau_sequence(optimizer, scheduler, metrics):
    """The rates after each measurement, and the counters PyTorch keeps, step by step."""
    rates, counters = [], []
    for value in metrics:
        scheduler.step(value)
        rates.append([group["lr"] for group in optimizer.param_groups])
        assert scheduler.get_last_lr() == rates[-1]
        counters.append((scheduler.best, scheduler.num_bad_epochs, scheduler.cooldown_counter, scheduler.last_epoch))
    return np.array(rates), counters


def compare_plateau(kwargs, metrics):
    torch = pytest.importorskip("torch")
    ours_opt = two_group_optimizer(minidl, "SGD", param)
    ours = plateau_sequence(ours_opt, ReduceLROnPlateau(ours_opt, **kwargs), metrics)
    their_opt = two_group_optimizer(torch, "SGD", lambda: torch_param(torch))
    theirs = plateau_sequence(their_opt, torch.optim.lr_scheduler.ReduceLROnPlateau(their_opt, **kwargs), metrics)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-15, atol=0)
    assert ours[1] == theirs[1]
    return ours


def noisy_decline(steps=60, seed=0):
    """A validation loss that falls, then stalls with noise: the case the schedule is made for."""
    rng = np.random.default_rng(seed)
    return [float(max(1.0 - 0.05 * t, 0.3) + 0.02 * rng.standard_normal()) for t in range(steps)]


PLATEAU_CASES = [
    {},
    {"patience": 2, "factor": 0.5},
    {"patience": 3, "cooldown": 4, "factor": 0.3, "threshold": 1e-2},
    {"patience": 1, "threshold_mode": "abs", "threshold": 0.01, "min_lr": 0.005},
    {"patience": 0, "min_lr": [0.01, 0.001], "factor": 0.5},
    {"patience": 2, "factor": 0.9, "eps": 0.005},  # cuts smaller than eps are skipped
]


@pytest.mark.parametrize("kwargs", PLATEAU_CASES, ids=str)
@pytest.mark.parametrize("mode", ["min", "max"])
def test_plateau_matches_torch(kwargs, mode):
    metrics = noisy_decline()
    if mode == "max":
        metrics = [1.0 - value for value in metrics]  # an accuracy that rises, then stalls
    compare_plateau({"mode": mode, **kwargs}, metrics)


@settings(max_examples=40)
@given(metrics=st.lists(st.sampled_from([0.5, 1.0, 1.0001, 2.0, -1.0, 0.0]) | st.floats(-10, 10), max_size=40),
       mode=st.sampled_from(["min", "max"]), threshold_mode=st.sampled_from(["rel", "abs"]),
       threshold=st.sampled_from([0.0, 1e-4, 0.1]), patience=st.integers(0, 4), cooldown=st.integers(0, 3),
       factor=st.floats(0.0, 0.99), min_lr=st.sampled_from([0.0, 1e-3]))
def test_plateau_matches_torch_on_drawn_measurements(metrics, mode, threshold_mode, threshold, patience, cooldown,
                                                     factor, min_lr):
    compare_plateau({"mode": mode, "threshold_mode": threshold_mode, "threshold": threshold, "patience": patience,
                     "cooldown": cooldown, "factor": factor, "min_lr": min_lr}, metrics)


def test_plateau_by_hand():
    opt = optim.SGD([param()], lr=1.0)
    scheduler = ReduceLROnPlateau(opt, patience=2, factor=0.5, cooldown=1)
    assert opt.param_groups[0]["lr"] == 1.0 and scheduler.get_last_lr() == [1.0]  # building changes nothing
    # 1.0 is the best; three steps without improvement exceed patience 2: cut, then one step of
    # cooldown in which the bad step is not counted, then three more bad steps: cut again.
    rates, counters = plateau_sequence(opt, scheduler, [1.0, 1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(rates[:, 0], [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25])
    assert [bad for _, bad, _, _ in counters] == [0, 1, 2, 0, 0, 1, 2, 0]
    assert scheduler.best == 1.0 and scheduler.in_cooldown

    opt = optim.SGD([param()], lr=1.0)
    scheduler = ReduceLROnPlateau(opt, mode="max", patience=0, factor=0.1, min_lr=0.05)
    rates, _ = plateau_sequence(opt, scheduler, [0.5, 0.6, 0.6, 0.7, 0.7, float("nan")])
    np.testing.assert_allclose(rates[:, 0], [1.0, 1.0, 0.1, 0.1, 0.05, 0.05], rtol=1e-15)  # floored at min_lr


def test_plateau_takes_a_tensor_measurement():
    opt = optim.SGD([param()], lr=1.0)
    scheduler = ReduceLROnPlateau(opt, patience=0)
    scheduler.step(minidl.tensor(2.0))
    scheduler.step(minidl.tensor([3.0]).sum())
    assert scheduler.best == 2.0 and opt.param_groups[0]["lr"] == pytest.approx(0.1)


def test_plateau_state_dict_resumes_exactly_and_matches_torch():
    torch = pytest.importorskip("torch")
    metrics = noisy_decline()

    def build(opt, scheduler_module=minidl.optim.lr_scheduler):
        return scheduler_module.ReduceLROnPlateau(opt, patience=2, cooldown=1, factor=0.5, min_lr=[0.01, 0.001])

    opt = two_group_optimizer(minidl, "SGD", param)
    reference, _ = plateau_sequence(opt, build(opt), metrics)
    opt = two_group_optimizer(minidl, "SGD", param)
    scheduler = build(opt)
    plateau_sequence(opt, scheduler, metrics[:30])
    saved_optimizer, saved_scheduler = opt.state_dict(), scheduler.state_dict()
    fresh_opt = two_group_optimizer(minidl, "SGD", param)
    fresh = build(fresh_opt)
    fresh_opt.load_state_dict(saved_optimizer)
    fresh.load_state_dict(saved_scheduler)
    resumed, _ = plateau_sequence(fresh_opt, fresh, metrics[30:])
    np.testing.assert_array_equal(resumed, reference[30:])

    their_opt = two_group_optimizer(torch, "SGD", lambda: torch_param(torch))
    theirs = build(their_opt, torch.optim.lr_scheduler)
    plateau_sequence(their_opt, theirs, metrics[:30])
    theirs = theirs.state_dict()
    assert set(saved_scheduler) <= set(theirs)
    for key, value in saved_scheduler.items():
        assert value == (pytest.approx(theirs[key], rel=1e-15) if isinstance(value, float | list) else theirs[key]), key


def test_plateau_with_a_group_added_later():
    opt = optim.SGD([param()], lr=1.0)
    scheduler = ReduceLROnPlateau(opt, patience=0, min_lr=0.2)
    opt.add_param_group({"params": [param()], "lr": 0.5})
    plateau_sequence(opt, scheduler, [1.0, 1.0])
    assert [group["lr"] for group in opt.param_groups] == [pytest.approx(0.2), pytest.approx(0.2)]

    opt = optim.SGD([param()], lr=1.0)
    scheduler = ReduceLROnPlateau(opt, patience=0, min_lr=[0.2])
    opt.add_param_group({"params": [param()], "lr": 0.5})
    with pytest.raises(RuntimeError, match="the optimizer has 2 parameter groups but min_lr lists 1"):
        plateau_sequence(opt, scheduler, [1.0, 1.0])


BAD_PLATEAU_ARGUMENTS = [
    (lambda opt: ReduceLROnPlateau(object()), TypeError, "ReduceLROnPlateau: expected an Optimizer, got object"),
    (lambda opt: ReduceLROnPlateau(opt, factor=1.0), ValueError, "ReduceLROnPlateau: factor must be < 1"),
    (lambda opt: ReduceLROnPlateau(opt, factor=-0.5), ValueError, "ReduceLROnPlateau: factor must be >= 0"),
    (lambda opt: ReduceLROnPlateau(opt, patience=-1), ValueError, "patience must be >= 0, got -1"),
    (lambda opt: ReduceLROnPlateau(opt, patience=2.5), TypeError, "patience must be an int, got 2.5"),
    (lambda opt: ReduceLROnPlateau(opt, cooldown=-1), ValueError, "cooldown must be >= 0"),
    (lambda opt: ReduceLROnPlateau(opt, threshold=-0.1), ValueError, "threshold must be >= 0"),
    (lambda opt: ReduceLROnPlateau(opt, eps=-1.0), ValueError, "eps must be >= 0"),
    (lambda opt: ReduceLROnPlateau(opt, mode="minimum"), ValueError, "mode must be 'min' or 'max', got 'minimum'"),
    (lambda opt: ReduceLROnPlateau(opt, threshold_mode="relative"), ValueError,
     "threshold_mode must be 'rel' or 'abs', got 'relative'"),
    (lambda opt: ReduceLROnPlateau(opt, min_lr=[0.1]), ValueError,
     "min_lr must hold one value per parameter group, got 1 values for 2 groups"),
    (lambda opt: ReduceLROnPlateau(opt, min_lr=-0.1), ValueError, "ReduceLROnPlateau: min_lr must be >= 0"),
    (lambda opt: ReduceLROnPlateau(opt).step("0.5"), TypeError,
     "ReduceLROnPlateau.step: metrics must be a number or a one-element Tensor .* got str"),
    (lambda opt: ReduceLROnPlateau(opt).step(None), TypeError, "metrics must be a number .* got NoneType"),
    (lambda opt: SequentialLR(opt, [StepLR(opt, 2), ReduceLROnPlateau(opt)], milestones=[3]), ValueError,
     r"SequentialLR: schedulers\[1\] is a ReduceLROnPlateau, which steps on a measured value"),
]


@pytest.mark.parametrize("build, error, match", BAD_PLATEAU_ARGUMENTS)
def test_bad_plateau_arguments_raise_clear_errors(build, error, match):
    with pytest.raises(error, match=match):
        build(two_group_optimizer(minidl, "SGD", param))


def test_plateau_load_state_dict_refuses_another_schedulers_state():
    opt = two_group_optimizer(minidl, "SGD", param)
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau.load_state_dict: missing keys \[.*'best'"):
        ReduceLROnPlateau(opt).load_state_dict(StepLR(opt, step_size=2).state_dict())
    one_group = ReduceLROnPlateau(optim.SGD([param()], lr=0.1)).state_dict()
    with pytest.raises(ValueError, match="learning rates for 1 parameter groups but the optimizer has 2"):
        ReduceLROnPlateau(opt).load_state_dict(one_group)
    assert math.isinf(ReduceLROnPlateau(opt).best)
