"""minidl.save / minidl.load: values come back with their types and bits, never through pickle;
torch.save files load through torch.load(weights_only=True); bad input is named."""

import os
import pickle
import sys

import numpy as np
import pytest
from hypothesis import given, settings

import minidl as md
from minidl import nn, optim
from minidl.checkpoint import CheckpointError, save_checkpoint
from minidl.serialization import load, save
from test_checkpoint import CALLS, Payload, assert_same, nested, small_model, trained_objects


def test_every_kind_of_value_round_trips_with_its_type_and_bits(tmp_path):
    value = {
        "float32": md.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 7, requires_grad=True),
        "float64": md.tensor(np.array([np.pi, -0.0, np.inf, np.nan])),
        "int64": md.tensor(np.array([-2**63, 2**63 - 1], dtype=np.int64)),
        "bool": md.tensor(np.array([[True], [False]])),
        "0-d": md.tensor(np.float64(2.5)),
        "empty": md.tensor(np.zeros((0, 3), dtype=np.float32)),
        "ndarray": np.array([1, 2], dtype=np.uint8),
        "empty ndarray": np.zeros((2, 0), dtype=np.int64),
        "numpy scalar": np.float32(0.1),
        "numbers": [0, -1, 2**70, 1.5, float("nan"), True, False, None],
        "text": "μ and σ",
        "nested": {"tuple": (1, md.tensor(np.ones(2))), 3: {"deeper": [[np.bool_(True)]]}},
    }
    save(value, tmp_path / "all.pt")
    loaded = load(tmp_path / "all.pt")
    assert_same(value, loaded)
    assert type(loaded["numbers"][0]) is int and type(loaded["numbers"][3]) is float


@settings(max_examples=25)
@given(nested)
def test_any_nested_value_round_trips(tmp_path_factory, value):
    path = tmp_path_factory.mktemp("nested") / "value.pt"
    try:
        save(value, path)
    except ValueError as error:
        # "a/b" and {"a": {"b": ...}} would name the same archive entry: refused, never overwritten.
        assert "save: two arrays would both be stored as" in str(error)
        return
    assert_same(value, load(path))


def test_a_model_and_an_optimizer_state_dict_load_back_bit_identically(tmp_path):
    model, optimizer, _, _ = trained_objects()
    save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 2}, tmp_path / "ckpt.pt")
    loaded = load(tmp_path / "ckpt.pt")
    assert_same(dict(model.state_dict()), loaded["model"], "model")
    assert_same(optimizer.state_dict(), loaded["optimizer"], "optimizer")   # int keys, tuples (betas)
    assert loaded["epoch"] == 2

    md.manual_seed(5)
    model2 = small_model()
    optimizer2 = optim.Adam(model2.parameters(), lr=0.5)
    model2.load_state_dict(loaded["model"])
    optimizer2.load_state_dict(loaded["optimizer"])
    assert_same(dict(model.state_dict()), dict(model2.state_dict()), "reloaded model")
    assert_same(optimizer.state_dict(), optimizer2.state_dict(), "reloaded optimizer")


def test_state_dicts_of_tensors_load_into_a_model(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    state = {key: md.tensor(value) for key, value in model.state_dict().items()}
    save(state, tmp_path / "model.pth")
    other = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    other.load_state_dict(load(tmp_path / "model.pth"))
    assert_same(dict(model.state_dict()), dict(other.state_dict()))


def test_a_checkpoint_written_by_save_checkpoint_loads(tmp_path):
    model = small_model()
    save_checkpoint(tmp_path / "checkpoint.npz", model, epoch=4)
    loaded = load(tmp_path / "checkpoint.npz")
    assert loaded["epoch"] == 4
    assert_same(dict(model.state_dict()), loaded["model"])


def test_map_location_and_weights_only(tmp_path):
    save({"w": md.ones(2)}, tmp_path / "w.pt")
    for location in (None, "cpu", md.device("cpu")):
        assert np.array_equal(np.asarray(load(tmp_path / "w.pt", map_location=location)["w"]), np.ones(2))
    # minidl's files hold data only: weights_only=False reads them the same way
    assert np.array_equal(np.asarray(load(tmp_path / "w.pt", weights_only=False)["w"]), np.ones(2))
    with pytest.raises(ValueError, match="map_location='cuda:0', but minidl runs on the CPU only"):
        load(tmp_path / "w.pt", map_location="cuda:0")
    with pytest.raises(TypeError, match="weights_only must be True or False, got 'yes'"):
        load(tmp_path / "w.pt", weights_only="yes")


# ------------------------------------------------------------------ files from torch.save
def test_a_torch_saved_state_dict_loads_as_minidl_tensors(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    reference[1].running_mean.uniform_()
    trainable = torch.ones(3, dtype=torch.float64, requires_grad=True)
    torch.save({"model": reference.state_dict(), "extra": [trainable, torch.Size([2, 3]), 7, "text", None]},
               tmp_path / "torch.pth")

    loaded = load(tmp_path / "torch.pth")
    for key, value in reference.state_dict().items():
        assert type(loaded["model"][key]) is md.Tensor, key
        assert_same(value.numpy(), np.asarray(loaded["model"][key]), key)   # num_batches_tracked: int64
    tensor, size, number, text, nothing = loaded["extra"]
    assert tensor.requires_grad and tensor.dtype == md.float64
    assert size == (2, 3) and type(size) is tuple and (number, text, nothing) == (7, "text", None)

    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    model.load_state_dict(loaded["model"])
    x = np.random.default_rng(0).standard_normal((2, 1, 5, 5)).astype(np.float32)
    with torch.no_grad():
        expected = reference.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np.asarray(model.eval()(md.tensor(x))), expected, rtol=1e-5, atol=1e-6)


def test_a_torch_file_from_before_pytorch_1_6_loads(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.arange(4)}, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    assert_same({"w": md.tensor(np.arange(4))}, load(tmp_path / "old.pt"))


def test_a_torch_file_is_only_read_with_weights_only(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.zeros(2)}, tmp_path / "w.pth")
    with pytest.raises(ValueError, match="w.pth is a torch.save pickle, which minidl reads only with "
                                         "weights_only=True"):
        load(tmp_path / "w.pth", weights_only=False)


def test_torch_dtypes_numpy_lacks_are_named(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.zeros(2, dtype=torch.bfloat16)}, tmp_path / "bf16.pth")
    with pytest.raises(CheckpointError, match=r"bf16.pth: the file's object\['w'\] is a torch tensor of dtype "
                                              "torch.bfloat16"):
        load(tmp_path / "bf16.pth")


def test_a_pickle_bearing_torch_file_is_refused_without_running_its_code(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.zeros(2), "payload": Payload()}, tmp_path / "hostile.pth")
    with pytest.raises(CheckpointError, match=r"torch.load\(weights_only=True\) refused .*hostile.pth: "
                                              "Unsupported global"):
        load(tmp_path / "hostile.pth")
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps({"weight": Payload()}, protocol=2))
    with pytest.raises(CheckpointError, match="refused .*plain.pkl"):
        load(tmp_path / "plain.pkl")
    assert CALLS == []


def test_without_torch_a_torch_file_asks_for_it_and_is_not_unpickled(tmp_path, monkeypatch):
    (tmp_path / "w.pth").write_bytes(pickle.dumps({"weight": Payload()}))
    monkeypatch.setitem(sys.modules, "torch", None)   # import torch now raises ImportError
    with pytest.raises(ImportError, match="w.pth is a pickle, as torch.save writes; .*pip install torch==2.13.0"):
        load(tmp_path / "w.pth")
    assert CALLS == []


def test_object_arrays_inside_an_archive_are_refused_without_being_unpickled(tmp_path):
    np.savez(tmp_path / "objects.pt", weights=np.array([Payload()], dtype=object))
    os.replace(tmp_path / "objects.pt.npz", tmp_path / "objects.pt")
    with pytest.raises(CheckpointError, match="objects.pt is not a minidl file .*holds pickled objects"):
        load(tmp_path / "objects.pt")
    assert CALLS == []


# ------------------------------------------------------------------ bad input
def test_files_that_are_not_minidl_saves_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"^load: No such file: {tmp_path / 'missing.pt'} "
                                                r"\(expected a file written by minidl.save"):
        load(tmp_path / "missing.pt")
    with pytest.raises(IsADirectoryError, match=f"^load: {tmp_path} is a folder; expected a file written by "
                                                "minidl.save"):
        load(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match="notes.txt is not a minidl file: an .npz archive starts with"):
        load(tmp_path / "notes.txt")
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(CheckpointError, match="other.npz is an .npz archive but not a minidl file"):
        load(tmp_path / "other.npz")
    leftover = tmp_path / ".w.pt.tmp-host-1-abcd1234"
    leftover.write_bytes(b"PK")
    with pytest.raises(CheckpointError, match="temporary file of a save or download that did not finish"):
        load(leftover)
    with open(tmp_path / "notes.txt", "rb") as file, pytest.raises(TypeError, match="load: f must be a path"):
        load(file)


def test_a_damaged_file_is_refused(tmp_path):
    weights = md.tensor(np.linspace(0, 1, 1000))
    save({"w": weights}, tmp_path / "w.pt")
    data = bytearray((tmp_path / "w.pt").read_bytes())
    data[data.find(np.asarray(weights)[700:701].tobytes()) + 2] ^= 4
    (tmp_path / "damaged.pt").write_bytes(data)
    with pytest.raises(CheckpointError, match="damaged.pt is not a minidl file .*Bad CRC-32"):
        load(tmp_path / "damaged.pt")
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.pt is not a minidl file"):
        load(tmp_path / "cut.pt")


def test_what_cannot_be_saved_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(TypeError, match="save: got a Sequential object; minidl saves data, never objects"):
        save(small_model(), tmp_path / "model.pt")
    with pytest.raises(TypeError, match="save: cannot store 'object/history/sets' of type set"):
        save({"history": {"sets": {1, 2}}}, tmp_path / "h.pt")
    with pytest.raises(TypeError, match="save: f must be a path"):
        save({}, None)
    assert os.listdir(tmp_path) == []


def test_saving_to_a_folder_or_into_a_missing_folder_is_named(tmp_path):
    with pytest.raises(IsADirectoryError, match=f"^cannot write {tmp_path}: it is a folder; expected the path "
                                                "of a file$"):
        save({"w": md.ones(2)}, tmp_path)
    with pytest.raises(FileNotFoundError, match=f"^cannot write .*w.pt: the folder {tmp_path / 'runs'} "
                                                "does not exist$"):
        save({"w": md.ones(2)}, tmp_path / "runs" / "w.pt")
    assert os.listdir(tmp_path) == []
