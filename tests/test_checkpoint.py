"""Checkpoints: every saved value comes back equal, bit for bit; writes are atomic; no pickle, ever;
damage is caught."""

import os
import pickle
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
from minidl import checkpoint, files, nn, optim
from minidl.checkpoint import CheckpointError, load_checkpoint, load_state, save_checkpoint, save_state
from minidl.data import DataLoader, TensorDataset


def small_model():
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))


def trained_objects():
    """A model, Adam, a scheduler and a loader that have all taken steps (so have state)."""
    md.manual_seed(0)
    model = small_model()
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    rng = np.random.default_rng(1)
    data = TensorDataset(rng.random((8, 1, 6, 6), dtype=np.float32), rng.integers(0, 3, 8))
    loader = DataLoader(data, batch_size=4, shuffle=True, seed=3)
    for images, labels in loader:
        optimizer.zero_grad()
        md.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    scheduler.step()
    return model, optimizer, scheduler, loader


def assert_same(saved, loaded, where="value"):
    """Equal values of the same types, arrays equal bit for bit with the same dtype; a Tensor
    (a Parameter included) comes back as a Tensor with the same ``requires_grad``."""
    if isinstance(saved, md.Tensor):
        assert type(loaded) is md.Tensor and loaded.requires_grad == saved.requires_grad, where
        assert_same(np.asarray(saved), np.asarray(loaded), where)
    elif isinstance(saved, np.ndarray | np.generic):
        assert type(loaded) is type(saved), where
        assert loaded.dtype == saved.dtype and loaded.shape == saved.shape, where
        assert np.array_equal(loaded, saved, equal_nan=saved.dtype.kind == "f"), where
    elif isinstance(saved, dict):
        assert isinstance(loaded, dict) and list(loaded) == list(saved), where
        for key in saved:
            assert type(key) is type(next(k for k in loaded if k == key)), f"{where}[{key!r}]"
            assert_same(saved[key], loaded[key], f"{where}[{key!r}]")
    elif isinstance(saved, list | tuple):
        assert type(loaded) is type(saved) and len(loaded) == len(saved), where
        for i, (a, b) in enumerate(zip(saved, loaded)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(saved, float) and np.isnan(saved):
        assert isinstance(loaded, float) and np.isnan(loaded), where
    else:
        assert type(loaded) is type(saved) and loaded == saved, where


def test_round_trip_of_model_optimizer_scheduler_loader_and_metadata(tmp_path):
    model, optimizer, scheduler, loader = trained_objects()
    history = {"train_loss": [2.5, 1.25], "val_loss": [None, float("nan")], "lr": [0.01, 0.005]}
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(path, model, optimizer, scheduler, loader, epoch=2, history=history,
                    best=np.float32(0.125), shape=(3, 4), name="lenet5")
    loaded = load_checkpoint(path)

    assert_same(dict(model.state_dict()), loaded["model"], "model")
    assert_same(optimizer.state_dict(), loaded["optimizer"], "optimizer")   # int keys, tuples (betas)
    assert_same(scheduler.state_dict(), loaded["scheduler"], "scheduler")
    assert_same(loader.state_dict(), loaded["loader"], "loader")            # 128-bit ints of PCG64
    assert_same(md.get_generator().bit_generator.state, loaded["rng"], "rng")
    assert_same({"epoch": 2, "history": history, "best": np.float32(0.125), "shape": (3, 4), "name": "lenet5"},
                {key: loaded[key] for key in ("epoch", "history", "best", "shape", "name")})


def test_loaded_states_continue_the_saved_objects(tmp_path):
    model, optimizer, scheduler, loader = trained_objects()
    save_checkpoint(tmp_path / "c.npz", model, optimizer, scheduler, loader)
    loaded = load_checkpoint(tmp_path / "c.npz")

    md.manual_seed(99)
    model2 = small_model()
    optimizer2 = optim.Adam(model2.parameters(), lr=0.01)
    scheduler2 = optim.lr_scheduler.StepLR(optimizer2, step_size=1, gamma=0.5)
    loader2 = DataLoader(loader.dataset, batch_size=4, shuffle=True, seed=42)
    model2.load_state_dict(loaded["model"])
    optimizer2.load_state_dict(loaded["optimizer"])
    scheduler2.load_state_dict(loaded["scheduler"])
    loader2.load_state_dict(loaded["loader"])

    for (images, labels), (images2, labels2) in zip(loader, loader2, strict=True):
        assert np.array_equal(images.numpy(), images2.numpy()) and np.array_equal(labels, labels2)
        for m, o in ((model, optimizer), (model2, optimizer2)):
            o.zero_grad()
            md.functional.cross_entropy(m(images), labels).backward()
            o.step()
    for key, value in model.state_dict().items():
        assert np.array_equal(model2.state_dict()[key], value), key


def test_the_archive_is_plain_numpy(tmp_path):
    model = small_model()
    save_checkpoint(tmp_path / "c.npz", model)
    with np.load(tmp_path / "c.npz", allow_pickle=False) as archive:
        assert np.array_equal(archive["model/0.weight"], model[0].weight.numpy())
        assert archive["__minidl__"].dtype == np.uint8


def random_array(shape, seed, dtype):
    """Random values of ``dtype``: normal floats, integers across int64's range, or booleans."""
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype == "int64":
        return rng.integers(-2**63, 2**63 - 1, shape, dtype=np.int64)
    return rng.standard_normal(shape).astype(dtype)


# Empty and 0-d shapes included.
arrays = st.builds(random_array, st.lists(st.integers(0, 3), max_size=3).map(tuple), st.integers(0, 9),
                   st.sampled_from(["float32", "float64", "int64", "bool"]))
tensors = st.builds(lambda array, requires_grad: md.tensor(array, dtype=array.dtype,
                                                           requires_grad=requires_grad and array.dtype.kind == "f"),
                    arrays, st.booleans())

# Nested values of every kind a checkpoint stores.
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-2**130, 2**130), st.floats(allow_nan=True),
    st.text(max_size=5), arrays, tensors,
    st.builds(np.int64, st.integers(-2**63, 2**63 - 1)),
    st.builds(np.float64, st.floats(allow_nan=False)),
)
keys = st.one_of(st.text("abc$/_", min_size=1, max_size=3), st.integers(0, 5))
nested = st.recursive(
    leaves,
    lambda children: st.one_of(st.lists(children, max_size=3), st.tuples(children, children),
                               st.dictionaries(keys, children, max_size=3)),
    max_leaves=8,
)


@settings(max_examples=25)
@given(nested)
def test_any_nested_value_round_trips(tmp_path_factory, value):
    path = tmp_path_factory.mktemp("nested") / "c.npz"
    try:
        save_checkpoint(path, value=value)
    except ValueError as error:
        # Keys such as "a/b" and nested {"a": {"b": ...}} would name the same archive entry:
        # refused with a message, never silently overwritten.
        assert "would both be stored as" in str(error)
        return
    assert_same(value, load_checkpoint(path)["value"])


def test_arrays_that_would_share_an_entry_are_refused(tmp_path):
    with pytest.raises(ValueError, match="two arrays would both be stored as 'x/a/b'"):
        save_checkpoint(tmp_path / "c.npz", x={"a/b": np.zeros(1), "a": {"b": np.ones(1)}})


def test_values_a_checkpoint_cannot_hold_are_refused_by_path(tmp_path):
    with pytest.raises(TypeError, match="cannot store 'history/sets' of type set"):
        save_checkpoint(tmp_path / "c.npz", history={"sets": {1, 2}})
    with pytest.raises(TypeError, match="array 'x' holds Python objects"):
        save_state(tmp_path / "s.npz", {"x": np.array([{}, 1], dtype=object)}, {})
    with pytest.raises(ValueError, match="'rng' is reserved"):
        save_checkpoint(tmp_path / "c.npz", rng=1)
    assert not os.listdir(tmp_path)


def test_save_state_and_load_state(tmp_path):
    arrays = {"w": np.arange(6, dtype=np.float64).reshape(2, 3), "n": np.array([1, 2], np.int16)}
    save_state(tmp_path / "s.npz", arrays, {"model": "lenet5", "sizes": [1, 2]})
    loaded, metadata = load_state(tmp_path / "s.npz")
    assert_same(arrays, loaded)
    assert metadata == {"model": "lenet5", "sizes": [1, 2]}
    with pytest.raises(CheckpointError, match="holds minidl arrays but no training checkpoint"):
        load_checkpoint(tmp_path / "s.npz")


# ------------------------------------------------------------------ atomic writes
def test_a_failure_mid_write_keeps_the_old_checkpoint_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(path, epoch=1, weights=np.ones(3))
    before = path.read_bytes()

    def savez_that_dies_half_way(file, *args, **kwargs):
        file.write(b"PK\x03\x04 half of an archive")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", savez_that_dies_half_way)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, epoch=2, weights=np.zeros(3))
    assert path.read_bytes() == before
    assert load_checkpoint(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["checkpoint.npz"]


def test_an_interrupt_mid_write_leaves_no_file_at_all(tmp_path, monkeypatch):
    def savez_interrupted(file, *args, **kwargs):
        file.write(b"PK")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", savez_interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "checkpoint.npz", epoch=1)
    assert os.listdir(tmp_path) == []


def test_the_file_is_only_renamed_into_place_after_it_is_on_disk(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    save_checkpoint(tmp_path / "c.npz", epoch=1)
    assert events[:2] == ["fsync", "replace"]


def test_written_files_get_ordinary_permissions(tmp_path):
    with open(tmp_path / "plain", "w"):
        pass
    save_checkpoint(tmp_path / "c.npz", epoch=1)
    assert os.stat(tmp_path / "c.npz").st_mode == os.stat(tmp_path / "plain").st_mode


# ------------------------------------------------------------------ refusing what is not a checkpoint
CALLS = []


def record_call():
    CALLS.append("unpickled")
    return "payload"


class Payload:
    """Unpickling this calls ``record_call``: what a malicious file would do with os.system."""

    def __reduce__(self):
        return record_call, ()


def test_a_pickle_is_refused_without_being_unpickled(tmp_path):
    path = tmp_path / "weights.pt"
    path.write_bytes(pickle.dumps({"weight": Payload()}))
    with pytest.raises(CheckpointError, match="is a Python pickle .* minidl never unpickles files"):
        load_checkpoint(path)
    assert CALLS == []


def test_pickled_objects_inside_an_npz_are_refused_without_being_unpickled(tmp_path):
    path = tmp_path / "c.npz"
    np.savez(path, weights=np.array([Payload()], dtype=object))   # numpy pickles object arrays
    with pytest.raises(CheckpointError, match="holds pickled objects"):
        load_checkpoint(path)
    assert CALLS == []


def test_np_load_is_called_with_allow_pickle_false(tmp_path, monkeypatch):
    save_checkpoint(tmp_path / "c.npz", epoch=1)
    seen = []
    real_load = np.load
    monkeypatch.setattr(np, "load", lambda *args, **kwargs: (seen.append(kwargs), real_load(*args, **kwargs))[1])
    load_checkpoint(tmp_path / "c.npz")
    assert seen == [{"allow_pickle": False}]


def test_other_files_are_refused_with_a_clear_error(tmp_path):
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(CheckpointError, match="not a minidl checkpoint: it has no '__minidl__' entry"):
        load_checkpoint(tmp_path / "other.npz")
    np.save(tmp_path / "single.npy", np.zeros(2))
    with pytest.raises(CheckpointError, match=re.escape(
            "single.npy is not a minidl checkpoint: an .npz archive starts with the bytes "
            "b'PK\\x03\\x04', this file with b'\\x93NUM'")):
        load_checkpoint(tmp_path / "single.npy")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match="notes.txt is not a minidl checkpoint: .* this file with b'hell'"):
        load_checkpoint(tmp_path / "notes.txt")
    with pytest.raises(FileNotFoundError, match="^load_checkpoint: No such file: .*missing.npz "
                                                "\\(expected a minidl checkpoint \\(an .npz archive"):
        load_checkpoint(tmp_path / "missing.npz")
    with pytest.raises(IsADirectoryError, match=f"^load_checkpoint: {tmp_path} is a folder; expected a minidl "
                                                "checkpoint"):
        load_checkpoint(tmp_path)


def test_the_leftover_of_a_killed_save_is_refused_by_name(tmp_path):
    save_checkpoint(tmp_path / "c.npz", epoch=1)
    leftover = tmp_path / f".c.npz.tmp-{files._host()}-{os.getpid()}-abcd1234"
    leftover.write_bytes((tmp_path / "c.npz").read_bytes())   # even a complete one: it was never renamed
    with pytest.raises(CheckpointError, match="is the temporary file of a save or download that did not finish"):
        load_checkpoint(leftover)


def test_a_damaged_byte_is_caught_by_the_archive_crc(tmp_path):
    weights = np.arange(1000, dtype=np.float64)
    save_checkpoint(tmp_path / "c.npz", weights=weights)
    data = bytearray((tmp_path / "c.npz").read_bytes())
    data[data.find(weights[500:501].tobytes()) + 3] ^= 1   # one bit of weights[500]
    (tmp_path / "c.npz").write_bytes(data)
    with pytest.raises(CheckpointError, match="c.npz is not a minidl checkpoint .*Bad CRC-32 for file 'weights.npy'"):
        load_checkpoint(tmp_path / "c.npz")


def test_a_truncated_checkpoint_is_refused(tmp_path):
    save_checkpoint(tmp_path / "c.npz", weights=np.ones(1000))
    data = (tmp_path / "c.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.npz is not a minidl checkpoint"):
        load_checkpoint(tmp_path / "cut.npz")


def test_a_newer_format_version_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "VERSION", 2)
    save_checkpoint(tmp_path / "c.npz", epoch=1)
    monkeypatch.setattr(checkpoint, "VERSION", 1)
    with pytest.raises(CheckpointError, match="format version 2; this minidl reads version 1"):
        load_checkpoint(tmp_path / "c.npz")
