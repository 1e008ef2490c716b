"""PyTorch idioms that students bring, run side by side on minidl and on torch.

Each idiom is written once as ``idiom(lib)`` with ``lib`` the library's top module, so the same
lines run on both: the results must agree in values, shapes and dtypes, and where PyTorch
raises, minidl raises the same kind of error. The traps that once computed something else
quietly (``==`` by identity, ``max(dim)`` giving values only, a second ``backward`` doubling the
gradients, an optimiser step between forward and backward) are among them.
"""

import numpy as np
import pytest

import minidl

torch = pytest.importorskip("torch")

IDIOMS = {}


def idiom(function):
    IDIOMS[function.__name__] = function
    return function


def plain(value):
    """A library-neutral form of a result: arrays with their dtype name, tuples, numbers.

    Floats keep 5 significant digits: the two libraries' exp, log and sums may differ in the
    last bit of a float32.
    """
    if isinstance(value, torch.Tensor | minidl.Tensor):
        array = value.detach().numpy()
        values = array.tolist() if array.dtype.kind != "f" else np.vectorize(_digits, otypes=[float])(array).tolist()
        return ("tensor", dtype_name(value.dtype), array.shape, values)
    if isinstance(value, torch.dtype | np.dtype):
        return dtype_name(value)
    if isinstance(value, str):
        return value.replace("torch.", "minidl.")
    if isinstance(value, tuple | list):  # torch.Size, torch.return_types.max and tuples alike
        return "sequence", [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, float):
        return _digits(value)
    return value


def _digits(number):
    return float(f"{number:.5g}")


def dtype_name(dtype):
    return str(dtype).replace("torch.", "")


def outcome(function, lib):
    try:
        return "value", plain(function(lib))
    except Exception as error:  # the kind of error is compared, not its wording
        return "error", ERROR_KINDS.get(type(error).__name__, type(error).__name__)


# PyTorch raises RuntimeError where NumPy-like code says ValueError or IndexError: judged the same.
ERROR_KINDS = {"ValueError": "RuntimeError", "IndexError": "RuntimeError"}


def scores(lib):
    return lib.tensor([[0.1, 2.0, -1.0], [3.0, 0.5, 0.2], [0.0, 0.0, 4.0], [1.0, 1.5, 1.2]])


def labels(lib):
    return lib.tensor([1, 0, 1, 1])


# ---------------------------------------------------------------- comparisons and accuracy
@idiom
def equality_is_elementwise(lib):
    return scores(lib).argmax(1) == labels(lib)


@idiom
def inequality_with_a_number(lib):
    return labels(lib) != 1


@idiom
def correct_count_from_the_cifar_tutorial(lib):
    _, predicted = lib.max(scores(lib).data, 1)
    return (predicted == labels(lib)).sum().item()


@idiom
def correct_count_from_the_mnist_example(lib):
    output = lib.nn.functional.log_softmax(scores(lib), dim=1)
    pred = output.argmax(dim=1, keepdim=True)
    return pred.eq(labels(lib).view_as(pred)).sum().item()


@idiom
def per_class_accuracy_loop(lib):
    classes = ("plane", "car", "bird")
    correct = {name: 0 for name in classes}
    total = {name: 0 for name in classes}
    predictions = scores(lib).argmax(dim=1)
    for label, prediction in zip(labels(lib), predictions):
        if label == prediction:
            correct[classes[label]] += 1
        total[classes[label]] += 1
    return correct, total


@idiom
def fooling_loop_stops_when_the_target_is_reached(lib):
    target, steps = 2, 0
    x = scores(lib)[0].clone()
    while x.argmax() != target and steps < 100:
        x = x + lib.tensor([0.0, 0.0, 1.0])
        steps += 1
    return steps


@idiom
def tensors_are_hashed_by_identity(lib):
    a, b = lib.zeros(2), lib.zeros(2)
    return len({a: 1, b: 2}), a in [a]


@idiom
def comparing_with_none(lib):
    return lib.zeros(2) is None, lib.zeros(2) == None  # noqa: E711


# ---------------------------------------------------------------- max, min, argmax
@idiom
def max_along_a_dim_unpacks_values_and_indices(lib):
    values, indices = lib.tensor([[1.0, 7.0, 3.0], [9.0, 2.0, 4.0]]).max(dim=1)
    return values, indices


@idiom
def max_result_has_names(lib):
    result = scores(lib).min(0, keepdim=True)
    return result.values, result.indices


@idiom
def max_gradient_goes_to_the_returned_index_on_ties(lib):
    x = lib.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], requires_grad=True)
    x.max(dim=1).values.sum().backward()
    return x.grad


@idiom
def max_over_everything_shares_ties(lib):
    x = lib.tensor([[1.0, 3.0, 3.0]], requires_grad=True)
    x.max().backward()
    return x.grad


@idiom
def amax_over_a_tuple_of_dims(lib):
    return scores(lib).amax(dim=(0, 1)), scores(lib).amin(dim=0)


@idiom
def argmax_with_keepdim(lib):
    return scores(lib).argmax(dim=1, keepdim=True), scores(lib).argmin()


# ---------------------------------------------------------------- scalars and conversion
@idiom
def one_element_tensors_convert(lib):
    t = lib.tensor(3)
    return int(t), float(lib.tensor(2.5)), bool(lib.tensor([1.0])), ["a", "b", "c", "d"][t]


@idiom
def a_float_tensor_is_no_index(lib):
    return ["a", "b"][lib.tensor(1.0)]


@idiom
def item_of_a_larger_tensor_is_an_error(lib):
    return lib.tensor([1.0, 2.0]).item()


@idiom
def truth_of_a_larger_tensor_is_an_error(lib):
    return bool(lib.tensor([1.0, 2.0]))


@idiom
def size_and_dim(lib):
    x = lib.zeros(2, 3, 4)
    return tuple(x.size()), x.size(0), x.size(-1), x.dim(), x.numel(), x.shape[1], len(x)


@idiom
def casts(lib):
    x = lib.tensor([1.7, -2.2])
    return x.long(), x.int(), x.double(), x.bool(), x.float(), x.type(), x.long().type()


# ---------------------------------------------------------------- factories and dtypes
@idiom
def factories(lib):
    return (lib.zeros(2, 3), lib.ones((2,)), lib.full((2, 2), 7), lib.full((2,), 1.5), lib.arange(5),
            lib.arange(0, 1, 0.25), lib.linspace(0, 1, 5), lib.eye(3), lib.zeros_like(lib.ones(2, dtype=lib.int64)),
            lib.ones_like(scores(lib)).shape, lib.empty(2, 0).shape, lib.tensor([True, False]))


@idiom
def dtypes_compare(lib):
    return (lib.zeros(1).dtype == lib.float32, lib.arange(3).dtype == lib.int64, lib.tensor(1.0).dtype == lib.float,
            lib.tensor([1, 2]).dtype == lib.long, lib.zeros(1, dtype=lib.float64).dtype == lib.double)


@idiom
def random_factories_shapes_and_dtypes(lib):
    lib.manual_seed(0)
    return (lib.rand(2, 3).shape, lib.randn(4).dtype, lib.randint(0, 10, (3,)).dtype, lib.randint(5, (2, 2)).shape,
            lib.randn_like(scores(lib)).shape, sorted(lib.randperm(4).tolist()), lib.randperm(4).dtype)


@idiom
def from_numpy_shares_and_tensor_copies(lib):
    array = np.zeros(3, dtype=np.float32)
    shared, copied = lib.from_numpy(array), lib.tensor(array)
    array[0] = 5.0
    return shared, copied, lib.as_tensor(array)


# ---------------------------------------------------------------- tensor methods
@idiom
def shape_methods(lib):
    x = lib.arange(6).view(2, 3)
    return x.t(), x.T, x.view(-1), x.reshape(3, 2), lib.flatten(x), x.unsqueeze(0).shape, x.view_as(lib.zeros(3, 2))


@idiom
def gather_scores_of_the_correct_class(lib):
    # CS231n's saliency: the score of the correct class of each image, and its gradient.
    s = scores(lib).clone().requires_grad_()
    picked = s.gather(1, labels(lib).view(-1, 1)).squeeze()
    picked.sum().backward()
    return picked, s.grad


@idiom
def gather_index_out_of_range(lib):
    return scores(lib).gather(1, lib.tensor([[3], [0], [0], [0]]))


@idiom
def elementwise_functions(lib):
    x = scores(lib)
    return (lib.exp(x), lib.log(x.abs() + 1), lib.abs(x), lib.sigmoid(x), lib.tanh(x), x.pow(2), x.abs(),
            lib.where(x > 1, x, lib.zeros_like(x)), lib.matmul(x, x.t()))


@idiom
def norms(lib):
    x = scores(lib)
    return lib.norm(x), x.norm(dim=1), x.norm(p=1), lib.norm(lib.zeros(3))


@idiom
def norm_gradient_at_zero(lib):
    x = lib.zeros(3, requires_grad=True)
    lib.norm(x).backward()
    return x.grad


@idiom
def clone_keeps_the_graph(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    (x.clone() * 3).sum().backward()
    return x.grad, x.clone().detach().requires_grad


@idiom
def cat_and_stack(lib):
    a, b = lib.ones(2, 3), lib.zeros(2, 3)
    return lib.cat([a, b], dim=1), lib.stack([a, b]).shape, lib.cat((a, b)).shape


@idiom
def variance_and_std(lib):
    x = scores(lib)
    return x.var(), x.std(dim=0), x.var(1, keepdim=True)


@idiom
def mean_of_an_integer_tensor_is_an_error(lib):
    return labels(lib).mean()


@idiom
def sums_of_bools_are_integers(lib):
    return (labels(lib) == 1).sum(), (labels(lib) == 1).float().mean()


# ---------------------------------------------------------------- in-place changes
@idiom
def in_place_methods(lib):
    x = lib.ones(3)
    x.add_(2).mul_(3).clamp_(0, 8)
    y = lib.zeros(2).fill_(4)
    z = lib.zeros(3)
    z.copy_(lib.tensor([1.0, 2.0, 3.0]))
    z[0] = 9
    return x, y, z, lib.ones(2).zero_()


@idiom
def augmented_assignment_changes_every_alias(lib):
    w = lib.ones(3, requires_grad=True)
    alias = w.data
    alias += 1
    alias.mul_(2)
    return w.detach()


@idiom
def in_place_change_of_a_leaf_that_requires_grad_is_an_error(lib):
    w = lib.ones(3, requires_grad=True)
    w.add_(1)
    return w


@idiom
def in_place_change_under_no_grad_is_allowed(lib):
    w = lib.ones(3, requires_grad=True)
    with lib.no_grad():
        w -= 0.5 * lib.ones(3)
        w.clamp_(0.6, 1.0)
    return w.detach(), w.requires_grad, w.is_leaf


@idiom
def fooling_image_update_through_data(lib):
    x = lib.zeros(1, 3, requires_grad=True)
    (x * lib.tensor([1.0, -2.0, 3.0])).sum().backward()
    dx = 0.5 * x.grad / x.grad.norm()
    x.data += dx
    x.data.clamp_(-0.2, 0.2)
    x.grad.zero_()
    return x.detach(), x.grad


# ---------------------------------------------------------------- backward
@idiom
def backward_twice_is_an_error(lib):
    x = lib.tensor([1.0, -2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()


@idiom
def backward_twice_with_retain_graph_accumulates(lib):
    x = lib.tensor([1.0, -2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    return x.grad


@idiom
def optimizer_step_between_forward_and_backward_is_an_error(lib):
    lib.manual_seed(0)
    layer = lib.nn.Linear(3, 2)
    optimizer = lib.optim.SGD(layer.parameters(), lr=0.1)
    x = lib.ones(4, 3, requires_grad=True)  # so that PyTorch saves the weight for dL/dx too
    loss = layer(x).pow(2).sum()
    layer.weight.grad = lib.ones(2, 3)
    optimizer.step()  # the weights change in place before the backward that needs them
    loss.backward()


@idiom
def changing_an_input_after_forward_is_an_error(lib):
    w = lib.ones(3, requires_grad=True)
    x = lib.tensor([1.0, 2.0, 3.0])
    y = (w * x).sum()
    x.zero_()
    y.backward()


@idiom
def backward_of_a_non_scalar_needs_a_gradient(lib):
    x = lib.ones(3, requires_grad=True)
    (x * 2).backward()


@idiom
def backward_with_a_gradient(lib):
    x = lib.ones(3, requires_grad=True)
    (x * 2).backward(lib.tensor([1.0, 0.0, 2.0]))
    return x.grad


@idiom
def grad_is_a_tensor_and_zeroes_in_place(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    kind = isinstance(x.grad, lib.Tensor)
    x.grad.zero_()
    return kind, x.grad, x.grad_fn is None, x.is_leaf, (x * 2).grad_fn is not None


@idiom
def hooks_receive_tensors(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    seen = []
    h.register_hook(lambda g: seen.append(isinstance(g, lib.Tensor)) or g * 2)
    h.sum().backward()
    return seen, x.grad


@idiom
def detach_shares_memory(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    with lib.no_grad():
        d[0] = 5.0
    return x.detach(), d.requires_grad


# ---------------------------------------------------------------- grad modes
@idiom
def no_grad_block(lib):
    x = lib.ones(2, requires_grad=True)
    with lib.no_grad():
        y = x * 2
    return y.requires_grad, lib.is_grad_enabled()


@idiom
def no_grad_as_decorators(lib):
    x = lib.ones(2, requires_grad=True)

    @lib.no_grad()
    def called(t):
        return t * 2

    @lib.no_grad
    def bare(t):
        return t * 2

    @lib.inference_mode()
    def inference(t):
        return t * 2

    return called(x).requires_grad, bare(x).requires_grad, inference(x).requires_grad, (x * 2).requires_grad


@idiom
def set_grad_enabled(lib):
    x = lib.ones(2, requires_grad=True)
    with lib.set_grad_enabled(False):
        off = (x * 2).requires_grad
    lib.set_grad_enabled(False)
    called = (x * 2).requires_grad
    lib.set_grad_enabled(True)
    with lib.enable_grad():
        on = (x * 2).requires_grad
    return off, called, on, lib.is_grad_enabled()


# ---------------------------------------------------------------- devices
@idiom
def device_selection_runs_on_the_cpu(lib):
    device = lib.device("cuda" if lib.cuda.is_available() else "cpu")
    x = lib.ones(2).to(device)
    model = lib.nn.Linear(2, 1).to(device)
    return str(device), str(x.device), x.cpu().dtype, x.to(lib.float64).dtype, next(model.parameters()).dtype


@idiom
def accelerator_checks(lib):
    return lib.cuda.is_available(), lib.backends.mps.is_available()


# ---------------------------------------------------------------- modules, losses, optimisers
@idiom
def a_training_step(lib):
    lib.manual_seed(0)
    layer = lib.nn.Linear(3, 3)
    with lib.no_grad():
        layer.weight.copy_(lib.tensor([[0.1, 0.2, 0.3], [0.0, -0.1, 0.2], [0.3, 0.1, -0.2]]))
        layer.bias.fill_(0.05)
    optimizer = lib.optim.SGD(layer.parameters(), lr=0.5, momentum=0.9)
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss = lib.nn.functional.cross_entropy(layer(scores(lib)), labels(lib))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, layer.weight.detach(), layer.weight.grad is not None


@idiom
def parameter_count(lib):
    model = lib.nn.Sequential(lib.nn.Conv2d(1, 6, 5), lib.nn.ReLU(), lib.nn.Flatten(), lib.nn.Linear(6 * 24 * 24, 10))
    return sum(p.numel() for p in model.parameters()), sum(p.numel() for p in model.parameters() if p.requires_grad)


@idiom
def model_zero_grad_sets_to_none(lib):
    model = lib.nn.Linear(2, 1)
    model(lib.ones(1, 2)).sum().backward()
    model.zero_grad()
    return model.weight.grad is None


@pytest.mark.parametrize("name", sorted(IDIOMS))
def test_idiom_behaves_as_in_pytorch(name):
    expected = outcome(IDIOMS[name], torch)
    got = outcome(IDIOMS[name], minidl)
    assert got == expected, f"{name}: minidl gave {got}, PyTorch gave {expected}"


def test_there_are_a_few_dozen_idioms():
    assert len(IDIOMS) >= 50


# ---------------------------------------------------------------- where minidl is stricter than PyTorch
def test_an_optimizer_step_is_refused_even_where_pytorch_saved_nothing():
    # PyTorch's Linear saves the weight only when the input needs a gradient, so with a plain
    # input it would silently differentiate the old weights' graph; minidl checks every input.
    layer = minidl.nn.Linear(3, 2)
    optimizer = minidl.optim.SGD(layer.parameters(), lr=0.1)
    loss = layer(minidl.ones(4, 3)).pow(2).sum()
    layer.weight.grad = minidl.ones(2, 3)
    optimizer.step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation.*optimizer.step"):
        loss.backward()
    assert layer.bias.grad is None  # refused before any gradient was added
