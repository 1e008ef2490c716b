"""``fit``, ``evaluate`` and ``confusion_matrix``: learning, history, early stopping, divergence,
and resuming from a checkpoint to exactly the weights of an uninterrupted run."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl as md
from minidl import functional as F
from minidl import nn, optim
from minidl.checkpoint import load_checkpoint, save_checkpoint
from minidl.data import DataLoader, TensorDataset
from minidl.data.transforms import RandomTranslation
from minidl.train import HISTORY_KEYS, TrainingDiverged, confusion_matrix, evaluate, fit

CLASSES = 4


def quadrant_images(n, seed, label_shift=0):
    """Noisy 8x8 images with one bright 4x4 quadrant; the label is the quadrant (plus a shift,
    mod 4, to make a validation set that disagrees with what training teaches)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, n)
    images = 0.1 * rng.standard_normal((n, 1, 8, 8)).astype(np.float32)
    for quadrant in range(CLASSES):
        row, col = divmod(quadrant, 2)
        images[labels == quadrant, :, 4 * row:4 * row + 4, 4 * col:4 * col + 4] += 1
    return TensorDataset(images, (labels + label_shift) % CLASSES)


def tiny_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(), nn.Linear(4 * 4 * 4, CLASSES),
    )


def setup(seed=0, lr=0.01, scheduler=False, augment=False):
    md.manual_seed(seed)
    model = tiny_cnn()
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    loader = DataLoader(quadrant_images(64, seed=1), batch_size=16, shuffle=True,
                        transform=RandomTranslation(1) if augment else None)
    sched = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5) if scheduler else None
    return model, optimizer, loader, sched


def val_loader(label_shift=0):
    return DataLoader(quadrant_images(32, seed=2, label_shift=label_shift), batch_size=16)


def test_fit_learns_and_records_every_epoch(capsys):
    model, optimizer, loader, scheduler = setup(lr=0.05, scheduler=True)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    history = fit(model, optimizer, loader, epochs=6, val_loader=val_loader(), scheduler=scheduler,
                  progress=False)
    assert set(history) == set(HISTORY_KEYS)
    assert all(len(values) == 6 for values in history.values())
    assert history["lr"] == [0.05, 0.05, 0.025, 0.025, 0.0125, 0.0125]
    assert history["train_loss"][-1] < history["train_loss"][0] / 4
    assert history["val_acc"][-1] == 1.0
    assert evaluate(model, val_loader())[1] == 1.0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and lines[-1].startswith("epoch 6/6: train loss")


def test_without_validation_data_the_validation_entries_are_none():
    model, optimizer, loader, _ = setup()
    history = fit(model, optimizer, loader, epochs=2, progress=False, log=None)
    assert history["val_loss"] == [None, None] and history["val_acc"] == [None, None]
    assert all(0 <= acc <= 1 for acc in history["train_acc"])


def test_any_iterable_of_batches_will_do(tmp_path):
    # A list of (images, labels) pairs has no position to save: it is simply read again on resume.
    model, optimizer, loader, _ = setup()
    batches = list(loader)
    history = fit(model, optimizer, batches, epochs=2, checkpoint_path=tmp_path / "c.npz", progress=False, log=None)
    assert len(history["train_loss"]) == 2 and "loader" not in load_checkpoint(tmp_path / "c.npz")


def test_early_stopping_stops_and_restores_the_best_weights(tmp_path):
    # Validation labels are shifted, so the better the model learns, the worse it scores there:
    # the validation loss is lowest after epoch 1 and training stops `patience` epochs later.
    model, optimizer, loader, _ = setup(lr=0.05)
    history = fit(model, optimizer, loader, epochs=20, val_loader=val_loader(label_shift=1),
                  early_stopping_patience=2, checkpoint_path=tmp_path / "c.npz", progress=False, log=None)
    assert len(history["val_loss"]) == 3
    assert np.argmin(history["val_loss"]) == 0

    best, optimizer1, loader1, _ = setup(lr=0.05)
    fit(best, optimizer1, loader1, epochs=1, val_loader=val_loader(label_shift=1), progress=False, log=None)
    for key, value in best.state_dict().items():
        assert np.array_equal(model.state_dict()[key], value), key
    # The last checkpoint holds the restored weights and says the run is over.
    checkpoint = load_checkpoint(tmp_path / "c.npz")
    assert np.array_equal(checkpoint["model"]["5.weight"], best[5].weight.numpy())
    assert checkpoint["early_stopping"]["finished"] and checkpoint["early_stopping"]["best_epoch"] == 1


class InfOnCall:
    """cross_entropy, except that call number ``bad_call`` (from 1) returns an infinite loss."""

    def __init__(self, bad_call, value=np.inf):
        self.calls, self.bad_call, self.value = 0, bad_call, value

    def __call__(self, scores, labels):
        self.calls += 1
        loss = F.cross_entropy(scores, labels)
        return loss * self.value if self.calls == self.bad_call else loss


@pytest.mark.parametrize("value, shown", [(np.inf, "inf"), (np.nan, "nan")])
def test_a_non_finite_loss_stops_training_naming_epoch_and_step(tmp_path, value, shown):
    model, optimizer, loader, _ = setup()           # 4 batches per epoch: call 7 = epoch 2, step 2
    with pytest.raises(TrainingDiverged, match=f"the loss is {shown} at epoch 2, step 2 ") as error:
        fit(model, optimizer, loader, epochs=3, loss_fn=InfOnCall(7, value), progress=False, log=None,
            checkpoint_path=tmp_path / "c.npz")
    assert (error.value.epoch, error.value.step) == (2, 2)
    assert load_checkpoint(tmp_path / "c.npz")["epoch"] == 1   # the last good epoch is kept


def test_a_huge_learning_rate_is_reported_as_divergence():
    model, optimizer, loader, _ = setup(lr=1e10)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match=r"epoch 1, step \d+ .*lr=1e\+10"):
        fit(model, optimizer, loader, epochs=3, progress=False, log=None)


class OverflowingSGD(optim.SGD):
    """SGD whose step number ``bad_step`` (from 1) leaves an infinite weight behind, as a step
    with a huge gradient would, while the loss that step was taken on was finite."""

    def __init__(self, params, bad_step, **options):
        super().__init__(params, **options)
        self.steps, self.bad_step = 0, bad_step

    def step(self):
        super().step()
        self.steps += 1
        if self.steps == self.bad_step:
            self.param_groups[0]["params"][0].numpy()[0, 0, 0, 0] = np.inf


def test_weights_that_overflow_in_an_epochs_last_step_stop_training_naming_the_epoch(tmp_path):
    # 4 batches per epoch: step 8 is epoch 2's last, so no later loss of epoch 2 shows the damage.
    model, _, loader, _ = setup()
    optimizer = OverflowingSGD(model.parameters(), bad_step=8, lr=0.01, momentum=0.9)
    with pytest.raises(TrainingDiverged, match=r"training diverged: the weights are not finite after epoch 2 "
                                               r"\(0.weight holds 1 NaN or infinite values of 36\)\. .*lr=0.01") as error:
        fit(model, optimizer, loader, epochs=3, progress=False, log=None, checkpoint_path=tmp_path / "c.npz")
    assert (error.value.epoch, error.value.step, error.value.loss) == (2, None, None)
    assert load_checkpoint(tmp_path / "c.npz")["epoch"] == 1   # the last good epoch is kept


def test_a_validation_loss_that_is_not_finite_stops_training_naming_the_epoch():
    model, optimizer, loader, _ = setup()
    images = np.ones((8, 1, 8, 8), np.float32)
    images[3, 0, 2, 2] = np.inf   # one image the network cannot score
    bad_val = DataLoader(TensorDataset(images, np.zeros(8, np.int64)), batch_size=4)
    with np.errstate(invalid="ignore"), pytest.raises(
            TrainingDiverged, match=r"training diverged: the validation loss is nan after epoch 1\. ") as error:
        fit(model, optimizer, loader, epochs=2, val_loader=bad_val, progress=False, log=None)
    assert (error.value.epoch, error.value.step, error.value.what) == (1, None, "the validation loss")


def test_the_checkpoint_folder_is_made_at_the_first_save(tmp_path):
    model, optimizer, loader, _ = setup()
    path = tmp_path / "runs" / "first" / "checkpoint.npz"
    fit(model, optimizer, loader, epochs=1, checkpoint_path=path, progress=False, log=None)
    assert load_checkpoint(path)["epoch"] == 1


class Interrupt(Exception):
    """Stands for Ctrl-C or a killed process."""


def interrupt_on_call(call):
    calls = []

    def loss_fn(scores, labels):
        calls.append(1)
        if len(calls) == call:
            raise Interrupt
        return F.cross_entropy(scores, labels)
    return loss_fn


def test_resuming_gives_exactly_the_weights_of_an_uninterrupted_run(tmp_path):
    # Everything random is in play: initialisation, shuffling, augmentation, dropout masks,
    # momentum and weight decay, and a learning-rate schedule.
    model, optimizer, loader, scheduler = setup(scheduler=True, augment=True)
    straight = fit(model, optimizer, loader, epochs=4, val_loader=val_loader(), scheduler=scheduler,
                   progress=False, log=None)

    # Interrupted in the middle of epoch 3: an epoch calls the loss 4 times in training and 2 in
    # validation, so call 15 is epoch 3's third batch. The checkpoint holds epoch 2.
    path = tmp_path / "checkpoint.npz"
    model2, optimizer2, loader2, scheduler2 = setup(scheduler=True, augment=True)
    with pytest.raises(Interrupt):
        fit(model2, optimizer2, loader2, epochs=4, val_loader=val_loader(), scheduler=scheduler2,
            loss_fn=interrupt_on_call(15), checkpoint_path=path, progress=False, log=None)
    assert load_checkpoint(path)["epoch"] == 2

    # A new process: other seed, fresh objects; everything comes from the checkpoint.
    model3, optimizer3, loader3, scheduler3 = setup(seed=123, scheduler=True, augment=True)
    resumed = fit(model3, optimizer3, loader3, epochs=4, val_loader=val_loader(), scheduler=scheduler3,
                  checkpoint_path=path, resume=True, progress=False, log=None)

    for key, value in model.state_dict().items():
        assert np.array_equal(model3.state_dict()[key], value), key
    for key in HISTORY_KEYS[:-1]:   # all but the wall times
        assert resumed[key] == straight[key], key
    assert load_checkpoint(path)["epoch"] == 4


def test_resuming_from_another_path_after_two_epochs(tmp_path):
    model, optimizer, loader, _ = setup()
    fit(model, optimizer, loader, epochs=4, progress=False, log=None)
    first = tmp_path / "first.npz"
    model2, optimizer2, loader2, _ = setup()
    fit(model2, optimizer2, loader2, epochs=2, checkpoint_path=first, progress=False, log=None)
    model3, optimizer3, loader3, _ = setup(seed=5)
    fit(model3, optimizer3, loader3, epochs=4, resume=first, checkpoint_path=tmp_path / "second.npz",
        progress=False, log=None)
    for key, value in model.state_dict().items():
        assert np.array_equal(model3.state_dict()[key], value), key
    assert load_checkpoint(tmp_path / "second.npz")["epoch"] == 4


def test_fit_refuses_inconsistent_arguments(tmp_path):
    model, optimizer, loader, scheduler = setup(scheduler=True)
    with pytest.raises(ValueError, match="early stopping watches the validation loss"):
        fit(model, optimizer, loader, epochs=1, early_stopping_patience=2)
    with pytest.raises(ValueError, match="early_stopping_patience must be an int >= 1, got 0"):
        fit(model, optimizer, loader, epochs=1, val_loader=val_loader(), early_stopping_patience=0)
    with pytest.raises(ValueError, match="resume=True continues from checkpoint_path"):
        fit(model, optimizer, loader, epochs=1, resume=True)
    save_checkpoint(tmp_path / "weights.npz", model, optimizer)
    with pytest.raises(ValueError, match="weights.npz was not saved by fit \\(it lacks epoch, history, early_stopping\\)"):
        fit(model, optimizer, loader, epochs=2, resume=tmp_path / "weights.npz", log=None)
    fit(model, optimizer, loader, epochs=1, checkpoint_path=tmp_path / "c.npz", progress=False, log=None)
    with pytest.raises(ValueError, match="holds no scheduler state, but this run has one"):
        fit(model, optimizer, loader, epochs=2, scheduler=scheduler, resume=tmp_path / "c.npz", log=None)


# ------------------------------------------------------------------ evaluation
def test_evaluate_matches_the_loss_and_argmax_over_the_whole_set():
    rng = np.random.default_rng(0)
    images, labels = rng.standard_normal((10, 3)), rng.integers(0, 4, 10)
    images = images.astype(np.float32)   # what a DataLoader hands out
    model = nn.Linear(3, 4)
    loss, accuracy, predictions = evaluate(model, DataLoader(TensorDataset(images, labels), batch_size=4))
    scores = images @ model.weight.numpy().T + model.bias.numpy()
    expected = F.cross_entropy(md.tensor(scores), labels).item()
    assert loss == pytest.approx(expected, rel=1e-6)   # batch means of 4, 4, 2, re-weighted: float32 rounding
    assert np.array_equal(predictions, scores.argmax(axis=1)) and predictions.dtype == np.int64
    assert accuracy == np.mean(scores.argmax(axis=1) == labels)
    assert model.training   # the mode is put back


def test_evaluate_uses_evaluation_mode():
    model = nn.Sequential(nn.Dropout(0.9), nn.Linear(2, 2))
    data = DataLoader(TensorDataset(np.ones((4, 2), np.float32), np.zeros(4, np.int64)), batch_size=4)
    with md.no_grad():
        expected = model.eval()(md.tensor(np.ones((4, 2), np.float32))).numpy().argmax(axis=1)
    model.train()
    assert all(np.array_equal(evaluate(model, data)[2], expected) for _ in range(5))


@given(st.integers(1, 6).flatmap(lambda c: st.tuples(
    st.just(c), st.lists(st.tuples(st.integers(0, c - 1), st.integers(0, c - 1)), max_size=30))))
def test_confusion_matrix_counts_every_pair(case):
    classes, pairs = case
    targets = np.array([t for t, _ in pairs], dtype=np.int64)
    predictions = np.array([p for _, p in pairs], dtype=np.int64)
    matrix = confusion_matrix(targets, predictions, classes)
    expected = np.zeros((classes, classes), np.int64)
    for t, p in pairs:
        expected[t, p] += 1
    assert np.array_equal(matrix, expected) and matrix.dtype == np.int64
    assert matrix.trace() == np.sum(targets == predictions)


def test_confusion_matrix_rows_are_true_classes():
    assert confusion_matrix([0, 0, 1], [1, 1, 1], 2).tolist() == [[0, 2], [0, 1]]


def test_confusion_matrix_refuses_bad_input():
    with pytest.raises(ValueError, match="same length, got shapes \\(3,\\) and \\(2,\\)"):
        confusion_matrix([0, 1, 2], [0, 1], 3)
    with pytest.raises(ValueError, match="predictions hold classes from 0 to 3, outside \\[0, 3\\)"):
        confusion_matrix([0, 1, 2], [0, 1, 3], 3)
    with pytest.raises(TypeError, match="targets must hold integer classes, got dtype float64"):
        confusion_matrix([0.0, 1.0], [0, 1], 2)


class WithAuxiliaryHead(nn.Module):
    """Like GoogLeNet: in training a tuple (main scores, auxiliary scores), in eval the main ones."""

    def __init__(self):
        super().__init__()
        self.body = tiny_cnn()
        self.aux = nn.Sequential(nn.Flatten(), nn.Linear(64, CLASSES))

    def forward(self, x):
        scores = self.body(x)
        return (scores, self.aux(x)) if self.training else scores


def test_fit_trains_a_model_with_an_auxiliary_head_through_its_loss():
    md.manual_seed(0)
    model = WithAuxiliaryHead()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    seen = []

    def loss_fn(outputs, labels):
        seen.append(type(outputs))
        if isinstance(outputs, tuple):
            return F.cross_entropy(outputs[0], labels) + 0.3 * F.cross_entropy(outputs[1], labels)
        return F.cross_entropy(outputs, labels)

    loader = DataLoader(quadrant_images(64, seed=1), batch_size=16, shuffle=True)
    history = fit(model, optimizer, loader, epochs=6, val_loader=val_loader(), loss_fn=loss_fn, progress=False)
    assert tuple in seen and md.Tensor in seen            # the tuple in training, plain scores in eval
    assert history["train_acc"][-1] > 0.9 and history["val_acc"][-1] == 1.0
    assert np.abs(model.aux[1].weight.grad.numpy()).sum() > 0     # the auxiliary head learned too


def test_fit_gives_reduce_lr_on_plateau_the_loss_and_steps_one_cycle_every_batch():
    md.manual_seed(0)
    images = np.random.default_rng(0).standard_normal((32, 1, 4, 4)).astype(np.float32)
    loader = DataLoader(TensorDataset(images, np.arange(32) % 2), batch_size=8)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    plateau = optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5, threshold=10.0)
    fit(model, optimizer, loader, epochs=3, scheduler=plateau, progress=False, log=None)
    # A relative threshold of 10 counts no epoch as better: halved after each of the 3 epochs.
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 3)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    cycle = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, epochs=2, steps_per_epoch=len(loader))
    fit(model, optimizer, loader, epochs=2, scheduler=cycle, progress=False, log=None)
    assert cycle.last_epoch == 2 * len(loader)


class EpochRecorder:
    def __init__(self):
        self.calls = []

    def on_epoch_start(self, model, epoch):
        self.calls.append(("start", epoch, model.training))

    def on_epoch_end(self, model, epoch, history):
        self.calls.append(("end", epoch, len(history["train_loss"])))


def test_callbacks_are_called_around_every_epoch_and_again_after_a_resume(tmp_path):
    model, optimizer, loader, _ = setup()
    recorder = EpochRecorder()
    path = tmp_path / "checkpoint.npz"
    fit(model, optimizer, loader, epochs=2, checkpoint_path=path, progress=False, log=None, callbacks=[recorder])
    assert recorder.calls == [("start", 1, True), ("end", 1, 1), ("start", 2, True), ("end", 2, 2)]
    resumed = EpochRecorder()
    fit(model, optimizer, loader, epochs=3, checkpoint_path=path, resume=True, progress=False, log=None,
        callbacks=[resumed])
    assert resumed.calls == [("start", 3, True), ("end", 3, 3)]


def test_a_callback_without_either_method_is_refused():
    model, optimizer, loader, _ = setup()
    with pytest.raises(TypeError, match="fit: a callback needs an on_epoch_start.*builtin_function_or_method has neither"):
        fit(model, optimizer, loader, epochs=1, progress=False, log=None, callbacks=[print])
