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


class LRScheduler:
    """Base class: owns ``base_lrs`` and ``last_epoch`` and writes the rates into the optimiser.

    Args:
        optimizer: the ``Optimizer`` whose groups' ``lr`` this scheduler sets.
        last_epoch: the last epoch already done; -1 (default) starts a new schedule. To resume,
            pass the saved epoch; the groups must then already hold ``initial_lr``.

    Subclasses implement ``get_lr()``: the list of rates, one per group, for epoch ``last_epoch``.
    """

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{self._name}: expected an Optimizer, got {type(optimizer).__name__}")
        _check_int(self._name, "last_epoch", last_epoch, -1)
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(
                    f"{self._name}: resuming at last_epoch={last_epoch} needs 'initial_lr' in "
                    f"param_groups[{i}]; load the optimizer's state_dict before building the scheduler"
                )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

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
        if len(state_dict["base_lrs"]) != len(self.optimizer.param_groups):
            raise ValueError(
                f"{where}: the saved state has {len(state_dict['base_lrs'])} base learning rates "
                f"but the optimizer has {len(self.optimizer.param_groups)} parameter groups"
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
