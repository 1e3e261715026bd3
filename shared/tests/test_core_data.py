import hashlib
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from llmpath_core import UserError, load_documents, load_text, tiny_stories
from llmpath_core.data import prose, pydoc
from llmpath_core.data.stories import DEFAULT_SEED, iter_stories, story_split


def test_stories_are_deterministic_for_a_seed():
    assert tiny_stories("train", 20_000) == tiny_stories("train", 20_000)
    assert tiny_stories("train", 20_000, seed=1) != tiny_stories("train", 20_000)
    # a smaller request is a prefix of a larger one
    small, large = tiny_stories("train", 10_000), tiny_stories("train", 50_000)
    assert large[: len(small)] == small


def test_story_splits_do_not_overlap_and_are_fixed():
    train = tiny_stories("train", 300_000)
    validation = tiny_stories("validation", 30_000)
    assert not set(train) & set(validation)
    assert all(story_split(s) == "validation" for s in validation)
    share = len(validation) / (len(validation) + sum(1 for _ in train[: len(validation) * 9]))
    assert 0.05 < share < 0.2  # roughly the 10% validation bucket


def test_stories_have_learnable_structure():
    stories = tiny_stories("train", 200_000)
    text = " ".join(stories)
    assert all(s.endswith("The end.") for s in stories)
    assert text.count('"') % 2 == 0  # dialogue quotes are balanced
    assert len(set(stories)) > 0.95 * len(stories)  # varied, not a handful of templates
    for word in ("because", "so", "happy", "sad", "said", "asked"):
        assert f" {word} " in text
    assert len("\n".join(tiny_stories("train", 3_000_000))) >= 3_000_000 - 1  # several MB


def test_stream_is_reproducible():
    first = [s for _, s in zip(range(5), iter_stories(DEFAULT_SEED), strict=False)]
    again = [s for _, s in zip(range(5), iter_stories(DEFAULT_SEED), strict=False)]
    assert first == again and len(set(first)) == 5


def test_pydoc_is_frozen_with_a_checksum():
    assert pydoc.checksum() == pydoc.FROZEN_SHA256
    train, validation = pydoc.pydoc_prose("train"), pydoc.pydoc_prose("validation")
    test = pydoc.pydoc_prose("test")
    assert len(train) + len(validation) + len(test) == len(pydoc.pydoc_topics()) == 79
    assert not set(train) & set(validation) and not set(train) & set(test)
    assert len(validation) >= 5 and len(test) >= 5
    assert "def" in " ".join(train)
    # the validation topics are the ones the two-way split of llmpath-core 0.2 held out
    old_validation = [
        name
        for name in pydoc.pydoc_topics()
        if int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % 100 < 15
    ]
    assert [n for n in pydoc.pydoc_topics() if pydoc.topic_split(n) == "validation"] == (
        old_validation
    )


def test_docstrings_are_frozen_and_split_by_module():
    docs = prose.stdlib_docstrings()
    assert len(docs) == 259 and "json" in docs and "Module json" in docs["json"]
    splits = {s: prose.docstring_prose(s) for s in prose.SPLITS}
    assert sum(len(v) for v in splits.values()) == len(docs)
    assert not set(splits["train"]) & (set(splits["validation"]) | set(splits["test"]))
    assert sum(map(len, splits["train"])) > 1_000_000  # real prose, over a megabyte
    assert prose.all_prose("test") == pydoc.pydoc_prose("test") + splits["test"]


def test_mix_interleaves_stories_and_prose_a_third_each_way():
    docs = load_documents("mix", max_chars=600_000)
    prose_docs = set(prose.all_prose("train"))
    prose_chars = sum(len(d) for d in docs if d in prose_docs)
    assert 0.28 < prose_chars / sum(len(d) for d in docs) < 0.45
    assert docs[:3] == load_documents("mix", max_chars=100_000)[:3]  # prefix of a larger one
    held_out = load_documents("mix:test", max_chars=200_000)
    assert not set(held_out) & set(docs)
    assert set(held_out) & set(prose.all_prose("test"))  # the test mix holds test prose
    # without a size the mix holds all of a split's prose and twice as much story text
    full = load_documents("mix:validation")
    assert prose_docs.isdisjoint(full) and set(prose.all_prose("validation")) <= set(full)


def test_bundled_names_and_split_suffix():
    assert load_documents("stories:validation", max_chars=5_000) == load_documents(
        "stories", split="validation", max_chars=5_000
    )
    text = load_text("pydoc", max_chars=1000)
    assert len(text) <= 1000 + 2 * 10
    assert load_documents("mix:test", max_chars=5_000) == load_documents(
        "mix", split="test", max_chars=5_000
    )
    for name in ("stories", "pydoc", "docstrings", "prose", "mix"):
        assert load_text(f"{name}:test", max_chars=2_000).strip()
    with pytest.raises(UserError, match="unknown split"):
        load_text("stories:dev")


def test_local_text_jsonl_and_parquet(tmp_path):
    (tmp_path / "a.txt").write_text("héllo world\n", encoding="utf-8")
    assert load_text(tmp_path / "a.txt") == "héllo world\n"
    rows = [{"text": "first doc"}, {"text": "second doc", "id": 2}]
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    assert load_documents(tmp_path / "b.jsonl") == ["first doc", "second doc"]
    assert load_text(tmp_path / "b.jsonl", separator="|") == "first doc|second doc"
    pq.write_table(pa.table({"body": ["x1", "x2", None], "n": [1, 2, 3]}), tmp_path / "c.parquet")
    assert load_documents(tmp_path / "c.parquet", text_field="body") == ["x1", "x2"]
    assert load_text(tmp_path / "b.jsonl", max_chars=12) == "first doc\n\nsec"


def test_dataset_folder_goes_through_datasets(tmp_path):
    folder = tmp_path / "my_dataset"
    folder.mkdir()
    (folder / "train.jsonl").write_text('{"text": "from the datasets path"}\n')
    (folder / "validation.jsonl").write_text('{"text": "held out"}\n')
    assert load_documents(folder) == ["from the datasets path"]
    assert load_documents(folder, split="validation") == ["held out"]


def test_bad_inputs_are_clear_user_errors(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load_text(tmp_path / "missing.txt")
    with pytest.raises(UserError, match="no such file"):
        load_text("missing.jsonl")  # a relative file name is not taken for a hub id
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(UserError, match="unsupported file type"):
        load_text(tmp_path / "x.csv")
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{"body": "no text"}\n')
    with pytest.raises(UserError, match=r"bad.jsonl:2: expected an object"):
        load_text(tmp_path / "bad.jsonl")
    (tmp_path / "broken.jsonl").write_text("{not json\n")
    with pytest.raises(UserError, match="not valid JSON"):
        load_text(tmp_path / "broken.jsonl")
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "p.parquet")
    with pytest.raises(UserError, match="no column 'text'"):
        load_text(tmp_path / "p.parquet")
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(UserError, match="no text found"):
        load_text(tmp_path / "empty.txt")
    (tmp_path / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(UserError, match="not UTF-8"):
        load_text(tmp_path / "latin.txt")
    with pytest.raises(UserError, match="max_chars"):
        load_text("stories", max_chars=0)


def test_hub_id_offline_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(UserError, match=r"could not load dataset 'someone/some-corpus'.*offline"):
        load_text("someone/some-corpus")
