"""The hidden cases of hw3: fixed inputs and the answer keys' outputs (minidl's batch norm, the
zoo's residual block and Inception module). ``minidl assignment expected hw3`` stores them."""

import numpy as np

import minidl
from minidl import nn
from minidl.layers.norm import batch_norm_backward, batch_norm_forward
from minidl.zoo.googlenet import Inception
from minidl.zoo.resnet import BasicBlock, make_stage


def _randomised(module, rng):
    """``module`` with every parameter and running statistic drawn at random (float64)."""
    module.double()
    state = {}
    for name, value in module.state_dict().items():
        value = np.asarray(value)
        if name.endswith("num_batches_tracked"):
            state[name] = value
        elif name.endswith("running_var"):
            state[name] = rng.uniform(0.5, 1.5, value.shape)
        else:
            state[name] = rng.standard_normal(value.shape) * 0.5
    module.load_state_dict(state)
    return module


def _module_cases(prefix, module, x):
    found = {f"{prefix}/state/{name}": np.array(value) for name, value in module.state_dict().items()}
    found[f"{prefix}/x"] = x
    module.eval()
    with minidl.no_grad():
        found[f"{prefix}/eval"] = module(minidl.tensor(x)).numpy()
    module.train()
    with minidl.no_grad():
        found[f"{prefix}/train"] = module(minidl.tensor(x)).numpy()
    return found


def cases():
    rng = np.random.default_rng(33)
    found = {}
    x = rng.standard_normal((8, 5)) * 3 + 2
    gamma, beta, dout = rng.standard_normal(5), rng.standard_normal(5), rng.standard_normal((8, 5))
    running_mean, running_var = np.zeros(5), np.ones(5)
    out, cache = batch_norm_forward(x, gamma, beta, running_mean, running_var, True, momentum=0.1, eps=1e-5)
    dx, dgamma, dbeta = batch_norm_backward(dout, cache)
    found.update({"bn/x": x, "bn/gamma": gamma, "bn/beta": beta, "bn/dout": dout, "bn/out": out,
                  "bn/running_mean": running_mean, "bn/running_var": running_var, "bn/dx": dx,
                  "bn/dgamma": dgamma, "bn/dbeta": dbeta})
    found["bn/test_out"] = batch_norm_forward(x, gamma, beta, running_mean, running_var, False, eps=1e-5)[0]
    x = rng.standard_normal((3, 4, 5, 6)) + 1
    gamma, beta, dout = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal((3, 4, 5, 6))
    out, cache = batch_norm_forward(x, gamma, beta, np.zeros(4), np.ones(4), True)
    dx, dgamma, dbeta = batch_norm_backward(dout, cache)
    found.update({"sbn/x": x, "sbn/gamma": gamma, "sbn/beta": beta, "sbn/dout": dout, "sbn/out": out, "sbn/dx": dx,
                  "sbn/dgamma": dgamma, "sbn/dbeta": dbeta})
    minidl.manual_seed(0)
    stage, _ = make_stage(BasicBlock, 4, 8, 1, stride=2)
    found.update(_module_cases("block", _randomised(stage[0], rng), rng.standard_normal((2, 4, 7, 6))))
    found.update(_module_cases("same_block", _randomised(BasicBlock(6, 6), rng), rng.standard_normal((2, 6, 5, 5))))
    inception = _randomised(Inception(8, 4, 3, 6, 2, 3, 2, ch5x5_kernel=5), rng)
    found.update(_module_cases("inception", inception, rng.standard_normal((2, 8, 6, 5))))
    weight, bias = rng.standard_normal((5, 2 * 3 * 3)), rng.standard_normal(5)
    x = rng.standard_normal((2, 2, 5, 6))
    windows = np.stack([np.stack([x[:, :, i:i + 3, j:j + 3].reshape(2, -1) @ weight.T + bias for j in range(4)], -1)
                        for i in range(3)], -2)
    found.update({"fc/weight": weight, "fc/bias": bias, "fc/x": x, "fc/map": windows})
    return found
