"""``minidl experiment``: the mechanism (reports, results files) and the experiments' own arithmetic.

The experiments themselves run for minutes; here they run with ``--quick`` (tiny settings) to
show they go end to end, and their numbers are not checked."""

import numpy as np
import pytest

from minidl.cli import main
from minidl.experiments import EXPERIMENTS, get_experiment, run_experiment
from minidl.experiments.transfer_convergence import epochs_to_within
from minidl.experiments.transfer_learning_curves import power_law
from minidl.experiments.transfer_setup import epochs_for
from minidl.machine import cpu_info, describe_cpu


def test_an_experiment_writes_its_report_and_records_it_once_in_a_results_file(tmp_path, capsys):
    results = tmp_path / "results.md"
    results.write_text("# Results\n\nText an author wrote stays.\n")
    out = tmp_path / "runs" / "probes"
    for _ in range(2):
        assert main(["experiment", "layer-probes", "--quick", "--out", str(out), "--record", str(results)]) == 0
    report = (out / "report.md").read_text()
    assert report.startswith("## Transfer learning: linear probes") and "(--quick" in report
    assert f"`minidl experiment layer-probes --out {out} --record {results} --quick`" in report
    assert describe_cpu() in report and (out / "layer_probes.png").stat().st_size > 0
    text = results.read_text()
    assert text.startswith("# Results\n\nText an author wrote stays.\n")
    assert text.count("<!-- experiment layer-probes -->") == 1 and text.count("<!-- /experiment layer-probes -->") == 1
    assert "![layer probes](runs/probes/layer_probes.png)" in text   # relative to the results file


@pytest.mark.parametrize("name", ["convergence", "layer-rates"])
def test_the_quick_experiments_run_end_to_end(name, tmp_path):
    report = run_experiment(name, tmp_path, quick=True, log=None)
    assert report.startswith(f"## {get_experiment(name).TITLE} (--quick")
    assert "| " in report   # a table


def test_the_command_lists_the_experiments_and_refuses_unknown_ones(capsys):
    assert main(["experiment", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in EXPERIMENTS)
    assert main(["experiment", "four-corners"]) == 2
    assert capsys.readouterr().err.strip() == ("minidl experiment: no experiment named 'four-corners'; the "
                                               f"experiments: {', '.join(EXPERIMENTS)}")
    assert main(["experiment"]) == 2


def test_power_law_recovers_a_known_exponent():
    labels = np.array([1, 5, 10, 50, 100, 500])
    a, b, r2 = power_law(labels, 0.8 * labels ** -0.35)
    assert a == pytest.approx(0.8) and b == pytest.approx(0.35) and r2 == pytest.approx(1.0)


def test_epochs_to_within_one_point_and_epochs_for_a_training_set_size():
    assert epochs_to_within([0.5, 0.89, 0.905, 0.9], 0.9) == 2
    assert epochs_to_within([0.9], 0.9) == 1
    assert [epochs_for(n) for n in (5, 250, 2500, 100_000)] == [60, 32, 4, 3]


def test_cpu_info_reads_vendor_family_and_extensions(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 143\n"
                       "model name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu avx2 fma avx512f amx_tile\n\n"
                       "processor\t: 1\nvendor_id\t: GenuineIntel\n")
    info = cpu_info(cpuinfo)
    assert (info["vendor"], info["family"], info["model_number"]) == ("GenuineIntel", "6", "143")
    assert info["extensions"] == ["AVX2", "FMA", "AVX-512F", "AMX"]
    assert describe_cpu(cpuinfo).startswith("Intel(R) Xeon(R) Processor (GenuineIntel family 6 model 143; "
                                            "AVX2, FMA, AVX-512F, AMX; ")
