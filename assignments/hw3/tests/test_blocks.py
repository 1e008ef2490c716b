"""Tasks 3.3 and 3.4: the residual block and the Inception module."""

import numpy as np
import pytest

import minidl
from blocks import ConvBNReLU, InceptionModule, ResidualBlock


def _params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.task("3.3", points=2)
def test_shapes_and_parameters_with_and_without_a_projection():
    x = minidl.tensor(np.random.default_rng(0).standard_normal((2, 8, 9, 9)).astype(np.float32))
    same = ResidualBlock(8, 8)
    assert same(x).shape == (2, 8, 9, 9) and same.downsample is None
    assert _params(same) == 2 * 8 * 8 * 9 + 2 * 2 * 8          # two 3x3 convolutions, two batch norms
    down = ResidualBlock(8, 16, stride=2)
    assert down(x).shape == (2, 16, 5, 5)
    assert _params(down) == 8 * 16 * 9 + 16 * 16 * 9 + 8 * 16 + 3 * 2 * 16   # + the 1x1 projection and its BN


@pytest.mark.task("3.3", points=2)
def test_a_block_whose_residual_is_switched_off_passes_relu_of_its_input_on():
    block = ResidualBlock(4, 4)
    block.bn2.weight.data.zero_()
    block.bn2.bias.data.zero_()
    x = np.random.default_rng(1).standard_normal((2, 4, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(block(minidl.tensor(x)).numpy(), np.maximum(x, 0), rtol=1e-6)


@pytest.mark.task("3.3")
def test_the_gradient_reaches_every_parameter_and_the_input():
    block = ResidualBlock(3, 6, stride=2)
    x = minidl.tensor(np.random.default_rng(2).standard_normal((2, 3, 8, 8)).astype(np.float32), requires_grad=True)
    block(x).sum().backward()
    assert x.grad is not None and all(p.grad is not None for p in block.parameters())


@pytest.mark.task("3.4", points=2)
def test_the_inception_module_stacks_its_four_branches():
    module = InceptionModule(16, 8, 4, 12, 2, 4, 6)
    x = minidl.tensor(np.random.default_rng(3).standard_normal((2, 16, 7, 7)).astype(np.float32))
    out = module(x)
    assert out.shape == (2, 8 + 12 + 4 + 6, 7, 7)
    parts = [module.branch1(x), module.branch2(x), module.branch3(x), module.branch4(x)]
    np.testing.assert_array_equal(out.numpy(), np.concatenate([p.numpy() for p in parts], axis=1))


@pytest.mark.task("3.4")
def test_the_inception_module_has_the_bottlenecked_parameter_count():
    conv = lambda c_in, c_out, k: c_in * c_out * k * k + 2 * c_out   # noqa: E731  (no bias; BN's gamma and beta)
    expected = conv(16, 8, 1) + conv(16, 4, 1) + conv(4, 12, 3) + conv(16, 2, 1) + conv(2, 4, 5) + conv(16, 6, 1)
    assert _params(InceptionModule(16, 8, 4, 12, 2, 4, 6)) == expected
    block = ConvBNReLU(3, 5, kernel_size=3, padding=1)
    assert block.conv.bias is None and block.bn.eps == 0.001
### BEGIN HIDDEN TESTS
import pathlib  # noqa: E402

EXPECTED = np.load(pathlib.Path(__file__).resolve().parents[1] / "hidden" / "expected.npz")


def _against_the_zoo(module, prefix):
    """Load the zoo module's random state into ``module``; compare both modes' outputs."""
    state = {name[len(prefix) + 7:]: EXPECTED[name] for name in EXPECTED.files if name.startswith(f"{prefix}/state/")}
    module.double()
    module.load_state_dict(state)
    x = minidl.tensor(EXPECTED[f"{prefix}/x"])
    module.eval()
    with minidl.no_grad():
        np.testing.assert_allclose(module(x).numpy(), EXPECTED[f"{prefix}/eval"], rtol=1e-10, atol=1e-12)
    module.train()
    with minidl.no_grad():
        np.testing.assert_allclose(module(x).numpy(), EXPECTED[f"{prefix}/train"], rtol=1e-10, atol=1e-12)


@pytest.mark.task("3.3", points=2)
def test_the_block_computes_the_zoos_basic_block():
    _against_the_zoo(ResidualBlock(4, 8, stride=2), "block")
    _against_the_zoo(ResidualBlock(6, 6), "same_block")


@pytest.mark.task("3.4", points=2)
def test_the_module_computes_the_zoos_inception():
    _against_the_zoo(InceptionModule(8, 4, 3, 6, 2, 3, 2), "inception")
### END HIDDEN TESTS
