import json
import struct

import numpy as np
import pytest
import torch

from llmpath_core import bench, compare, line_plot, llmpath_home, make_table, measure, to_jsonable
from llmpath_core.paths import artefact_path
from llmpath_core.progress import progress_enabled, track


class FakeClock:
    """perf_counter that advances only when the measured functions 'work'."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def work(self, seconds):
        def fn():
            self.now += seconds

        return fn


def test_measure_warms_up_then_repeats(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(bench.time, "perf_counter", clock)
    calls = []
    timing = measure(lambda: (calls.append(1), clock.work(0.5)()), warmup=2, repeats=3)
    assert len(calls) == 5
    assert timing.times == [0.5, 0.5, 0.5] and timing.median == 0.5


def test_compare_reports_the_side_by_side_ratio(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(bench.time, "perf_counter", clock)
    result = compare("task", clock.work(0.01), clock.work(0.04), names=("ours", "ref"), repeats=4)
    assert result.speedup == pytest.approx(4.0)
    row = result.to_dict()
    assert row["ours"] == "ours" and row["anchor"] == "ref" and row["speedup"] == pytest.approx(4)
    assert json.loads(json.dumps(to_jsonable(row)))["ours_median_s"] == pytest.approx(0.01)
    with pytest.raises(ValueError):
        measure(lambda: None, repeats=0)


def test_to_jsonable_handles_arrays_tensors_and_nan(tmp_path):
    value = {"a": np.float32(1.5), "b": torch.tensor([1, 2]), "c": float("inf"), "p": tmp_path}
    assert to_jsonable(value) == {"a": 1.5, "b": [1, 2], "c": None, "p": str(tmp_path)}


def test_table_columns_are_the_union_of_the_rows():
    table = make_table([{"a": 1, "b": 2.5}, {"a": 2, "c": "x"}])
    assert [c.header for c in table.columns] == ["a", "b", "c"]
    assert list(table.columns[1].cells) == ["2.5", "-"]
    assert list(table.columns[2].cells) == ["-", "x"]
    assert table.columns[0].justify == "right" and table.columns[2].justify == "left"


def test_table_formats_numbers():
    table = make_table([{"name": "x", "value": 0.000012345, "n": 3}])
    assert [c.header for c in table.columns] == ["name", "value", "n"]
    assert list(table.columns[1].cells) == ["1.234e-05"] or list(table.columns[1].cells) == [
        "1.235e-05"
    ]


def test_line_plot_writes_a_png(tmp_path):
    path = line_plot(
        tmp_path / "plot.png",
        {"a": ([1, 2, 3], [3, 2, 1]), "b": ([1, 2], [1, 2])},
        title="t",
        xlabel="x",
        ylabel="y",
    )
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (840, 504)


def test_llmpath_home(monkeypatch, tmp_path):
    monkeypatch.setenv("LLMPATH_HOME", str(tmp_path / "home"))
    assert llmpath_home() == tmp_path / "home" and (tmp_path / "home").is_dir()
    path = artefact_path("ch07", "runs", "base")
    assert path == tmp_path / "home" / "ch07" / "runs" / "base" and path.parent.is_dir()


def test_progress_is_quiet_off_a_terminal(monkeypatch):
    assert not progress_enabled()  # pytest captures stderr: not a TTY
    assert list(track(range(4), description="x")) == [0, 1, 2, 3]
    monkeypatch.setenv("LLMPATH_PROGRESS", "0")
    assert not progress_enabled()


def test_machine_info():
    info = bench.machine_info()
    assert info["cpu_count"] >= 1 and info["torch"] == torch.__version__


def test_record_cli_examples_keeps_each_result_and_fails_loudly(tmp_path):
    import typer

    from llmpath_core.bench import record_cli_examples, run_json
    from llmpath_core.cli import Run, command, make_app
    from llmpath_core.errors import UserError

    app = make_app("rec", "recording test")

    @command(app, device=False, out=False)
    def double(run: Run, n: int = typer.Option(2)) -> dict:
        if n < 0:
            raise UserError("n must not be negative")
        return {"showed": "doubling", "headline": str(2 * n)}

    @command(app, device=False, out=False)
    def demo(run: Run) -> dict:
        return {"showed": "demo", "headline": "ok"}

    result, seconds = run_json(app, ["double", "--n", "21"])
    assert result["headline"] == "42" and seconds >= 0
    out = tmp_path / "results.json"
    record_cli_examples(app, "rec", {"double": ["double", "--n", "3"], "demo": ["demo"]}, out)
    first = json.loads(out.read_text())
    assert first["commands"]["double"]["result"]["headline"] == "6"
    assert first["commands"]["double"]["argv"] == ["rec", "double", "--n", "3", "--json"]
    # re-running one command keeps the other's entry
    record_cli_examples(app, "rec", {"double": ["double", "--n", "4"]}, out, ["double"])
    again = json.loads(out.read_text())
    assert again["commands"]["double"]["result"]["headline"] == "8"
    assert again["commands"]["demo"] == first["commands"]["demo"]
    with pytest.raises(RuntimeError, match="exited with 2"):
        run_json(app, ["double", "--n", "-1"])
    # bad-input examples are recorded with their exit code and one stderr line, beside the results
    from llmpath_core.bench import record_cli_errors

    record_cli_errors(app, "rec", {"negative": ["double", "--n", "-1"]}, out)
    errors = json.loads(out.read_text())
    assert errors["commands"]["double"] == again["commands"]["double"]
    entry = errors["errors"]["negative"]
    assert entry["exit_code"] == 2 and entry["argv"] == ["rec", "double", "--n", "-1"]
    assert entry["stderr"].strip() == "error: n must not be negative" and entry["stdout"] == ""
