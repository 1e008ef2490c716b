"""The benchmarks run and report what they promise. Nothing here is timed: --quick uses tiny
sizes and one round, so these only check that each benchmark still works with today's code."""

import importlib.util
import re
from types import SimpleNamespace
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def benchmarks_importable(monkeypatch):
    """The benchmarks package lives at the repository root, beside minidl, not inside it."""
    monkeypatch.syspath_prepend(str(ROOT))


def table_rows(text):
    """The cells of every body row of the Markdown tables in ``text``."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|:"):
            rows.pop()  # the line before a separator is the table's header
        elif line.startswith("| "):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def has_torch():
    return importlib.util.find_spec("torch") is not None


def test_conv_reports_every_shape_and_pass(tmp_path):
    from benchmarks import conv

    output = tmp_path / "results.md"
    text = conv.main(["--quick", "--threads", "1", "--output", str(output)])
    shape_rows = [row[0] for row in table_rows(text)]
    names = ["a", "b", "c", "d", "e", "f", "g_dw", "g_pw", "g", "h"]
    assert shape_rows == names * 3  # inference, forward, then forward+backward
    assert "float32 GEMM peak" in text
    if has_torch():
        # Each pass's geometric mean, with the spread of the rounds' own geometric means.
        summaries = re.findall(r"- (\S+), numba/torch: geometric mean over a-h \d+\.\d+x \(\d+\.\d+-\d+\.\d+\)", text)
        assert summaries == ["inference", "forward", "forward+backward"]
    assert output.read_text() == text + "\n"


def test_conv_times_the_passes_asked_for():
    from benchmarks import conv

    rows = table_rows(conv.main(["--quick", "--threads", "1", "--passes", "inference", "--impls", "numba"]))
    assert [row[0] for row in rows] == ["a", "b", "c", "d", "e", "f", "g_dw", "g_pw", "g", "h"]


def test_conv_flops_count_multiply_adds_twice():
    from benchmarks.conv import SHAPES

    c = SHAPES["c"]  # 64x64x32x32 -> 64, k3 p1: every output pixel is a 64*3*3 dot product
    assert c.out_hw() == (32, 32)
    assert c.forward_flops() == 2 * 64 * 64 * 32 * 32 * 64 * 3 * 3
    assert SHAPES["f"].out_hw() == (32, 32)  # dilation 2 spans 5 pixels, padding 2 keeps the size
    assert SHAPES["h"].out_hw() == (55, 55)  # AlexNet: (227 - 11) / 4 + 1
    assert SHAPES["g_dw"].forward_flops() == 2 * 64 * 64 * 32 * 32 * 3 * 3


def test_pool_reports_each_pooling_both_passes():
    from benchmarks import pool

    rows = table_rows(pool.main(["--quick", "--threads", "1"]))
    assert [(row[0], row[1]) for row in rows] == [
        (name, passname) for name in ("max 2x2 s2", "max 3x3 s2", "avg 2x2 s2")
        for passname in ("inference", "forward", "forward+backward")
    ]


def test_train_step_models_agree_across_frameworks():
    from benchmarks import train_step

    rows = table_rows(train_step.main(["--quick", "--threads", "1"]))
    assert [row[0] for row in rows] == ["LeNet-5 (ReLU, max pool)", "LeNet-5 (tanh, avg pool)", "ResNet-20"]
    for row in rows:
        # The same weights and batch give the same first loss in every implementation.
        losses = [float(loss) for loss in row[-1].split(" / ")]
        assert len(losses) == (3 if has_torch() else 2)
        np.testing.assert_allclose(losses, losses[0], rtol=1e-4)


def test_inference_runs_every_model_and_the_frameworks_agree():
    from benchmarks import inference

    rows = table_rows(inference.main(["--quick", "--threads", "1"]))
    assert [row[0] for row in rows] == ["LeNet-5 (ReLU, max pool)", "LeNet-5 (tanh, avg pool)", "ResNet-20",
                                        "small VGG"]
    for row in rows:
        # The same weights and images give the same class scores, to float32 rounding.
        assert float(row[-1]) < 1e-4


def test_profile_step_lists_minidl_operations_and_the_rest():
    from benchmarks import profile_step

    text = profile_step.main(["--quick", "--threads", "1", "--model", "LeNet-5 (ReLU, max pool)"])
    operations = [row[0] for row in table_rows(text.split("### PyTorch")[0])]
    assert {"Conv2d forward", "Conv2d backward", "MaxPool2d forward", "MaxPool2d backward"} <= set(operations)
    assert operations[-1] == "engine, optimiser and the rest"
    if has_torch():
        assert any(row[0].startswith("aten::") for row in table_rows(text.split("### PyTorch")[1]))


def test_epoch_times_both_models_over_their_datasets():
    from benchmarks import epoch

    rows = table_rows(epoch.main(["--quick", "--threads", "1"]))
    assert [(row[0], row[1]) for row in rows] == [("LeNet-5 (ReLU, max pool)", "128 x 1x28x28"),
                                                  ("ResNet-20", "128 x 3x32x32")]
    for row in rows:
        assert all(float(seconds) > 0 for seconds in row[2:3 + has_torch()])


def test_suite_appends_each_benchmark_to_one_file(tmp_path):
    from benchmarks import suite

    output = tmp_path / "results.md"
    suite.main(["--quick", "--threads", "1", "--only", "pool", "inference", "--output", str(output)])
    text = output.read_text()
    from minidl.machine import machine_kind

    assert text.startswith(f"# {machine_kind()}\n")
    assert text.index("## pooling") < text.index("## inference forward pass")


def test_memory_measures_a_rise_in_its_own_process():
    from benchmarks import memory

    rows = table_rows(memory.main(["--quick", "--threads", "1", "--impls", "numpy"]))
    assert [row[0] for row in rows] == ["numpy"]
    increase_mib, baseline_mib = float(rows[0][1]), float(rows[0][2])
    # Quick mode's step is tiny (its workspace is a fraction of a MiB), so only the sign of the
    # rise is certain: a peak below the pre-step baseline would mean the measurement is broken.
    assert increase_mib >= 0
    assert baseline_mib > 10  # an interpreter with NumPy and Numba loaded


def test_startup_reports_warm_start_without_notice():
    from benchmarks import startup

    rows = table_rows(startup.main(["--quick", "--threads", "1", "--impls", "numba", "--cold-repeats", "0"]))
    assert len(rows) == 1
    label, runs, inside, process, notice = rows[0]
    assert (label, runs, notice) == ("numba, warm", "1", "no")
    assert 0 < float(inside) <= float(process)


def test_repeats_must_be_positive():
    from benchmarks import pool

    with pytest.raises(SystemExit):
        pool.main(["--repeats", "0"])


XEON_CPUINFO = """processor	: 0
vendor_id	: GenuineIntel
cpu family	: 6
model		: 106
model name	: Intel(R) Xeon(R) Processor
flags		: fpu sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_vnni

processor	: 1
vendor_id	: GenuineIntel
cpu family	: 6
model		: 106
model name	: Intel(R) Xeon(R) Processor
flags		: fpu sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_vnni
"""


def test_header_tells_machines_apart_by_vendor_numbers_and_extensions(tmp_path):
    # A virtual machine's model string can be this vague; family, model and extensions are not.
    from minidl.machine import cpu_info, describe_cpu, machine_kind

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(XEON_CPUINFO)
    assert cpu_info(cpuinfo) == {"model": "Intel(R) Xeon(R) Processor", "vendor": "GenuineIntel", "family": "6",
                                 "model_number": "106", "extensions": ["AVX2", "FMA", "AVX-512F", "AVX-512BW",
                                                                       "AVX-512VL", "AVX-512 VNNI"], "cores": 2}
    assert describe_cpu(cpuinfo) == ("Intel(R) Xeon(R) Processor (GenuineIntel family 6 model 106; "
                                     "AVX2, FMA, AVX-512F, AVX-512BW, AVX-512VL, AVX-512 VNNI; 2 cores)")
    assert machine_kind(cpuinfo) == "Intel family 6 model 106, AVX-512"
    cpuinfo.write_text(XEON_CPUINFO.replace(" avx512f avx512dq avx512bw avx512vl avx512_vnni", ""))
    assert machine_kind(cpuinfo) == "Intel family 6 model 106, AVX2"
    from benchmarks import common

    assert describe_cpu() in common.header("conv2d", SimpleNamespace(quick=False, repeats=3, impls=["numba"]))


def test_ratios_pair_the_rounds_and_report_their_spread():
    from benchmarks import common

    rounds = {"numba": [2.0, 3.0, 9.0], "torch": [4.0, 2.0, 10.0]}
    assert common.round_ratios(rounds, "numba") == [0.5, 1.5, 0.9]
    assert common.fmt_spread([0.5, 1.5, 0.9]) == "0.90x (0.50-1.50)"
