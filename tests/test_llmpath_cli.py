"""The umbrella CLI, against fake chapter packages installed into a temporary site folder.

The fakes are real distributions as far as importlib.metadata is concerned (a .dist-info with
METADATA and entry_points.txt), so this exercises discovery from metadata end to end.
"""

import json
import subprocess
import textwrap

import pytest

FAKE_CLI = textwrap.dedent(
    '''
    import typer
    from llmpath_core.cli import Run, command, make_app, run_app
    from llmpath_core.errors import UserError

    app = make_app("{name}", "fake")

    @command(app, device=False, out=False)  # no --device: the fake does not import torch
    def demo(run: Run) -> dict:
        """Fake demo."""
        print("noise that must not break --json")
        if {fail}:
            raise UserError("the fake demo failed")
        return {{"showed": "{name} ran", "headline": "seed={{}}".format(run.seed)}}

    def main():
        run_app(app)
    '''
)


def make_fake_chapter(site, name, summary, fail=False):
    module = name.replace("-", "_")
    (site / module).mkdir()
    (site / module / "__init__.py").write_text("")
    (site / module / "cli.py").write_text(FAKE_CLI.format(name=name, fail=fail))
    info = site / f"{module}-0.3.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.3.1\nSummary: {summary}\n"
    )
    (info / "entry_points.txt").write_text(f"[console_scripts]\n{name} = {module}.cli:main\n")


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    make_fake_chapter(site, "ch98-fake", "A fake chapter for tests.")
    make_fake_chapter(site, "ch97-broken", "A chapter whose demo fails.", fail=True)
    # a package that looks like a chapter but has no console script is not one
    info = site / "ch96_noscript-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ch96-noscript\nVersion: 1.0\n")
    return site


def llmpath(site, capfd, monkeypatch, *args):
    """Run the umbrella CLI in this process; chapter demos run as subprocesses that see `site`."""
    from importlib import metadata

    from llmpath import chapters
    from llmpath.cli import app
    from llmpath_core.cli import run_app

    # only the fakes count as installed here, whatever else this environment holds
    everything = metadata.distributions
    monkeypatch.setattr(chapters.metadata, "distributions", lambda: everything(path=[str(site)]))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", str(site))
    with pytest.raises(SystemExit) as exit_info:
        run_app(app, list(args))
    out, err = capfd.readouterr()
    return subprocess.CompletedProcess(args, exit_info.value.code, out, err)


def test_chapters_lists_installed_packages_from_metadata(site, capfd, monkeypatch):
    proc = llmpath(site, capfd, monkeypatch, "chapters", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {row["package"]: row for row in json.loads(proc.stdout)["chapters"]}
    assert rows["ch98-fake"] == {
        "chapter": "98",
        "package": "ch98-fake",
        "version": "0.3.1",
        "installed": True,
        "summary": "A fake chapter for tests.",
    }
    assert "ch97-broken" in rows and "ch96-noscript" not in rows
    numbers = [row["chapter"] for row in json.loads(proc.stdout)["chapters"]]
    assert numbers == sorted(numbers)


def test_demo_one_chapter_json(site, capfd, monkeypatch):
    proc = llmpath(site, capfd, monkeypatch, "demo", "ch98", "--seed", "5", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["failed"] == []
    [demo] = result["demos"]
    assert demo["showed"] == "ch98-fake ran" and demo["headline"] == "seed=5" and demo["ok"]


@pytest.mark.parametrize("args", [["--all"], []])
def test_demo_all_summarises_and_fails_when_a_chapter_fails(site, capfd, monkeypatch, args):
    proc = llmpath(site, capfd, monkeypatch, "demo", *args, "--json")
    assert proc.returncode == 1
    result = json.loads(proc.stdout)
    assert result["failed"] == ["ch97-broken"]
    by_package = {d["package"]: d for d in result["demos"]}
    assert by_package["ch98-fake"]["ok"] and by_package["ch98-fake"]["seconds"] >= 0
    assert by_package["ch97-broken"]["showed"] == "FAILED: the fake demo failed"


def test_demo_human_runs_the_chapter_directly(site, capfd, monkeypatch):
    proc = llmpath(site, capfd, monkeypatch, "demo", "98")
    assert proc.returncode == 0, proc.stderr
    assert "ch98-fake ran" in proc.stdout


def test_demo_bad_input_is_one_line_exit_2(site, capfd, monkeypatch):
    proc = llmpath(site, capfd, monkeypatch, "demo", "ch42")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: unknown chapter 'ch42'")
    proc = llmpath(site, capfd, monkeypatch, "demo", "ch98", "--all")
    assert proc.returncode == 2 and "or --all, not both" in proc.stderr


def test_demo_all_human_summary_table_shows_seconds(site, capfd, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    proc = llmpath(site, capfd, monkeypatch, "demo", "--all")
    assert proc.returncode == 1  # ch97-broken fails
    header = next(line for line in proc.stdout.splitlines() if "showed" in line)
    assert "seconds" in header and "headline" in header
    row = next(line for line in proc.stdout.splitlines() if "ch98-fake ran" in line)
    cells = [cell.strip() for cell in row.strip("│| ").split("│")]
    assert float(cells[-1]) >= 0  # the demo's seconds, the last column
