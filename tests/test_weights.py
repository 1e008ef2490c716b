"""Weights files: safetensors with metadata and a checksum of the tensors, the pretrained
registry, torchvision state dicts."""

import hashlib
import json
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

import minidl as md
from minidl import files, nn
from minidl.serialization import save
from minidl.zoo import PRETRAINED, WeightsError, lenet5, load_weights, read_weights, save_weights
from minidl.zoo import evaluate_pretrained, load_pretrained, load_torchvision_state_dict, pretrained
from minidl.zoo.lenet import LeNet5
from minidl.zoo.torchvision_weights import read_torchvision_state_dict
from minidl.zoo.weights import CHECKSUM_KEY, tensors_sha256, write_weights

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TORCHVISION = json.loads((Path(__file__).parent / "data" / "torchvision_state_dicts.json").read_text())


def random_state(model, seed=0):
    rng = np.random.default_rng(seed)
    return {key: rng.standard_normal(value.shape).astype(value.dtype) for key, value in model.state_dict().items()}


# ---------------------------------------------------------------------------- save / load
def test_save_then_load_rebuilds_the_model_with_equal_weights_and_metadata(tmp_path):
    model = lenet5(num_classes=7)
    model.load_state_dict(random_state(model))
    path = tmp_path / "w.safetensors"
    save_weights(model, path, architecture="lenet5", architecture_kwargs={"num_classes": 7},
                 dataset="mnist", test_accuracy={"mnist": 0.5})

    loaded = load_weights(path)
    assert isinstance(loaded, LeNet5) and not loaded.training
    assert loaded.weights_metadata["architecture"] == "lenet5"
    assert loaded.weights_metadata["test_accuracy"] == {"mnist": 0.5}
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key], value)
        assert loaded.state_dict()[key].dtype == value.dtype


def test_load_into_a_given_model_and_read_raw_arrays(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    model.load_state_dict(random_state(model, 1))
    path = tmp_path / "w.safetensors"
    save_weights(model, path)
    arrays, metadata = read_weights(path)
    assert metadata["architecture"] is None
    assert set(arrays) == set(model.state_dict())
    assert arrays["1.num_batches_tracked"].dtype == np.int64
    other = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    load_weights(path, model=other)
    np.testing.assert_array_equal(other[0].weight.numpy(), model[0].weight.numpy())
    with pytest.raises(WeightsError, match="does not name its architecture"):
        load_weights(path)


def test_wrong_model_is_refused_before_anything_changes(tmp_path):
    path = tmp_path / "w.safetensors"
    save_weights(lenet5(num_classes=10), path, architecture="lenet5")
    model = lenet5(num_classes=5)
    before = model.state_dict()
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_weights(path, model=model)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_bad_metadata_or_architecture_leaves_the_old_file(tmp_path):
    path = tmp_path / "w.safetensors"
    save_weights(lenet5(), path, architecture="lenet5", note="first")
    old = path.read_bytes()
    with pytest.raises(TypeError, match="JSON-serialisable"):
        save_weights(lenet5(), path, architecture="lenet5", note=object())
    with pytest.raises(ValueError, match="unknown architecture 'lenet6'"):
        save_weights(lenet5(), path, architecture="lenet6")
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["w.safetensors"]  # no temporary file left behind


def test_files_of_every_header_length_load(tmp_path):
    """safetensors pads its header to a multiple of 8 bytes, so the first byte of a file (the
    header length's lowest byte) can be anything, 0x80 included: it must never be taken for a
    pickle's first byte."""
    model = nn.Linear(2, 2)
    first_bytes = set()
    for length in range(0, 300, 3):
        path = tmp_path / f"w{length}.safetensors"
        save_weights(model, path, note="x" * length)
        first_bytes.add(path.read_bytes()[0])
        arrays, metadata = read_weights(path)
        assert metadata["note"] == "x" * length and set(arrays) == {"weight", "bias"}
    assert 0x80 in first_bytes


def test_reserved_metadata_and_unknown_architectures_are_reported(tmp_path):
    with pytest.raises(ValueError, match="minidl_version is set by save_weights itself"):
        save_weights(lenet5(), tmp_path / "w.safetensors", minidl_version="9")
    from safetensors.numpy import save_file

    path = tmp_path / "future.safetensors"
    save_file({"w": np.zeros(2, np.float32)}, str(path),
              metadata={"minidl": json.dumps({"architecture": "lenet9", "architecture_kwargs": {}})})
    with pytest.raises(WeightsError, match="architecture 'lenet9', which this minidl does not have"):
        load_weights(path)
    save_file({"w": np.zeros(2, np.float32)}, str(path), metadata={"minidl": "[1, 2]"})
    with pytest.raises(WeightsError, match="not a minidl weights description"):
        read_weights(path)


def test_pickles_and_damaged_files_are_refused(tmp_path):
    pickled = tmp_path / "w.pth"
    pickled.write_bytes(pickle.dumps({"weight": [1.0, 2.0]}))
    with pytest.raises(WeightsError, match="pickle"):
        read_weights(pickled)
    good = tmp_path / "good.safetensors"
    save_weights(lenet5(), good, architecture="lenet5")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(WeightsError, match="truncated.safetensors is not a readable safetensors"):
        read_weights(truncated)


def recorded_checksum(path):
    """The checksum in the file's header, read without read_weights (which would verify it)."""
    with safe_open(str(path), framework="numpy") as file:
        return json.loads(file.metadata()["minidl"]).get(CHECKSUM_KEY)


def test_the_file_records_a_checksum_of_its_tensors(tmp_path):
    model = lenet5()
    path = tmp_path / "w.safetensors"
    save_weights(model, path, architecture="lenet5")
    assert recorded_checksum(path) == tensors_sha256(model.state_dict())
    assert read_weights(path)[1][CHECKSUM_KEY] == recorded_checksum(path)
    with pytest.raises(ValueError, match="tensors_sha256 is set by save_weights itself"):
        save_weights(model, path, tensors_sha256="0" * 64)


def test_the_same_weights_always_give_the_same_file(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    for name in ("a", "b", "c"):
        save_weights(model, tmp_path / f"{name}.safetensors", note="same")
    assert len({(tmp_path / f"{name}.safetensors").read_bytes() for name in ("a", "b", "c")}) == 1


def test_tensors_sha256_hashes_names_dtypes_shapes_and_little_endian_bytes():
    arrays = {"b": np.array([1], dtype="<i2"), "a": np.array(False)}
    spelled_out = b'["a", "bool", []]\n' + b"\x00" + b'["b", "int16", [1]]\n' + b"\x01\x00"
    assert tensors_sha256(arrays) == hashlib.sha256(spelled_out).hexdigest()
    assert tensors_sha256({"a": arrays["a"], "b": arrays["b"].astype(">i2")}) == tensors_sha256(arrays)
    changed = [{"b": np.array([2], "<i2"), "a": arrays["a"]}, {"c": arrays["b"], "a": arrays["a"]},
               {"b": np.array([1], "<i4"), "a": arrays["a"]}, {"b": np.array([[1]], "<i2"), "a": arrays["a"]}]
    assert len({tensors_sha256(other) for other in changed} | {tensors_sha256(arrays)}) == 5


def test_a_damaged_tensor_is_refused_by_its_checksum(tmp_path):
    model = nn.Linear(50, 4)
    path = tmp_path / "w.safetensors"
    save_weights(model, path)
    data = bytearray(path.read_bytes())
    data[data.find(model.weight.numpy()[2, 10:11].tobytes()) + 1] ^= 16   # one bit of weight[2, 10]
    path.write_bytes(data)
    with pytest.raises(WeightsError, match=f"^{path}: its tensors do not match the SHA-256 the file records"):
        read_weights(path)
    with pytest.raises(WeightsError, match="damaged or was edited"):
        load_weights(path, model=nn.Linear(50, 4))


def test_files_without_a_checksum_still_load(tmp_path):
    from safetensors.numpy import save_file

    save_file({"weight": np.ones((2, 2), np.float32), "bias": np.zeros(2, np.float32)}, str(tmp_path / "w.safetensors"))
    arrays, metadata = read_weights(tmp_path / "w.safetensors")
    assert metadata == {} and np.array_equal(arrays["weight"], np.ones((2, 2)))


def test_write_weights_rewrites_what_read_weights_read(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    model.load_state_dict(random_state(model, 4))
    save_weights(model, tmp_path / "a.safetensors", note="kept")
    arrays, metadata = read_weights(tmp_path / "a.safetensors")
    write_weights(tmp_path / "b.safetensors", arrays, metadata)
    arrays2, metadata2 = read_weights(tmp_path / "b.safetensors")
    assert metadata2 == metadata
    for key, value in arrays.items():
        assert arrays2[key].dtype == value.dtype and arrays2[key].shape == value.shape
        assert arrays2[key].tobytes() == value.tobytes(), key


def test_missing_files_folders_and_leftovers_are_named(tmp_path):
    for reader, where in ((read_weights, "read_weights"), (read_torchvision_state_dict, "read_torchvision_state_dict")):
        with pytest.raises(FileNotFoundError, match=f"^{where}: No such file: .*w.safetensors"):
            reader(tmp_path / "w.safetensors")
        with pytest.raises(IsADirectoryError, match=f"^{where}: {tmp_path} is a folder; expected a"):
            reader(tmp_path)
    with pytest.raises(IsADirectoryError, match=f"cannot write {tmp_path}: it is a folder"):
        save_weights(lenet5(), tmp_path)
    save_weights(lenet5(), tmp_path / "w.safetensors")
    leftover = tmp_path / f".w.safetensors.tmp-{files._host()}-{os.getpid()}-abcd1234"
    leftover.write_bytes((tmp_path / "w.safetensors").read_bytes())
    with pytest.raises(WeightsError, match="temporary file of a save or download that did not finish"):
        read_weights(leftover)


# ---------------------------------------------------------------------------- pretrained
def test_every_registered_file_loads_offline_and_says_what_it_is():
    for name in PRETRAINED:
        metadata = pretrained.describe(name)
        for field in ("architecture", "dataset", "classes", "normalize", "test_accuracy", "command",
                      "train_time_s", "epochs"):
            assert field in metadata, (name, field)
        assert recorded_checksum(os.path.join(pretrained.FOLDER, PRETRAINED[name].file)) is not None, name
        model = load_pretrained(name)
        assert not model.training
        # Small files in the package: ResNet-20, the largest, is 272,149 parameters (1.1 MB).
        assert sum(p.numel() for p in model.parameters()) < 300_000, name
        assert os.path.getsize(os.path.join(pretrained.FOLDER, PRETRAINED[name].file)) < 1_200_000, name


def test_a_damaged_pretrained_file_is_refused(monkeypatch):
    entry = PRETRAINED["lenet5-mnist"]
    monkeypatch.setitem(PRETRAINED, "lenet5-mnist", entry._replace(sha256="0" * 64))
    with pytest.raises(WeightsError, match="damaged or was replaced"):
        load_pretrained("lenet5-mnist")
    with pytest.raises(KeyError, match="unknown weights 'lenet7'"):
        load_pretrained("lenet7")


@pytest.mark.parametrize("name, dataset", [("lenet5-mnist", "builtin"),
                                           ("lenet5-synthetic-shapes", "synthetic-shapes")])
def test_pretrained_weights_reach_their_recorded_accuracy_offline(name, dataset):
    accuracy, recorded = evaluate_pretrained(name, dataset=dataset)
    assert recorded is not None
    assert accuracy == pytest.approx(recorded, abs=1e-9)
    assert accuracy > 0.98


@pytest.mark.parametrize("name", ["lenet5-mnist", "small_vgg-fashion-mnist"])
def test_pretrained_weights_reach_their_recorded_accuracy_on_the_full_test_set(name):
    if not SHARED_DATA.exists():
        pytest.skip("the full datasets are not beside the project (../shared/data)")
    accuracy, recorded = evaluate_pretrained(name, root=SHARED_DATA)
    assert accuracy == pytest.approx(recorded, abs=1e-9)


# ---------------------------------------------------------------------------- torchvision
def torchvision_like_state(name, seed=0):
    """Random arrays under torchvision's own names and shapes for model ``name``."""
    rng = np.random.default_rng(seed)
    state = {}
    for key, shape in TORCHVISION[name]["state_dict"]:
        if key.endswith("num_batches_tracked"):
            state[key] = np.array(7, dtype=np.int64)
        else:
            state[key] = rng.standard_normal(shape).astype(np.float32)
    return state


def assert_loaded(model, state):
    own = model.state_dict()
    for key, value in own.items():
        np.testing.assert_array_equal(value, state[key], err_msg=key)


def test_a_torchvision_safetensors_file_maps_onto_resnet18(tmp_path):
    from safetensors.numpy import save_file

    from minidl.zoo.resnet import resnet18

    state = torchvision_like_state("resnet18")
    path = tmp_path / "resnet18.safetensors"
    save_file(state, str(path))
    model = resnet18()
    result = load_torchvision_state_dict(model, path)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert_loaded(model, state)


def test_a_torchvision_pth_file_maps_onto_resnet18_through_torch(tmp_path):
    torch = pytest.importorskip("torch")
    from minidl.zoo.resnet import resnet18

    state = torchvision_like_state("resnet18", seed=1)
    path = tmp_path / "resnet18.pth"
    torch.save({"state_dict": {k: torch.from_numpy(v) for k, v in state.items()}}, path)
    model = resnet18()
    load_torchvision_state_dict(model, path)
    assert_loaded(model, state)


def test_a_state_dict_saved_by_minidl_save_loads_like_a_pth_file(tmp_path):
    from minidl.zoo.resnet import resnet18

    state = torchvision_like_state("resnet18", seed=4)
    save({"state_dict": {key: md.tensor(value) for key, value in state.items()}}, tmp_path / "resnet18.pt")
    model = resnet18()
    load_torchvision_state_dict(model, tmp_path / "resnet18.pt")
    assert_loaded(model, state)


def test_a_pth_file_without_torch_says_which_torch_to_install(tmp_path, monkeypatch):
    (tmp_path / "w.pth").write_bytes(pickle.dumps({"weight": [1.0]}, protocol=2))
    monkeypatch.setitem(sys.modules, "torch", None)   # import torch now raises ImportError
    with pytest.raises(ImportError, match="pip install torch==2.13.0"):
        read_torchvision_state_dict(tmp_path / "w.pth")


MARKER = []


def _run_code_on_load():
    MARKER.append("the pickle ran code")


class Hostile:
    """A pickle that calls a function when it is loaded, as a malicious weights file would."""

    def __reduce__(self):
        return (_run_code_on_load, ())


def test_a_hostile_pickle_is_refused_without_running_its_code(tmp_path):
    torch = pytest.importorskip("torch")
    from minidl.zoo.torchvision_weights import read_torchvision_state_dict

    path = tmp_path / "hostile.pth"
    torch.save({"weight": torch.zeros(2), "payload": Hostile()}, path)
    with pytest.raises(WeightsError, match=r"torch.load\(weights_only=True\) refused"):
        read_torchvision_state_dict(path)
    with pytest.raises(WeightsError, match="PyTorch/pickle file"):
        read_weights(path)                      # a zip archive from torch.save
    assert MARKER == []


def test_googlenet_weights_with_auxiliary_classifiers_load_into_a_model_without_them():
    from minidl.zoo.googlenet import googlenet

    state = torchvision_like_state("googlenet", seed=2)
    model = googlenet(aux_logits=False)
    load_torchvision_state_dict(model, state)
    assert_loaded(model, state)
    with pytest.raises(RuntimeError, match="Missing key"):
        load_torchvision_state_dict(googlenet(aux_logits=True), {k: v for k, v in state.items()
                                                                 if not k.startswith("aux1.")})


def test_old_densenet_names_are_renamed():
    from minidl.zoo.densenet import densenet121

    state = torchvision_like_state("densenet121", seed=3)
    old = {}
    for key, value in state.items():
        for part in ("norm1", "norm2", "conv1", "conv2"):
            key = key.replace(f".{part}.", f".{part[:-1]}.{part[-1]}.") if "denselayer" in key else key
        old[key] = value
    assert "features.denseblock1.denselayer1.norm.1.weight" in old
    model = densenet121()
    load_torchvision_state_dict(model, old)
    assert_loaded(model, state)
    # files older than PyTorch 0.4.1 have no batch-norm counters: the model keeps its own
    no_counters = {k: v for k, v in old.items() if not k.endswith("num_batches_tracked")}
    model.features.norm0.num_batches_tracked.numpy()[...] = 11
    load_torchvision_state_dict(model, no_counters)
    assert model.features.norm0.num_batches_tracked.item() == 11


def test_a_file_for_another_model_is_reported_by_name(tmp_path):
    from minidl.zoo.resnet import resnet34

    with pytest.raises(RuntimeError, match="Missing key.*layer1.2.conv1.weight"):
        load_torchvision_state_dict(resnet34(), torchvision_like_state("resnet18"))
