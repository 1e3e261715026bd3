import os

import pytest

from llmpath_core.io import atomic_dir, atomic_write, write_json, write_text


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_interrupted_atomic_write_leaves_no_file(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(KeyboardInterrupt), atomic_write(target) as handle:
        handle.write("half of it")
        raise KeyboardInterrupt
    assert not target.exists()
    assert _leftovers(tmp_path) == []


def test_failed_atomic_write_keeps_the_good_file(tmp_path):
    target = write_text(tmp_path / "out.txt", "good")
    with pytest.raises(ValueError), atomic_write(target, "wb") as handle:
        handle.write(b"bad")
        raise ValueError("boom")
    assert target.read_text() == "good"
    assert _leftovers(tmp_path) == []


def test_atomic_write_replaces_and_creates_parents(tmp_path):
    target = tmp_path / "a" / "b" / "out.json"
    write_json(target, {"x": float("nan"), "y": [1, 2]})
    assert target.read_text() == '{\n  "x": null,\n  "y": [\n    1,\n    2\n  ]\n}\n'
    with pytest.raises(ValueError), atomic_write(target, "r"):
        pass


def test_atomic_dir_success_and_failure(tmp_path):
    target = tmp_path / "model"
    with atomic_dir(target) as tmp:
        (tmp / "config.json").write_text("{}")
        assert not target.exists()
    assert (target / "config.json").read_text() == "{}"

    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "config.json").write_text("broken")
        raise RuntimeError("crash mid-save")
    assert (target / "config.json").read_text() == "{}"
    assert _leftovers(tmp_path) == []

    with atomic_dir(target) as tmp:
        (tmp / "weights.bin").write_bytes(b"\x00")
    assert sorted(os.listdir(target)) == ["weights.bin"]
    assert _leftovers(tmp_path) == []


def test_outputs_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_text(tmp_path / "out.txt", "x")
        with atomic_dir(tmp_path / "folder") as tmp:
            (tmp / "f").write_text("y")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "folder").stat().st_mode & 0o777 == 0o755
