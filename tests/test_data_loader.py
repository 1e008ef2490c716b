"""Datasets, random_split and DataLoader: every sample once per epoch, reproducible shuffling,
and exact resumption from ``state_dict``."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl as md
from minidl.data.dataset import Dataset, Subset, TensorDataset, random_split
from minidl.data.loader import DataLoader
from minidl.data.transforms import GaussianNoise, RandomCrop


def numbered(n, dtype=np.float32):
    """n images (1, 3, 3) whose pixels all equal the image's index, labelled by that index."""
    images = np.broadcast_to(np.arange(n, dtype=dtype)[:, None, None, None], (n, 1, 3, 3)).copy()
    return TensorDataset(images, np.arange(n))


class ItemsOnly(Dataset):
    """The same samples reachable only through ``ds[i]``: the loader must stack them."""

    def __init__(self, dataset):
        self.inner = dataset

    def __getitem__(self, index):
        image, label = self.inner[index]
        return image, int(label)

    def __len__(self):
        return len(self.inner)


class TensorItems(ItemsOnly):
    """Items as a PyTorch dataset returns them: an image Tensor and a 0-d label Tensor."""

    def __getitem__(self, index):
        image, label = self.inner[index]
        return md.tensor(image), md.tensor(label)


class ArraysOnly(Dataset):
    """Samples the loader must gather from ``images``/``targets``: ``ds[i]`` is off limits."""

    def __init__(self, dataset):
        self.images, self.targets = dataset.images, dataset.targets

    def __getitem__(self, index):
        raise AssertionError("the fast path must not call __getitem__")

    def __len__(self):
        return len(self.images)


def epoch(loader):
    """One epoch as a list of (images, labels) ndarrays."""
    return [(images.numpy(), labels.numpy()) for images, labels in loader]


def assert_same_batches(first, second):
    assert len(first) == len(second)
    for (images_a, labels_a), (images_b, labels_b) in zip(first, second):
        np.testing.assert_array_equal(images_a, images_b)
        np.testing.assert_array_equal(labels_a, labels_b)


def labels_of(batches):
    return np.concatenate([labels for _, labels in batches])


# ---------------------------------------------------------------- datasets
def test_dataset_is_an_abstract_base_class():
    with pytest.raises(TypeError):
        Dataset()

    class NoLength(Dataset):
        def __getitem__(self, index):
            return index

    with pytest.raises(TypeError):
        NoLength()


def test_tensor_dataset_items_and_arrays():
    images, labels = np.zeros((4, 1, 2, 2), np.float32), np.array([3, 1, 4, 1])
    ds = TensorDataset(images, labels)
    assert len(ds) == 4
    image, label = ds[2]
    assert image.shape == (1, 2, 2) and label == 4
    assert ds.images is images and ds.targets is labels
    three = TensorDataset(images, labels, labels * 2)
    image, label, doubled = three[1]
    assert image.shape == (1, 2, 2) and (label, doubled) == (1, 2)
    assert not hasattr(three, "images")
    from_tensors = TensorDataset(md.tensor(images), labels)
    assert isinstance(from_tensors.images, np.ndarray)


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match=r"same first dimension .* got shapes \(4, 2\), \(3,\)"):
        TensorDataset(np.zeros((4, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="TensorDataset: array 1 is a scalar"):
        TensorDataset(np.zeros(3), np.float32(1))
    with pytest.raises(ValueError, match="TensorDataset: expected at least one array"):
        TensorDataset()


def test_subset_maps_indices():
    ds = numbered(10)
    subset = Subset(ds, [7, 2, 2])
    assert len(subset) == 3
    assert [subset[i][1] for i in range(3)] == [7, 2, 2]
    with pytest.raises(IndexError, match=r"Subset: indices must lie in \[0, 10\)"):
        Subset(ds, [0, 10])
    with pytest.raises(TypeError, match="Subset: indices must be a 1-D sequence of ints"):
        Subset(ds, [0.5])


@st.composite
def sizes_and_lengths(draw):
    size = draw(st.integers(0, 40))
    cuts = sorted(draw(st.lists(st.integers(0, size), min_size=0, max_size=4)))
    edges = [0, *cuts, size]
    return size, [b - a for a, b in zip(edges, edges[1:])]


@given(sizes_and_lengths(), st.integers(0, 2**32))
def test_random_split_is_a_partition(size_and_lengths, seed):
    size, lengths = size_and_lengths
    parts = random_split(numbered(size), lengths, seed=seed)
    assert [len(p) for p in parts] == lengths
    together = np.concatenate([p.indices for p in parts])
    np.testing.assert_array_equal(np.sort(together), np.arange(size))
    again = random_split(numbered(size), lengths, seed=seed)
    for a, b in zip(parts, again):
        np.testing.assert_array_equal(a.indices, b.indices)


def test_random_split_fractions_deal_the_remainder_to_the_first_parts():
    assert [len(p) for p in random_split(numbered(10), [0.8, 0.2], seed=0)] == [8, 2]
    assert [len(p) for p in random_split(numbered(11), [0.5, 0.5], seed=0)] == [6, 5]
    # floor(5 * [0.3, 0.3, 0.4]) = [1, 1, 2]; the one sample left goes to the first part.
    assert [len(p) for p in random_split(numbered(5), [0.3, 0.3, 0.4], seed=0)] == [2, 1, 2]


@pytest.mark.parametrize("size, fractions", [(10, [0.8, 0.2]), (5, [0.3, 0.3, 0.4]),
                                             (7, [0.1, 0.1, 0.1, 0.7]), (3, [0.25, 0.75])])
def test_random_split_lengths_match_pytorch(size, fractions):
    torch = pytest.importorskip("torch")
    expected = [len(p) for p in torch.utils.data.random_split(range(size), fractions)]
    assert [len(p) for p in random_split(numbered(size), fractions, seed=0)] == expected


def test_random_split_seeds():
    first = random_split(numbered(50), [25, 25], seed=0)[0].indices
    assert not np.array_equal(first, random_split(numbered(50), [25, 25], seed=1)[0].indices)
    md.manual_seed(4)
    from_minidl = random_split(numbered(50), [25, 25])[0].indices
    md.manual_seed(4)
    np.testing.assert_array_equal(from_minidl, random_split(numbered(50), [25, 25])[0].indices)


def test_random_split_takes_a_generator_as_pytorchs():
    by_seed = random_split(numbered(30), [0.5, 0.5], seed=7)
    by_generator = random_split(numbered(30), [0.5, 0.5], np.random.default_rng(7))  # third, as in PyTorch
    for a, b in zip(by_seed, by_generator):
        np.testing.assert_array_equal(a.indices, b.indices)
    generator = np.random.default_rng(0)
    first, second = random_split(numbered(30), [15, 15], generator=generator), random_split(
        numbered(30), [15, 15], generator=generator)
    assert not np.array_equal(first[0].indices, second[0].indices)  # the generator moved on
    with pytest.raises(ValueError, match="random_split: give a generator or a seed, not both"):
        random_split(numbered(10), [5, 5], np.random.default_rng(0), seed=0)
    with pytest.raises(TypeError, match="generator must be an np.random.Generator .* got int; an int seed goes in"):
        random_split(numbered(10), [5, 5], 0)


def test_random_split_errors():
    with pytest.raises(ValueError, match=r"the lengths \[3, 3\] sum to 6, but the dataset has 10 samples"):
        random_split(numbered(10), [3, 3])
    with pytest.raises(ValueError, match="fractions .* sum to 0.9"):
        random_split(numbered(10), [0.5, 0.4])
    with pytest.raises(ValueError, match="lengths must be non-negative"):
        random_split(numbered(10), [12, -2])
    with pytest.raises(ValueError, match=r"fractions must lie in \[0, 1\]"):
        random_split(numbered(10), [1.5, -0.5])


# ---------------------------------------------------------------- DataLoader: batches
def test_batches_shapes_and_dtypes():
    loader = DataLoader(numbered(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [images.shape for images, _ in batches] == [(4, 1, 3, 3), (4, 1, 3, 3), (2, 1, 3, 3)]
    for images, labels in batches:  # Tensors, as PyTorch's loader gives
        assert isinstance(images, md.Tensor) and images.dtype == np.float32
        assert isinstance(labels, md.Tensor) and labels.dtype == np.int64 and not labels.requires_grad
    np.testing.assert_array_equal(labels_of(epoch(loader)), np.arange(10))   # no shuffle: in order


@pytest.mark.parametrize("wrap", [lambda ds: ds, ItemsOnly, TensorItems, ArraysOnly],
                         ids=["tensor", "items", "tensor items", "arrays"])
@given(size=st.integers(1, 30), batch_size=st.integers(1, 8), shuffle=st.booleans(),
       drop_last=st.booleans())
def test_every_sample_exactly_once_per_epoch(wrap, size, batch_size, shuffle, drop_last):
    if drop_last and size < batch_size:
        return   # refused at construction, see test_loader_errors
    loader = DataLoader(wrap(numbered(size)), batch_size, shuffle=shuffle, drop_last=drop_last, seed=0)
    for _ in range(2):
        batches = epoch(loader)
        assert len(batches) == len(loader)
        labels = labels_of(batches)
        assert len(np.unique(labels)) == len(labels)                 # nothing twice
        if drop_last:
            assert len(labels) == size // batch_size * batch_size
            assert all(len(lab) == batch_size for _, lab in batches)
        else:
            np.testing.assert_array_equal(np.sort(labels), np.arange(size))
        for images, lab in batches:                                   # each image with its label
            np.testing.assert_array_equal(images[:, 0, 0, 0], lab)


def test_batches_equal_pytorchs_loader():
    torch = pytest.importorskip("torch")
    images = np.random.default_rng(0).random((10, 1, 3, 3), dtype=np.float32)
    labels = np.arange(10) % 3
    ours = list(DataLoader(TensorDataset(images, labels), batch_size=4))
    theirs = list(torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(images), torch.from_numpy(labels)), batch_size=4))
    assert len(ours) == len(theirs)
    for (our_images, our_labels), (their_images, their_labels) in zip(ours, theirs):
        np.testing.assert_array_equal(our_images.numpy(), their_images.numpy())
        np.testing.assert_array_equal(our_labels.numpy(), their_labels.numpy())
        assert str(our_images.dtype) == str(their_images.dtype).removeprefix("torch.") == "float32"
        assert str(our_labels.dtype) == str(their_labels.dtype).removeprefix("torch.") == "int64"


def test_num_workers_and_pin_memory_are_accepted_and_load_in_the_main_process():
    plain = DataLoader(numbered(20), 6, True, seed=0)
    ported = DataLoader(numbered(20), 6, True, num_workers=4, pin_memory=True, seed=0)
    assert (ported.num_workers, ported.pin_memory) == (4, True)
    assert_same_batches(epoch(ported), epoch(plain))
    with pytest.raises(ValueError, match="DataLoader: num_workers must be >= 0, got -1"):
        DataLoader(numbered(4), num_workers=-1)
    with pytest.raises(TypeError, match="DataLoader: num_workers must be an int, got 1.5"):
        DataLoader(numbered(4), num_workers=1.5)
    with pytest.raises(TypeError, match="positional argument"):  # PyTorch's fourth is a sampler
        DataLoader(numbered(4), 2, False, None)


def test_fast_path_through_nested_subsets():
    base = ArraysOnly(numbered(20))
    inner = Subset(base, np.arange(20)[::-1])          # sample j is base row 19 - j
    outer = Subset(inner, [0, 5, 6, 19])                # rows 19, 14, 13, 0
    batches = epoch(DataLoader(outer, batch_size=3))
    np.testing.assert_array_equal(labels_of(batches), [19, 14, 13, 0])
    np.testing.assert_array_equal(batches[0][0][:, 0, 0, 0], [19, 14, 13])


def test_float64_images_become_float32_and_other_targets_pass_through():
    images = np.random.default_rng(0).random((5, 1, 2, 2))
    targets = np.linspace(0, 1, 5, dtype=np.float32)           # regression targets
    images_out, targets_out = next(iter(DataLoader(TensorDataset(images, targets), batch_size=5)))
    assert images_out.dtype == np.float32
    np.testing.assert_array_equal(images_out.numpy(), images.astype(np.float32))
    assert isinstance(targets_out, md.Tensor) and targets_out.dtype == np.float32


# ---------------------------------------------------------------- DataLoader: shuffling
def test_shuffling_differs_between_epochs_and_repeats_under_a_seed():
    loader = DataLoader(numbered(50), batch_size=8, shuffle=True, seed=0)
    first, second = labels_of(epoch(loader)), labels_of(epoch(loader))
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, np.arange(50))
    twin = DataLoader(numbered(50), batch_size=8, shuffle=True, seed=0)
    np.testing.assert_array_equal(labels_of(epoch(twin)), first)
    np.testing.assert_array_equal(labels_of(epoch(twin)), second)
    other = DataLoader(numbered(50), batch_size=8, shuffle=True, seed=1)
    assert not np.array_equal(labels_of(epoch(other)), first)


def test_without_a_seed_manual_seed_fixes_the_order():
    md.manual_seed(0)
    first = labels_of(epoch(DataLoader(numbered(50), batch_size=8, shuffle=True)))
    md.manual_seed(0)
    np.testing.assert_array_equal(labels_of(epoch(DataLoader(numbered(50), batch_size=8, shuffle=True))), first)


def test_fast_and_slow_paths_give_identical_batches():
    augment = RandomCrop(3, padding=1)
    fast = DataLoader(numbered(30), batch_size=7, shuffle=True, seed=3, transform=augment)
    slow = DataLoader(ItemsOnly(numbered(30)), batch_size=7, shuffle=True, seed=3, transform=augment)
    for _ in range(2):
        assert_same_batches(epoch(fast), epoch(slow))


def test_transform_gets_the_float32_batch_and_a_generator():
    seen = []

    def record(images, rng):
        seen.append((images.shape, images.dtype, isinstance(rng, np.random.Generator)))
        return images * 2

    images, _ = next(iter(DataLoader(numbered(6), batch_size=4, transform=record)))
    assert seen == [((4, 1, 3, 3), np.float32, True)]
    np.testing.assert_array_equal(images.numpy()[:, 0, 0, 0], [0, 2, 4, 6])


def test_augmentation_is_reproducible_and_changes_every_epoch():
    def make():
        return DataLoader(numbered(16), batch_size=4, seed=0, transform=GaussianNoise(0.1, clip=False))

    loader = make()
    first, second = epoch(loader), epoch(loader)
    assert not np.array_equal(first[0][0], second[0][0])
    assert_same_batches(epoch(make()), first)


# ---------------------------------------------------------------- DataLoader: resuming
def make_augmented_loader(seed):
    return DataLoader(numbered(20), batch_size=6, shuffle=True, seed=seed,
                      transform=GaussianNoise(0.1, clip=False))


def test_resume_between_epochs():
    original = make_augmented_loader(seed=0)
    epoch(original)
    state = json.loads(json.dumps(original.state_dict()))    # a checkpoint stores plain values
    expected = [epoch(original), epoch(original)]
    resumed = make_augmented_loader(seed=99)                  # its own seed is overridden
    resumed.load_state_dict(state)
    assert_same_batches(epoch(resumed), expected[0])
    assert_same_batches(epoch(resumed), expected[1])


def test_resume_in_the_middle_of_an_epoch():
    original = make_augmented_loader(seed=0)
    epoch(original)
    batches = iter(original)
    done = [next(batches), next(batches)]                     # the training loop used 2 of 4
    state = original.state_dict()
    assert state["batches_done"] == 2
    rest = [(images.numpy(), labels.numpy()) for images, labels in batches]
    following = epoch(original)

    resumed = make_augmented_loader(seed=99)
    resumed.load_state_dict(state)
    assert resumed.state_dict() == state                      # a checkpoint right away loses nothing
    assert_same_batches(epoch(resumed), rest)
    assert_same_batches(epoch(resumed), following)
    assert len(done) + len(rest) == len(original)


def test_resume_after_the_last_batch_without_finishing_the_loop():
    original = make_augmented_loader(seed=0)
    for _ in original:
        state = original.state_dict()                         # taken while holding the last batch
        last = True
    assert last and state["batches_done"] == 0
    resumed = make_augmented_loader(seed=99)
    resumed.load_state_dict(state)
    assert_same_batches(epoch(resumed), epoch(original))


def test_resume_mid_epoch_needs_the_same_batching():
    original = make_augmented_loader(seed=0)
    next(iter(original))
    state = original.state_dict()
    other = DataLoader(numbered(20), batch_size=5, shuffle=True)
    with pytest.raises(ValueError, match="cannot resume in the middle of an epoch of a different loader"):
        other.load_state_dict(state)


# ---------------------------------------------------------------- DataLoader: errors
class NotPairs(Dataset):
    def __getitem__(self, index):
        return np.zeros((1, 2, 2), np.float32)

    def __len__(self):
        return 3


def test_loader_errors():
    with pytest.raises(ValueError, match="DataLoader: batch_size must be at least 1, got 0"):
        DataLoader(numbered(4), batch_size=0)
    for bad in (2.5, True):
        with pytest.raises(TypeError, match="DataLoader: batch_size must be an int"):
            DataLoader(numbered(4), batch_size=bad)
    with pytest.raises(ValueError, match="DataLoader: the dataset is empty"):
        DataLoader(numbered(0))
    with pytest.raises(ValueError, match="drop_last=True with batch_size=8 and only 4 samples"):
        DataLoader(numbered(4), batch_size=8, drop_last=True)
    with pytest.raises(TypeError, match="DataLoader: transform must be callable"):
        DataLoader(numbered(4), transform="flip")
    integer_images = TensorDataset(np.zeros((4, 1, 2, 2), np.uint8), np.arange(4))
    with pytest.raises(TypeError, match="DataLoader: images must be floating point .* got dtype uint8"):
        next(iter(DataLoader(integer_images)))
    with pytest.raises(TypeError, match=r"DataLoader: dataset items must be \(image, label\) pairs"):
        next(iter(DataLoader(NotPairs())))
    named = TensorDataset(np.zeros((2, 1, 2, 2), np.float32), np.array(["cat", "dog"]))
    with pytest.raises(TypeError, match=r"DataLoader: labels must be numbers .* got dtype <U3"):
        next(iter(DataLoader(named)))
