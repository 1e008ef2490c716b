"""Learning-rate schedules: set each parameter group's ``lr`` as a function of the epoch.

    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(90):
        train_one_epoch(model, optimizer)   # calls optimizer.step() once per batch
        scheduler.step()                    # then move to the next epoch's learning rate

Building a scheduler records each group's starting rate as ``group["initial_lr"]`` (kept by the
first scheduler that sees the group) and sets the rate for epoch 0. ``step()`` advances
``last_epoch`` by one and writes

    group["lr"] = schedule(initial_lr, last_epoch)

for every group, so groups with different base rates follow the same shape of schedule. Each
schedule here is written in closed form, a function of the base rate and the epoch alone; the
values equal PyTorch's, which computes most of them incrementally from the previous rate. One
consequence: two schedulers stepped side by side on the same optimiser overwrite each other
instead of multiplying; run schedules one after another with ``SequentialLR``.

Two schedules differ from that pattern, as in PyTorch:

- ``OneCycleLR`` is stepped once per *batch*, not per epoch, and also cycles the momentum;
- ``ReduceLROnPlateau`` is stepped with a measurement, ``scheduler.step(val_loss)``, and cuts
  the rate when the measurement stops improving; it has no closed form.
"""

import copy
import math
from bisect import bisect_right
from numbers import Integral

from minidl.optim.optimizer import Optimizer, check_range


def _check_int(owner, name, value, low):
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{owner}: {name} must be an int, got {value!r}")
    if value < low:
        raise ValueError(f"{owner}: {name} must be >= {low}, got {value}")


def _check_optimizer(owner, optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner}: expected an Optimizer, got {type(optimizer).__name__}")


def _per_group(owner, name, value, optimizer):
    """``value`` for every parameter group: a list of one number per group, or one number for all."""
    count = len(optimizer.param_groups)
    if not isinstance(value, list | tuple):
        check_range(owner, name, value, 0)
        return [value] * count
    if len(value) != count:
        raise ValueError(
            f"{owner}: {name} must hold one value per parameter group, got {len(value)} values "
            f"for {count} groups"
        )
    for i, v in enumerate(value):
        check_range(owner, f"{name}[{i}]", v, 0)
    return list(value)


class LRScheduler:
    """Base class: owns ``base_lrs`` and ``last_epoch`` and writes the rates into the optimiser.

    Args:
        optimizer: the ``Optimizer`` whose groups' ``lr`` this scheduler sets.
        last_epoch: the last epoch already done; -1 (default) starts a new schedule. To resume,
            pass the saved epoch; the groups must then already hold ``initial_lr``.

    Subclasses implement ``get_lr()``: the list of rates, one per group, for epoch ``last_epoch``.
    """

    def __init__(self, optimizer, last_epoch=-1):
        _check_optimizer(self._name, optimizer)
        _check_int(self._name, "last_epoch", last_epoch, -1)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            self._require_group_keys(["initial_lr"], last_epoch)
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def _require_group_keys(self, keys, last_epoch):
        """Refuse to resume when the groups lack what the first build of the schedule stored in them."""
        for i, group in enumerate(self.optimizer.param_groups):
            for key in keys:
                if key not in group:
                    raise KeyError(
                        f"{self._name}: resuming at last_epoch={last_epoch} needs {key!r} in "
                        f"param_groups[{i}]; load the optimizer's state_dict before building the scheduler"
                    )

    @property
    def _name(self):
        return type(self).__name__

    def get_lr(self):
        """Learning rates for epoch ``self.last_epoch``, one per parameter group."""
        raise NotImplementedError(f"{self._name} does not implement get_lr")

    def get_last_lr(self):
        """The rates the last ``step()`` (or the constructor) wrote into the optimiser."""
        return list(self._last_lr)

    def step(self):
        """Advance one epoch and set every group's ``lr`` for it. Call after ``optimizer.step()``."""
        self.last_epoch += 1
        self._update_lr()

    def _update_lr(self):
        rates = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, rates, strict=True):
            group["lr"] = lr
        self._last_lr = list(rates)

    def state_dict(self):
        """A copy of every attribute except the optimiser (PyTorch's layout)."""
        return {key: copy.deepcopy(value) for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore a state saved by ``state_dict`` from the same kind of scheduler.

        The learning rates themselves are part of the optimiser's state: load that too.
        """
        self._check_state_dict(state_dict)
        self.__dict__.update(copy.deepcopy(state_dict))

    def _check_state_dict(self, state_dict):
        where = f"{self._name}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise TypeError(f"{where}: expected a dict, got {type(state_dict).__name__}")
        expected = set(self.state_dict())
        missing, unexpected = sorted(expected - set(state_dict)), sorted(set(state_dict) - expected)
        if missing or unexpected:
            raise ValueError(
                f"{where}: missing keys {missing}, unexpected keys {unexpected}; "
                "was the state saved by another kind of scheduler?"
            )
        if len(state_dict["_last_lr"]) != len(self.optimizer.param_groups):
            raise ValueError(
                f"{where}: the saved state has learning rates for {len(state_dict['_last_lr'])} "
                f"parameter groups but the optimizer has {len(self.optimizer.param_groups)}"
            )


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs.

        lr(t) = base_lr * gamma ** (t // step_size)
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        _check_int("StepLR", "step_size", step_size, 1)
        check_range("StepLR", "gamma", gamma, 0)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Follow half a cosine from the base rate down to ``eta_min`` over ``T_max`` epochs.

        lr(t) = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2

    The rate falls slowly at first, fastest mid-way, and flattens out near ``eta_min`` at
    t = T_max. Past T_max the cosine carries on and the rate rises again (as in PyTorch);
    set T_max to the length of training to anneal once.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        _check_int("CosineAnnealingLR", "T_max", T_max, 1)
        check_range("CosineAnnealingLR", "eta_min", eta_min, 0)
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base_lr - self.eta_min) * cosine for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the rate by a factor that moves linearly from ``start_factor`` to ``end_factor``.

        lr(t) = base_lr * (start_factor + (end_factor - start_factor) * min(t, total_iters) / total_iters)

    The usual use is a warm-up: start at a fraction of the rate while the early, large and noisy
    gradients would otherwise throw the weights far off, and reach the full rate after
    ``total_iters`` epochs, where it stays.
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        check_range("LinearLR", "start_factor", start_factor, 0)
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor}")
        check_range("LinearLR", "end_factor", end_factor, 0)
        if not end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor}")
        _check_int("LinearLR", "total_iters", total_iters, 1)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        progress = min(self.last_epoch, self.total_iters) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * progress
        return [base_lr * factor for base_lr in self.base_lrs]


class SequentialLR(LRScheduler):
    """Run schedulers one after another: ``schedulers[i]`` takes over at epoch ``milestones[i-1]``.

    Each scheduler restarts its own count at 0 when it takes over, so

        warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
        cosine = CosineAnnealingLR(opt, T_max=95)
        scheduler = SequentialLR(opt, [warmup, cosine], milestones=[5])

    warms up over epochs 0-4 and anneals over epochs 5-100 from the full base rate.
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        schedulers, milestones = list(schedulers), list(milestones)
        if len(schedulers) == 0:
            raise ValueError("SequentialLR: expects at least one scheduler, got none")
        for i, scheduler in enumerate(schedulers):
            if not isinstance(scheduler, LRScheduler):
                raise TypeError(f"SequentialLR: schedulers[{i}] must be an LRScheduler, got {type(scheduler).__name__}")
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(
                    f"SequentialLR: schedulers[{i}] is a ReduceLROnPlateau, which steps on a measured "
                    "value and has no schedule by epoch; step it on its own"
                )
            if scheduler.optimizer is not optimizer:
                raise ValueError(
                    f"SequentialLR: all schedulers must belong to the given optimizer, but schedulers[{i}] "
                    f"({scheduler._name}) drives another one"
                )
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR: expects one milestone fewer than schedulers, got {len(schedulers)} "
                f"schedulers and {len(milestones)} milestones"
            )
        for i, milestone in enumerate(milestones):
            _check_int("SequentialLR", f"milestones[{i}]", milestone, 1)
        if any(a >= b for a, b in zip(milestones, milestones[1:])):
            raise ValueError(f"SequentialLR: milestones must be strictly increasing, got {milestones}")
        self._schedulers = schedulers
        self._milestones = milestones
        super().__init__(optimizer, last_epoch)

    def _update_lr(self):
        # The active scheduler runs at its own epoch count, which starts at its milestone.
        index = bisect_right(self._milestones, self.last_epoch)
        start = self._milestones[index - 1] if index > 0 else 0
        scheduler = self._schedulers[index]
        scheduler.last_epoch = self.last_epoch - start
        scheduler._update_lr()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self):
        """Own attributes plus, under ``"_schedulers"``, each scheduler's state dict."""
        state = {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        self._check_state_dict(state_dict)
        saved = state_dict["_schedulers"]
        if len(saved) != len(self._schedulers):
            raise ValueError(
                f"SequentialLR.load_state_dict: the saved state holds {len(saved)} schedulers, "
                f"this SequentialLR runs {len(self._schedulers)}"
            )
        for scheduler, scheduler_state in zip(self._schedulers, saved):
            scheduler._check_state_dict(scheduler_state)
        for scheduler, scheduler_state in zip(self._schedulers, saved):
            scheduler.load_state_dict(scheduler_state)
        own = {key: value for key, value in state_dict.items() if key != "_schedulers"}
        self.__dict__.update(copy.deepcopy(own))


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2018): warm up to ``max_lr``, then anneal far below the start.

    Stepped once per batch, for ``total_steps`` batches (or ``epochs * steps_per_epoch``). With
    ``initial_lr = max_lr / div_factor`` and ``min_lr = initial_lr / final_div_factor``, and
    ``s = pct_start * total_steps``, the rate at step t moves

        from initial_lr to max_lr   over steps 0 .. s - 1
        from max_lr to min_lr       over steps s - 1 .. total_steps - 1

    and with ``three_phase=True`` it comes back down symmetrically before the final descent:

        initial_lr -> max_lr        over steps 0 .. s - 1
        max_lr -> initial_lr        over steps s - 1 .. 2s - 2
        initial_lr -> min_lr        over steps 2s - 2 .. total_steps - 1

    Within a phase from a to b, at a fraction f in [0, 1] of the way,

        "cos":     lr = b + (a - b) * (1 + cos(pi * f)) / 2
        "linear":  lr = a + (b - a) * f

    The high rates in the middle act as a regulariser and the long descent to a tiny rate
    settles the weights; the same number of epochs often reaches a better accuracy than a
    step schedule.

    ``cycle_momentum=True`` moves the momentum the other way, from ``max_momentum`` down to
    ``base_momentum`` while the rate rises and back up while it falls (a large rate with a large
    momentum would take too long steps). It sets ``momentum`` for SGD and RMSprop and the first
    of ``betas`` for Adam and AdamW, from the first step on: as in PyTorch, an SGD built with
    momentum 0 then runs with momentum; pass ``cycle_momentum=False`` to keep it off.

    This schedule sets every group's ``initial_lr``, ``max_lr`` and ``min_lr`` (and
    ``max_momentum``, ``base_momentum``), which resuming with ``last_epoch`` needs back.
    Stepping more than ``total_steps`` times is an error, as in PyTorch.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1):
        name = "OneCycleLR"
        _check_optimizer(name, optimizer)
        _check_int(name, "last_epoch", last_epoch, -1)
        if total_steps is not None:
            _check_int(name, "total_steps", total_steps, 1)
        elif epochs is not None and steps_per_epoch is not None:
            _check_int(name, "epochs", epochs, 1)
            _check_int(name, "steps_per_epoch", steps_per_epoch, 1)
            total_steps = epochs * steps_per_epoch
        else:
            raise ValueError(
                f"{name}: give the length of the schedule, total_steps or both epochs and steps_per_epoch; "
                f"got total_steps=None, epochs={epochs}, steps_per_epoch={steps_per_epoch}"
            )
        check_range(name, "pct_start", pct_start, 0)
        if not pct_start <= 1:
            raise ValueError(f"{name}: pct_start must be in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{name}: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        for factor_name, factor in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
            check_range(name, factor_name, factor, 0)
            if factor == 0:
                raise ValueError(f"{name}: {factor_name} must be > 0 (the rates are divided by it), got 0")
        max_lrs = _per_group(name, "max_lr", max_lr, optimizer)
        self.optimizer = optimizer
        self.total_steps = total_steps
        self._schedule_phases = self._phases(pct_start, three_phase)
        self._anneal_func_type = anneal_strategy

        if last_epoch == -1:
            for group, group_max_lr in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = group_max_lr / div_factor
                group["max_lr"] = group_max_lr
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    f"{name}: cycle_momentum=True needs an optimizer with a momentum (SGD, RMSprop) or "
                    f"betas (Adam, AdamW), but {type(optimizer).__name__} has neither; pass cycle_momentum=False"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            max_momentums = _per_group(name, "max_momentum", max_momentum, optimizer)
            base_momentums = _per_group(name, "base_momentum", base_momentum, optimizer)
            if last_epoch == -1:
                for group, top, bottom in zip(optimizer.param_groups, max_momentums, base_momentums):
                    group["max_momentum"] = top
                    group["base_momentum"] = bottom
        if last_epoch != -1:
            keys = ["max_lr", "min_lr"] + (["max_momentum", "base_momentum"] if self.cycle_momentum else [])
            self._require_group_keys(keys, last_epoch)
        super().__init__(optimizer, last_epoch)

    def _phases(self, pct_start, three_phase):
        """The phases as PyTorch lists them: where each ends, and the group keys it moves between."""
        rise_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            phases = [
                {"end_step": rise_end, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": float(2 * pct_start * self.total_steps) - 2, "start_lr": "max_lr",
                 "end_lr": "initial_lr", "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
                {"end_step": self.total_steps - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
                 "start_momentum": "max_momentum", "end_momentum": "max_momentum"},
            ]
        else:
            phases = [
                {"end_step": rise_end, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": self.total_steps - 1, "start_lr": "max_lr", "end_lr": "min_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
            ]
        # Every phase is entered at some step from 0 to total_steps, so one that starts where it
        # ends would divide by its length 0 there (PyTorch fails with a ZeroDivisionError).
        start = 0.0
        for i, phase in enumerate(phases):
            if phase["end_step"] == start:
                raise ValueError(
                    f"OneCycleLR: pct_start={pct_start} with total_steps={self.total_steps} gives phase "
                    f"{i + 1} of {len(phases)} no length (it starts and ends at step {start:g}); "
                    "choose another pct_start"
                )
            start = phase["end_step"]
        return phases

    def _anneal(self, start, end, fraction):
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)
        return (end - start) * fraction + start

    def _value(self, group, kind):
        """The group's ``kind`` ("lr" or "momentum") at step ``last_epoch``, inside its phase."""
        step, start = self.last_epoch, 0.0
        for i, phase in enumerate(self._schedule_phases):
            if step <= phase["end_step"] or i == len(self._schedule_phases) - 1:
                fraction = (step - start) / (phase["end_step"] - start)
                return self._anneal(group[phase[f"start_{kind}"]], group[phase[f"end_{kind}"]], fraction)
            start = phase["end_step"]

    def get_lr(self):
        if self.last_epoch > self.total_steps:
            raise ValueError(
                f"OneCycleLR: tried to step {self.last_epoch} times, but the schedule has total_steps="
                f"{self.total_steps}; step it once per batch, for at most total_steps batches"
            )
        return [self._value(group, "lr") for group in self.optimizer.param_groups]

    def _update_lr(self):
        super()._update_lr()
        if not self.cycle_momentum:
            return
        for group in self.optimizer.param_groups:
            momentum = self._value(group, "momentum")
            if self.use_beta1:
                group["betas"] = (momentum, *group["betas"][1:])
            else:
                group["momentum"] = momentum


class ReduceLROnPlateau(LRScheduler):
    """Cut the rate by ``factor`` when a measured value stops improving, as PyTorch's.

        scheduler = ReduceLROnPlateau(optimizer, mode="min", factor=0.1, patience=10)
        for epoch in range(epochs):
            train_one_epoch(...)
            scheduler.step(validation_loss)     # the measurement, every epoch

    A value v improves on the best so far when

        mode "min", threshold_mode "rel":  v < best * (1 - threshold)
        mode "min", threshold_mode "abs":  v < best - threshold
        mode "max", threshold_mode "rel":  v > best * (1 + threshold)
        mode "max", threshold_mode "abs":  v > best + threshold

    After more than ``patience`` steps in a row without improvement every group's rate becomes
    ``max(lr * factor, min_lr)`` (left alone when that changes it by no more than ``eps``), and
    the next ``cooldown`` steps are not counted as bad. NaN never improves.

    Args:
        optimizer: the ``Optimizer`` whose groups' ``lr`` this scheduler cuts.
        mode: "min" for a value that should go down (a loss), "max" for one that should go up
            (an accuracy).
        factor: the multiplier of a cut, in [0, 1).
        patience: how many steps without improvement are tolerated (int >= 0).
        threshold: how much better than the best a value must be to count (>= 0).
        threshold_mode: "rel" (a fraction of the best) or "abs" (in the value's units).
        cooldown: steps after a cut during which bad steps are not counted (int >= 0).
        min_lr: the floor of the rates, one number or one per group.
        eps: the smallest change of a rate worth making (>= 0).

    Unlike the other schedules it does not touch the rates when built, keeps no ``base_lrs`` and
    cannot run inside ``SequentialLR``.
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0, eps=1e-8):
        name = "ReduceLROnPlateau"
        _check_optimizer(name, optimizer)
        check_range(name, "factor", factor, 0)
        if not factor < 1:
            raise ValueError(f"{name}: factor must be < 1 (it multiplies the rate at each cut), got {factor}")
        _check_int(name, "patience", patience, 0)
        check_range(name, "threshold", threshold, 0)
        _check_int(name, "cooldown", cooldown, 0)
        check_range(name, "eps", eps, 0)
        if mode not in ("min", "max"):
            raise ValueError(f"{name}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{name}: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.optimizer = optimizer
        self.factor = factor
        # A single min_lr also covers groups added later; a list fixes the number of groups.
        self.default_min_lr = None if isinstance(min_lr, list | tuple) else min_lr
        self.min_lrs = _per_group(name, "min_lr", min_lr, optimizer)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics):
        """Record one measurement (a number or a one-element Tensor) and cut the rates if it is time."""
        if isinstance(metrics, bool) or not hasattr(metrics, "__float__"):
            raise TypeError(
                f"ReduceLROnPlateau.step: metrics must be a number or a one-element Tensor (e.g. the "
                f"validation loss), got {type(metrics).__name__}"
            )
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad steps in the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def _is_better(self, value, best):
        if self.mode == "min" and self.threshold_mode == "rel":
            return value < best * (1.0 - self.threshold)
        if self.mode == "min":
            return value < best - self.threshold
        if self.threshold_mode == "rel":
            return value > best * (self.threshold + 1.0)
        return value > best + self.threshold

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"ReduceLROnPlateau: the optimizer has {len(groups)} parameter groups but min_lr "
                    f"lists {len(self.min_lrs)} (a group was added after the scheduler was built); "
                    "set scheduler.min_lrs to one value per group"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr
