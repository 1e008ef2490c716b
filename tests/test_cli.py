"""``minidl gradcheck``: the table of every built-in layer, and that a broken layer shows as FAIL."""


from minidl import cli, layer_checks
from minidl.function import Function


def test_gradcheck_command_checks_every_layer(capsys):
    assert cli.main(["gradcheck", "--configs", "1"]) == 0
    out = capsys.readouterr().out
    for layer in layer_checks.LAYER_CHECKS:
        assert f"\n{layer} " in out
    assert f"{len(layer_checks.LAYER_CHECKS)} passed, 0 failed" in out


def test_gradcheck_command_runs_one_layer(capsys):
    assert cli.main(["gradcheck", "max_pool2d", "--configs", "2", "--seed", "3"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("max_pool2d")]
    assert len(lines) == 2 and all(line.rstrip().endswith("pass") for line in lines)


def test_unknown_layer_is_refused(capsys):
    assert cli.main(["gradcheck", "conv3d"]) == 2
    assert "unknown layer(s): conv3d" in capsys.readouterr().err


class _SquareWithWrongBackward(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, dout):
        (x,) = ctx.saved_tensors
        return dout * x  # forgets the factor 2 of d(x^2)/dx


def test_a_wrong_backward_is_reported_as_a_failure(capsys, monkeypatch):
    def broken(rng):
        return "x (2, 3)", _SquareWithWrongBackward.apply, [rng.standard_normal((2, 3)) + 3.0]

    monkeypatch.setitem(layer_checks.LAYER_CHECKS, "broken", broken)
    assert cli.main(["gradcheck", "broken", "--configs", "1"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "0 passed, 1 failed" in out
    assert "analytic" in out and "numeric" in out


def test_check_rows_carry_the_worst_relative_error():
    rows = layer_checks.run_checks(["relu"], configs=2, seed=1)
    assert [r.layer for r in rows] == ["relu", "relu"]
    assert all(r.passed and 0 <= r.max_rel_error < 1e-6 for r in rows)
