"""A minidl model against its PyTorch twin, forward and backward: shared by the zoo tests."""

import numpy as np

import minidl as md


def assert_forward_and_backward_agree(torch, ours, twin, x, seed):
    """Run both models (same weights, same mode) on the float64 input ``x`` and send the same
    random dout (drawn with ``seed``) back through both: the outputs, the input gradients and
    every parameter's gradient, under the same names in the same order, agree to float64
    rounding (atol 1e-10). Returns minidl's input Tensor, for further checks of its gradient."""
    x_ours, x_torch = md.tensor(x, requires_grad=True), torch.from_numpy(x).requires_grad_()
    out, expected = ours(x_ours), twin(x_torch)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=0, atol=1e-10)
    dout = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(dout)
    expected.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(x_ours.grad, x_torch.grad.numpy(), rtol=0, atol=1e-10)
    twin_parameters = dict(twin.named_parameters())
    assert [name for name, _ in ours.named_parameters()] == list(twin_parameters)
    for name, param in ours.named_parameters():
        np.testing.assert_allclose(param.grad, twin_parameters[name].grad.numpy(), rtol=0, atol=1e-10, err_msg=name)
    return x_ours
