import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Deterministic and bounded: property tests draw the same examples on every run, so a CI
# failure reproduces locally, and no single slow example trips a deadline on a busy machine.
settings.register_profile(
    "minidl",
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("minidl")


@pytest.fixture
def rng():
    return np.random.default_rng(0)



def pytest_configure(config):
    # The PyTorch oracle runs tiny ops; its thread pool only adds overhead on a 2-core machine.
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)
