"""Module hooks: forward pre-hooks, forward hooks and full backward hooks (PyTorch's semantics)."""

import numpy as np
import pytest

import minidl as md
from minidl import nn
from minidl.gradcheck import gradcheck


@pytest.fixture(autouse=True)
def seeded():
    md.manual_seed(0)  # reproducible initial weights


def tensor(rng, *shape, requires_grad=False):
    return md.tensor(rng.standard_normal(shape), requires_grad=requires_grad)  # float64


def mlp():
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3), nn.ReLU()).double()


class Product(nn.Module):
    """forward(a, b, scale) = a * b * scale: two tensor inputs (b broadcast) and a plain number."""

    def forward(self, a, b, scale):
        return a * b * scale


# ---------------------------------------------------------------------- forward hooks
def test_forward_hook_sees_the_activations(rng):
    model = mlp()
    seen = {}
    for name, module in model.named_children():
        if isinstance(module, nn.ReLU):
            module.register_forward_hook(lambda m, inputs, output, name=name: seen.update({name: output.numpy()}))
    x = tensor(rng, 5, 4)
    model(x)
    hidden = np.maximum(x.numpy() @ model[0].weight.numpy().T + model[0].bias.numpy(), 0)
    np.testing.assert_allclose(seen["1"], hidden, atol=1e-12)
    np.testing.assert_allclose(seen["3"], np.maximum(hidden @ model[2].weight.numpy().T + model[2].bias.numpy(), 0),
                               atol=1e-12)


def test_forward_hook_receives_the_inputs_tuple_and_can_replace_the_output(rng):
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    x = tensor(rng, 2, 4)
    received = []

    def zero_first_layer(module, inputs, output):
        received.append(inputs)
        return output * 0

    handle = model[0].register_forward_hook(zero_first_layer)
    out = model(x).numpy()
    assert received[0][0] is x
    # With a zero hidden layer only the second layer's bias is left.
    np.testing.assert_allclose(out, np.broadcast_to(model[2].bias.numpy(), (2, 3)), atol=1e-12)
    handle.remove()
    assert not np.allclose(model(x).numpy(), out)
    assert len(received) == 1


def test_forward_pre_hook_sees_and_replaces_the_inputs(rng):
    layer = nn.Linear(4, 3).double()
    x = tensor(rng, 2, 4)
    seen = []
    layer.register_forward_pre_hook(lambda m, inputs: seen.append(inputs))
    handle = layer.register_forward_pre_hook(lambda m, inputs: inputs[0] * 2)  # a single value is wrapped
    out = layer(x)
    assert seen[0][0] is x
    np.testing.assert_allclose(out.numpy(), 2 * x.numpy() @ layer.weight.numpy().T + layer.bias.numpy(), atol=1e-12)
    handle.remove()
    np.testing.assert_allclose(layer(x).numpy(), x.numpy() @ layer.weight.numpy().T + layer.bias.numpy(), atol=1e-12)


def test_pre_hook_runs_before_forward_hook_and_passes_on_new_inputs(rng):
    order = []
    layer = nn.Identity()
    layer.register_forward_pre_hook(lambda m, inputs: (order.append("pre"), (inputs[0] + 1,))[1])
    layer.register_forward_hook(lambda m, inputs, out: order.append(("post", float(inputs[0].item()))))
    layer(md.tensor(1.0))
    assert order == ["pre", ("post", 2.0)]


# ---------------------------------------------------------------------- full backward hooks
def test_backward_hook_receives_tuples_of_tensors(rng):
    module = Product()
    a, b = tensor(rng, 2, 3, requires_grad=True), tensor(rng, 3, requires_grad=True)
    calls = []
    module.register_full_backward_hook(lambda m, gi, go: calls.append((gi, go)))
    module(a, b, 2.0).sum().backward()
    (grad_input, grad_output), = calls
    assert isinstance(grad_input, tuple) and isinstance(grad_output, tuple)
    for grad, like in [(grad_input[0], a), (grad_input[1], b), (grad_output[0], a)]:
        assert isinstance(grad, md.Tensor) and not grad.requires_grad
        assert grad.shape == like.shape and grad.dtype == np.float64
    assert grad_input[2] is None


def test_backward_hook_sees_what_pytorchs_sees(rng):
    torch = pytest.importorskip("torch")
    ours, theirs = nn.Linear(4, 3).double(), torch.nn.Linear(4, 3).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.numpy()))
        theirs.bias.copy_(torch.from_numpy(ours.bias.numpy()))
    x, upstream = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    seen = {}

    def hook(name):
        def record(module, grad_input, grad_output):
            seen[name] = (grad_input, grad_output)
            return (grad_input[0] * 2,)  # a Tensor operation on what the hook received
        return record

    ours.register_full_backward_hook(hook("ours"))
    theirs.register_full_backward_hook(hook("theirs"))
    x_ours, x_theirs = md.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours(x_ours).backward(upstream)
    theirs(x_theirs).backward(torch.from_numpy(upstream))
    for got, expected in zip(seen["ours"], seen["theirs"]):
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert isinstance(g, md.Tensor) and isinstance(e, torch.Tensor)
            np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x_ours.grad.numpy(), x_theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_forward_hooks_receive_tensors(rng):
    layer = nn.Linear(4, 3).double()
    seen = []
    layer.register_forward_pre_hook(lambda m, inputs: seen.append(("pre", inputs)))
    layer.register_forward_hook(lambda m, inputs, output: seen.append(("post", inputs, output)))
    layer.register_full_backward_hook(lambda m, gi, go: None)  # the inputs pass through a tap
    layer(tensor(rng, 2, 4, requires_grad=True))
    (_, pre_inputs), (_, post_inputs, output) = seen
    assert all(isinstance(t, md.Tensor) for t in (*pre_inputs, *post_inputs, output))
    assert output.shape == (2, 3) and output.requires_grad


def test_backward_hook_sees_grad_output_and_grad_input(rng):
    layer = nn.Linear(4, 3).double()
    x = tensor(rng, 5, 4, requires_grad=True)
    upstream = rng.standard_normal((5, 3))
    calls = []
    layer.register_full_backward_hook(lambda m, grad_in, grad_out: calls.append((m, grad_in, grad_out)))
    layer(x).backward(upstream)
    (module, grad_input, grad_output), = calls
    assert module is layer
    assert isinstance(grad_input, tuple) and len(grad_input) == 1
    assert isinstance(grad_output, tuple) and len(grad_output) == 1
    np.testing.assert_allclose(grad_output[0], upstream, atol=1e-12)
    np.testing.assert_allclose(grad_input[0], upstream @ layer.weight.numpy(), atol=1e-12)  # dx = dout W
    np.testing.assert_allclose(x.grad, upstream @ layer.weight.numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, upstream.T @ x.numpy(), atol=1e-12)  # parameters unaffected


def guided_relu(module, grad_input, grad_output):
    """Guided backpropagation: pass back only positive gradients, through positive inputs."""
    return (grad_input[0].clip(min=0),)


def deconvnet_relu(module, grad_input, grad_output):
    """Deconvnet: the backward ReLU acts on the gradient alone, ignoring the forward input's sign."""
    return (grad_output[0].clip(min=0),)


def deconvnet_relu_in_numpy(module, grad_input, grad_output):
    """The same rule returning an ndarray, which replaces the gradient as a Tensor would."""
    return (np.maximum(grad_output[0].numpy(), 0),)


@pytest.mark.parametrize("rule, expected", [
    (None, lambda x, g: g * (x > 0)),
    (guided_relu, lambda x, g: np.maximum(g, 0) * (x > 0)),
    (deconvnet_relu, lambda x, g: np.maximum(g, 0)),
    (deconvnet_relu_in_numpy, lambda x, g: np.maximum(g, 0)),
])
def test_relu_backward_rules(rng, rule, expected):
    relu = nn.ReLU()
    if rule is not None:
        relu.register_full_backward_hook(rule)
    x = tensor(rng, 6, 5, requires_grad=True)
    g = rng.standard_normal((6, 5))
    relu(x).backward(g)
    np.testing.assert_array_equal(x.grad, expected(x.numpy(), g))


def test_guided_backprop_through_a_network_matches_a_hand_computation(rng):
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).double()
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            module.register_full_backward_hook(guided_relu)
    x = tensor(rng, 2, 4, requires_grad=True)
    model(x)[:, 1].sum().backward()  # gradient of class 1's score
    w1, b1, w2 = model[0].weight.numpy(), model[0].bias.numpy(), model[2].weight.numpy()
    pre_activation = x.numpy() @ w1.T + b1
    grad_hidden = np.tile(w2[1], (2, 1))                      # d score / d hidden
    grad_pre = np.maximum(grad_hidden, 0) * (pre_activation > 0)  # the guided ReLU rule
    np.testing.assert_allclose(x.grad, grad_pre @ w1, atol=1e-12)


def test_removed_backward_hook_no_longer_changes_gradients(rng):
    relu = nn.ReLU()
    handle = relu.register_full_backward_hook(guided_relu)
    handle.remove()
    x = tensor(rng, 3, 3, requires_grad=True)
    g = -np.ones((3, 3))
    relu(x).backward(g)
    np.testing.assert_array_equal(x.grad, g * (x.numpy() > 0))


def test_backward_hooks_chain_each_seeing_the_previous_replacement(rng):
    relu = nn.ReLU()
    seen = []
    relu.register_full_backward_hook(lambda m, gi, go: (gi[0] * 3,))
    relu.register_full_backward_hook(lambda m, gi, go: seen.append(gi[0].clone()))
    x = md.tensor(np.array([1.0, -1.0, 2.0]), requires_grad=True)
    relu(x).backward(np.ones(3))
    np.testing.assert_array_equal(seen[0], [3.0, 0.0, 3.0])
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 3.0])


def test_backward_hook_of_a_multi_input_module_gets_one_gradient_per_argument(rng):
    module = Product()
    a = tensor(rng, 2, 3, requires_grad=True)
    b = tensor(rng, 3, requires_grad=True)
    g = rng.standard_normal((2, 3))
    calls = []

    def hook(m, grad_input, grad_output):
        calls.append((grad_input, grad_output))
        return (grad_input[0], np.zeros(3), None)  # keep a's gradient, replace b's with zeros

    module.register_full_backward_hook(hook)
    out = module(a, b, 2.0)
    np.testing.assert_allclose(out.numpy(), a.numpy() * b.numpy() * 2.0, atol=1e-12)
    out.backward(g)
    (grad_input, grad_output), = calls
    assert len(grad_input) == 3 and grad_input[2] is None  # the number 2.0 has no gradient
    np.testing.assert_allclose(grad_output[0], g, atol=1e-12)
    np.testing.assert_allclose(grad_input[0], g * b.numpy() * 2, atol=1e-12)
    np.testing.assert_allclose(grad_input[1], (g * a.numpy() * 2).sum(axis=0), atol=1e-12)
    np.testing.assert_allclose(a.grad, g * b.numpy() * 2, atol=1e-12)
    np.testing.assert_array_equal(b.grad, np.zeros(3))


def test_multi_input_module_with_only_some_inputs_requiring_grad(rng):
    module = Product()
    a = tensor(rng, 2, 3, requires_grad=True)
    b = tensor(rng, 3)
    calls = []
    module.register_full_backward_hook(lambda m, gi, go: calls.append(gi))
    module(a, b, 1.0).backward(np.ones((2, 3)))
    assert calls[0][1] is None and calls[0][2] is None
    np.testing.assert_allclose(calls[0][0], np.broadcast_to(b.numpy(), (2, 3)), atol=1e-12)


def test_backward_hook_without_input_gradients_still_sees_grad_output(rng):
    layer = nn.Linear(4, 2).double()
    calls = []
    layer.register_full_backward_hook(lambda m, gi, go: calls.append((gi, go)))
    upstream = rng.standard_normal((3, 2))
    layer(tensor(rng, 3, 4)).backward(upstream)  # the data needs no gradient; the weights do
    (grad_input, grad_output), = calls
    assert grad_input == (None,)
    np.testing.assert_allclose(grad_output[0], upstream, atol=1e-12)
    assert layer.weight.grad is not None


def test_backward_hook_cannot_invent_input_gradients(rng):
    layer = nn.Linear(4, 2).double()
    layer.register_full_backward_hook(lambda m, gi, go: (np.ones((3, 4)),))
    with pytest.raises(RuntimeError, match="no input of this call requires a gradient"):
        layer(tensor(rng, 3, 4)).backward(np.ones((3, 2)))


def test_backward_hook_fires_for_every_call_of_a_shared_module(rng):
    relu = nn.ReLU()
    model = nn.Sequential(nn.Linear(3, 3), relu, nn.Linear(3, 3), relu).double()
    grad_outputs = []
    relu.register_full_backward_hook(lambda m, gi, go: grad_outputs.append(go[0].shape))
    model(tensor(rng, 2, 3, requires_grad=True)).sum().backward()
    assert grad_outputs == [(2, 3), (2, 3)]


def test_backward_hook_on_a_module_with_a_tuple_output(rng):
    pool = nn.MaxPool2d(2, return_indices=True)
    calls = []
    pool.register_full_backward_hook(lambda m, gi, go: calls.append((gi, go)))
    x = tensor(rng, 1, 1, 4, 4, requires_grad=True)
    out, indices = pool(x)
    assert indices.dtype == np.int64 and not indices.requires_grad
    out.backward(np.ones((1, 1, 2, 2)))
    (grad_input, grad_output), = calls
    assert grad_output[1] is None  # the indices carry no gradient
    np.testing.assert_array_equal(grad_input[0], x.grad)
    assert grad_input[0].sum() == 4  # one 1 per window, at its maximum


def test_backward_hook_keeps_a_namedtuple_output_a_namedtuple(rng):
    from collections import namedtuple

    Pair = namedtuple("Pair", ["doubled", "tripled"])

    class TwoHeads(nn.Module):
        def forward(self, x):
            return Pair(x * 2, x * 3)

    module = TwoHeads()
    seen = []
    module.register_full_backward_hook(lambda m, gi, go: seen.append(go))
    x = tensor(rng, 2, 3, requires_grad=True)
    out = module(x)
    assert isinstance(out, Pair)
    (out.doubled.sum() + out.tripled.sum()).backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 5.0))
    assert len(seen) == 1 and len(seen[0]) == 2


@pytest.mark.parametrize("bad, error, match", [
    (lambda m, gi, go: gi[0], TypeError, r"must return None or a tuple of 1 gradient\(s\)"),
    (lambda m, gi, go: (gi[0], gi[0]), TypeError, r"must return None or a tuple of 1 gradient\(s\)"),
    (lambda m, gi, go: (np.zeros(3),), ValueError,
     r"returned gradient 0 has shape \(3,\), but input 0 has shape \(2, 3\)"),
])
def test_bad_backward_hook_results_are_reported(rng, bad, error, match):
    relu = nn.ReLU()
    relu.register_full_backward_hook(bad)
    with pytest.raises(error, match=match):
        relu(tensor(rng, 2, 3, requires_grad=True)).sum().backward()


def test_gradient_for_an_input_without_grad_is_refused(rng):
    module = Product()
    module.register_full_backward_hook(lambda m, gi, go: (gi[0], np.ones(3), None))
    with pytest.raises(ValueError, match="returned a gradient for input 1, which does not require one"):
        module(tensor(rng, 2, 3, requires_grad=True), tensor(rng, 3), 1.0).sum().backward()


def test_backward_hooks_record_nothing_under_no_grad(rng):
    relu = nn.ReLU()
    calls = []
    relu.register_full_backward_hook(lambda m, gi, go: calls.append(1))
    with md.no_grad():
        out = relu(tensor(rng, 2, 2, requires_grad=True))
    assert not out.requires_grad and calls == []


def test_an_observing_backward_hook_leaves_gradients_exact(rng):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    for module in model:
        module.register_full_backward_hook(lambda m, gi, go: None)
    assert gradcheck(model, [rng.standard_normal((2, 3))])
    product = Product()
    product.register_full_backward_hook(lambda m, gi, go: None)
    assert gradcheck(product, [rng.standard_normal((2, 3)), rng.standard_normal(3), 0.5])


def test_hook_handles_remove_only_their_hook():
    layer = nn.Identity()
    calls = []
    first = layer.register_forward_hook(lambda m, i, o: calls.append("first"))
    layer.register_forward_hook(lambda m, i, o: calls.append("second"))
    first.remove()
    first.remove()  # removing twice is harmless
    layer(md.tensor(1.0))
    assert calls == ["second"]
