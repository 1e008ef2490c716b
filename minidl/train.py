"""Training a classifier: ``fit`` runs the loop every training script repeats, ``evaluate`` scores.

The loop itself is five lines, and worth writing by hand at least once (docs/training.md):

    for images, labels in loader:
        optimizer.zero_grad()                      # backward adds to .grad: start from zero
        loss = F.cross_entropy(model(images), labels)
        loss.backward()                            # dloss/dparameter for every parameter
        optimizer.step()                           # move each parameter against its gradient

``fit`` wraps it with what a real run needs around it: epochs, a progress bar, the loss and
accuracy of every epoch on the training and validation data (the ``history``), a learning-rate
schedule, early stopping, checks that the loss and the weights are still numbers, and a checkpoint
after every epoch from which an interrupted run continues exactly.

    history = fit(model, optimizer, train_loader, epochs=10, val_loader=val_loader,
                  scheduler=scheduler, checkpoint_path="run/checkpoint.npz")
"""

import math
import os
import time

import numpy as np
from tqdm.auto import tqdm

from minidl import functional as F
from minidl.checkpoint import load_checkpoint, restore_rng, save_checkpoint
from minidl.grad_mode import no_grad
from minidl.optim.lr_scheduler import OneCycleLR, ReduceLROnPlateau

__all__ = ["fit", "evaluate", "confusion_matrix", "TrainingDiverged", "HISTORY_KEYS"]

# What ``fit``'s history records, one entry per epoch.
HISTORY_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "time")


class TrainingDiverged(RuntimeError):
    """Training produced NaN or infinite numbers: the weights have blown up and cannot recover.

    ``fit`` raises it at the first batch whose loss is not finite, and at the end of an epoch
    whose weights (parameters and buffers, e.g. batch norm's running statistics) or validation
    loss are not finite; ``minidl train`` also raises it for a test loss that is not finite.

    Attributes:
        epoch: the epoch (counted from 1) in which it happened.
        step: the index of the batch within that epoch (counted from 0), or None when it was
            found at the end of the epoch.
        loss: the loss value (nan, inf or -inf), or None when weights were found not finite.
        what: what was not finite: "the loss", "the validation loss", "the weights", ...
    """

    def __init__(self, epoch, step, loss, lr, what="the loss", detail=""):
        self.epoch, self.step, self.loss, self.what = epoch, step, loss, what
        if step is not None:
            where = f"{what} is {loss} at epoch {epoch}, step {step} (index of the batch within the epoch)"
        elif loss is not None:
            where = f"{what} is {loss} after epoch {epoch}"
        else:
            where = f"{what} are not finite after epoch {epoch}{detail}"
        super().__init__(
            f"training diverged: {where}. The weights have overflowed; usual causes are a learning "
            f"rate too high for this model (lr={lr:g}: try 10x smaller), unnormalised inputs, or "
            f"a log or division of zero in a custom loss."
        )


def fit(model, optimizer, train_loader, epochs, val_loader=None, loss_fn=F.cross_entropy,
        scheduler=None, early_stopping_patience=None, checkpoint_path=None, resume=False,
        progress=True, log=print, checkpoint_metadata=None, callbacks=()):
    """Train ``model`` for ``epochs`` epochs and return the history of every epoch.

    Args:
        model: a Module mapping a batch of images to class scores (N, C).
        optimizer: an Optimizer over the model's parameters.
        train_loader: an iterable of ``(images, labels)`` batches, visited once per epoch
            (usually a shuffling ``DataLoader``).
        epochs: the number of epochs to train, counting any already done before a resume.
        val_loader: batches to evaluate on after every epoch (optional).
        loss_fn: ``loss_fn(scores, labels) -> scalar Tensor``, the batch mean. For a model that
            returns a tuple in training (GoogLeNet's main and auxiliary scores) it receives the
            tuple, e.g. ``minidl.zoo.googlenet_loss``; the accuracy counts the first entry.
        scheduler: an LR scheduler, stepped once at the end of every epoch; a ``ReduceLROnPlateau``
            is given the validation loss (the training loss without ``val_loader``), and a
            ``OneCycleLR`` steps after every batch, as its ``total_steps`` counts batches.
        early_stopping_patience: stop when the validation loss has not improved for this many
            epochs in a row (needs ``val_loader``). When training ends, early or not, the weights
            of the epoch with the lowest validation loss are loaded back into the model: the
            model ``fit`` leaves behind is the best one seen, not the last. The last checkpoint
            then holds those weights and marks the run finished: resuming it trains no further.
        checkpoint_path: save a checkpoint here (atomically) after every epoch: the model,
            optimizer, scheduler and loader states, minidl's random generator, the epoch, the
            history and the early-stopping record. Its folder is made at the first save if
            missing (so a run that fails in its first epoch leaves no folder behind).
        resume: False to start afresh; True to continue from ``checkpoint_path``; or the path
            of a checkpoint to continue from. The model, optimizer, scheduler and loader must be
            built as for the saved run; their states, the random generator and the history are
            restored, and training goes on with the epoch after the saved one. Continuing gives
            exactly, bit for bit, the weights that an uninterrupted run would have reached.
        progress: show a progress bar (tqdm) over each epoch's batches.
        log: called with one line of text per epoch (None: silent).
        checkpoint_metadata: a dict of extra entries to store in every checkpoint (e.g. the
            model's name and the dataset, so that a checkpoint can rebuild its model).
        callbacks: objects called around every epoch, each through whichever of two methods it
            has: ``on_epoch_start(model, epoch)`` before the epoch's first batch and
            ``on_epoch_end(model, epoch, history)`` after its history entry is recorded and
            before its checkpoint is saved (``epoch`` counts from 1). A callback that changes
            training (``minidl.transfer.GradualUnfreezing``) should derive what it does from
            ``epoch`` alone, so that a resumed run does the same as an uninterrupted one.

    Returns:
        history: a dict of lists, one entry per epoch: ``train_loss``, ``train_acc`` (averaged
        over the epoch's batches, while the weights were changing), ``val_loss``, ``val_acc``
        (None without ``val_loader``), ``lr`` (the first group's rate during the epoch) and
        ``time`` (seconds the epoch took).

    Raises:
        TrainingDiverged: when a batch's loss is NaN or infinite (naming the epoch and the step),
            or at the end of an epoch whose weights or validation loss are NaN or infinite
            (naming the epoch). The checkpoint of the last good epoch is left as it was.
    """
    if early_stopping_patience is not None:
        if val_loader is None:
            raise ValueError("fit: early stopping watches the validation loss; pass val_loader too")
        if isinstance(early_stopping_patience, bool) or not isinstance(early_stopping_patience, int) \
                or early_stopping_patience < 1:
            raise ValueError(f"fit: early_stopping_patience must be an int >= 1, got {early_stopping_patience!r}")
    for callback in callbacks:
        if not (hasattr(callback, "on_epoch_start") or hasattr(callback, "on_epoch_end")):
            raise TypeError(f"fit: a callback needs an on_epoch_start(model, epoch) or on_epoch_end(model, "
                            f"epoch, history) method; {type(callback).__name__} has neither")
    if resume is True and checkpoint_path is None:
        raise ValueError("fit: resume=True continues from checkpoint_path; pass checkpoint_path too")

    history = {key: [] for key in HISTORY_KEYS}
    # Early stopping's record: "stopped" when the patience ran out, "finished" once the best
    # weights were restored at the end (a finished run trains no further when resumed).
    record = {"best_val_loss": math.inf, "best_epoch": 0, "best_model": None, "stopped": False,
              "finished": False}
    start_epoch = 0
    if resume:
        resume_path = checkpoint_path if resume is True else resume
        start_epoch, history, record = _resume(resume_path, model, optimizer, scheduler, train_loader)
        if log is not None:
            log(f"resumed from {os.fspath(resume_path)} after epoch {start_epoch}")

    def save(epoch):
        if checkpoint_path is not None:
            os.makedirs(os.path.dirname(os.path.abspath(checkpoint_path)), exist_ok=True)
            save_checkpoint(checkpoint_path, model, optimizer, scheduler, _stateful(train_loader),
                            epoch=epoch, history=history, early_stopping=record,
                            **(checkpoint_metadata or {}))

    for epoch in range(start_epoch + 1, epochs + 1):
        if record["stopped"] or record["finished"]:
            break
        for callback in callbacks:
            if hasattr(callback, "on_epoch_start"):
                callback.on_epoch_start(model, epoch)
        started = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        batch_scheduler = scheduler if isinstance(scheduler, OneCycleLR) else None
        train_loss, train_acc = _train_one_epoch(model, optimizer, train_loader, loss_fn, epoch, epochs, progress,
                                                 batch_scheduler)
        _check_finite_weights(model, epoch, lr)
        val_loss, val_acc = (None, None) if val_loader is None else evaluate(model, val_loader, loss_fn)[:2]
        if val_loss is not None and not math.isfinite(val_loss):
            raise TrainingDiverged(epoch, None, val_loss, lr, what="the validation loss")
        if isinstance(scheduler, ReduceLROnPlateau):
            scheduler.step(train_loss if val_loss is None else val_loss)
        elif scheduler is not None and batch_scheduler is None:
            scheduler.step()
        for key, value in zip(HISTORY_KEYS, (train_loss, train_acc, val_loss, val_acc, lr,
                                             time.perf_counter() - started)):
            history[key].append(value)

        if early_stopping_patience is not None:
            if val_loss < record["best_val_loss"]:
                record.update(best_val_loss=val_loss, best_epoch=epoch, best_model=model.state_dict())
            record["stopped"] = epoch - record["best_epoch"] >= early_stopping_patience
        if log is not None:
            log(_epoch_line(epoch, epochs, history))
        for callback in callbacks:
            if hasattr(callback, "on_epoch_end"):
                callback.on_epoch_end(model, epoch, history)
        save(epoch)

    if early_stopping_patience is not None and record["best_model"] is not None:
        if log is not None:
            stopped = "stopped early; " if record["stopped"] else ""
            log(f"{stopped}restoring the weights of epoch {record['best_epoch']} "
                f"(lowest validation loss, {record['best_val_loss']:.4f})")
        model.load_state_dict(record["best_model"])
        # The last checkpoint then holds the weights fit returns.
        record["finished"] = True
        save(len(history["train_loss"]))
    return history


def _train_one_epoch(model, optimizer, loader, loss_fn, epoch, epochs, progress, batch_scheduler=None):
    """One pass over ``loader``: returns the mean loss and the accuracy over its samples.

    ``batch_scheduler`` (a OneCycleLR, whose schedule counts steps, not epochs) steps after every batch.
    """
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    with tqdm(loader, desc=f"epoch {epoch}/{epochs}", disable=not progress, leave=False, unit="batch") as batches:
        for step, (images, labels) in enumerate(batches):
            optimizer.zero_grad()
            outputs = model(images)
            loss = loss_fn(outputs, labels)
            # A model with auxiliary classifiers (GoogLeNet) returns a tuple in training, the main
            # scores first: loss_fn gets all of it, the accuracy counts the main scores.
            scores = outputs[0] if isinstance(outputs, tuple) else outputs
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingDiverged(epoch, step, value, optimizer.param_groups[0]["lr"])
            loss.backward()
            optimizer.step()
            if batch_scheduler is not None:
                batch_scheduler.step()

            n = len(labels)
            total_loss += value * n
            correct += int(np.sum(np.asarray(scores).argmax(axis=1) == np.asarray(labels)))
            seen += n
            batches.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.3f}", refresh=False)
    return total_loss / seen, correct / seen


def _check_finite_weights(model, epoch, lr):
    """Raise TrainingDiverged naming the first parameter or buffer that holds NaN or infinity.

    A finite loss does not prove finite weights: the last step of an epoch may overflow them,
    and a dead ReLU network or a saturated softmax can keep the loss finite for a while."""
    for name, value in model.state_dict().items():
        values = np.asarray(value)
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            bad = int(values.size - np.isfinite(values).sum())
            raise TrainingDiverged(epoch, None, None, lr, what="the weights",
                                   detail=f" ({name} holds {bad} NaN or infinite values of {values.size})")


def evaluate(model, loader, loss_fn=F.cross_entropy):
    """Score ``model`` on every batch of ``loader`` in evaluation mode, without recording a graph.

    Returns:
        loss: the mean of ``loss_fn`` over all samples (each batch's mean weighted by its size).
        accuracy: the fraction of samples whose highest score is their label.
        predictions: int64 (N,), the predicted class of every sample in the loader's order
            (use a loader with ``shuffle=False`` to line them up with ``dataset.targets``).

    The model's training mode is put back afterwards.
    """
    was_training = model.training
    model.eval()
    total_loss, correct, predictions = 0.0, 0, []
    try:
        with no_grad():
            for images, labels in loader:
                scores = model(images)
                total_loss += loss_fn(scores, labels).item() * len(labels)
                predicted = np.asarray(scores).argmax(axis=1)
                correct += int(np.sum(predicted == np.asarray(labels)))
                predictions.append(predicted)
    finally:
        model.train(was_training)
    predictions = np.concatenate(predictions).astype(np.int64)
    return total_loss / len(predictions), correct / len(predictions), predictions


def confusion_matrix(targets, predictions, num_classes):
    """Count every (true class, predicted class) pair: an int64 matrix (num_classes, num_classes).

    ``matrix[i, j]`` is how many samples of class i were predicted as class j, so the diagonal
    holds the correct answers, row i sums to the number of samples of class i, and
    ``matrix.trace() / matrix.sum()`` is the accuracy.
    """
    targets, predictions = np.asarray(targets), np.asarray(predictions)
    if targets.shape != predictions.shape or targets.ndim != 1:
        raise ValueError(
            f"confusion_matrix: targets and predictions must be 1-D arrays of the same length, "
            f"got shapes {targets.shape} and {predictions.shape}"
        )
    for name, values in (("targets", targets), ("predictions", predictions)):
        if values.dtype.kind not in "iu":
            raise TypeError(f"confusion_matrix: {name} must hold integer classes, got dtype {values.dtype}")
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(
                f"confusion_matrix: {name} hold classes from {values.min()} to {values.max()}, "
                f"outside [0, {num_classes}) for num_classes={num_classes}"
            )
    # Pair (i, j) -> one number i * C + j; counting those numbers counts the pairs.
    counts = np.bincount(targets * num_classes + predictions, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


def _stateful(loader):
    """The loader if it can save its position (a DataLoader), else None (e.g. a list of batches)."""
    return loader if hasattr(loader, "state_dict") else None


def _resume(path, model, optimizer, scheduler, loader):
    """Load the checkpoint at ``path`` into the training objects; return (epoch, history, record)."""
    checkpoint = load_checkpoint(path)
    progress = [key for key in ("epoch", "history", "early_stopping") if key not in checkpoint]
    if progress:
        raise ValueError(
            f"fit: {os.fspath(path)} was not saved by fit (it lacks {', '.join(progress)}); "
            "only fit's own checkpoints record where training stood"
        )
    missing = [name for name, owner in (("scheduler", scheduler), ("loader", _stateful(loader)))
               if owner is not None and name not in checkpoint]
    if missing:
        raise ValueError(
            f"fit: cannot resume exactly from {os.fspath(path)}: it holds no {' or '.join(missing)} "
            f"state, but this run has one"
        )
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(checkpoint["scheduler"])
    if _stateful(loader) is not None:
        loader.load_state_dict(checkpoint["loader"])
    restore_rng(checkpoint)
    return checkpoint["epoch"], checkpoint["history"], checkpoint["early_stopping"]


def _epoch_line(epoch, epochs, history):
    line = (f"epoch {epoch}/{epochs}: train loss {history['train_loss'][-1]:.4f} "
            f"acc {history['train_acc'][-1]:.4f}")
    if history["val_loss"][-1] is not None:
        line += f", val loss {history['val_loss'][-1]:.4f} acc {history['val_acc'][-1]:.4f}"
    return line + f", lr {history['lr'][-1]:.3g}, {history['time'][-1]:.1f}s"
