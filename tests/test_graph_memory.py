"""The graph's memory is freed by backward: keeping every step's loss Tensor costs almost nothing.

The classic mistake ``losses.append(loss)`` (instead of ``loss.item()``) keeps each loss and,
through it, its graph. backward releases what each Function saved, so all that remains per
step is the loss's one number and an empty record of its operation.
"""

import subprocess
import sys
import textwrap

import numpy as np

import minidl as md
from minidl import nn

STEPS_MEASURED = 20

# The README's first model, trained as a student would, keeping every loss Tensor. Memory is
# counted with tracemalloc (NumPy reports its arrays to it) in a fresh process.
SCRIPT = textwrap.dedent(f"""
    import tracemalloc
    import numpy as np
    import minidl as md
    from minidl import nn, optim, functional as F

    md.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(8 * 14 * 14, 10),
    )
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)
    images = rng.standard_normal((32, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, 32)
    losses = []

    def step():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(md.tensor(images)), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss)          # the mistake: the Tensor, not loss.item()

    for _ in range(3):               # warm-up: optimiser state, kernel caches
        step()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range({STEPS_MEASURED}):
        step()
    after = tracemalloc.get_traced_memory()[0]
    print((after - before) / {STEPS_MEASURED})
""")


def test_appending_loss_tensors_keeps_under_2_mb_per_step():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    per_step = float(result.stdout.split()[-1])
    assert per_step <= 2 * 2**20, f"each kept loss holds {per_step / 2**20:.2f} MB"
    assert per_step < 20_000  # in fact: the loss's number and the record of its operation


def test_backward_releases_every_saved_array_and_input():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * 3 * 3, 3))
    loss = model(md.tensor(np.ones((2, 1, 8, 8), dtype=np.float32))).sum()
    contexts, stack = [], [loss]
    while stack:  # every record of the graph, found before backward frees the links
        ctx = stack.pop()._ctx
        if ctx is not None and ctx not in contexts:
            contexts.append(ctx)
            stack += [t for t in ctx.inputs if isinstance(t, md.Tensor)]
    assert len(contexts) >= 6 and any(hasattr(ctx, "cache") for ctx in contexts)
    loss.backward()
    for ctx in contexts:
        assert ctx.released
        assert set(vars(ctx)) == {"function", "released"}  # no inputs, saved_tensors or cache left


def test_retain_graph_keeps_the_saved_arrays():
    x = md.tensor(np.arange(3.0), requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    assert not y._ctx.released
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 4 * np.arange(3.0))
