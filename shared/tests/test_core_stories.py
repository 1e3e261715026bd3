"""The synthetic story corpus: determinism, splits, variety and internal consistency."""

import collections
import random
import re

import pytest

from llmpath_core.data.stories import (
    DEFAULT_CHARS,
    DEFAULT_SEED,
    PLOT_KINDS,
    SPLITS,
    generate_story,
    iter_stories,
    story_split,
    story_with_facts,
    tiny_stories,
)

_NUM_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
_PRONOUN_SETS = {
    "she": {"she", "her", "hers", "herself"},
    "he": {"he", "him", "his", "himself"},
    "they": {"they", "them", "their", "theirs", "themselves"},
}


def _samples(n: int, seed: int = 7) -> list[tuple[str, dict]]:
    return [story_with_facts(random.Random(f"test:{seed}:{i}")) for i in range(n)]


def test_api_constants():
    assert DEFAULT_SEED == 1234
    assert SPLITS == ("train", "validation", "test")
    assert DEFAULT_CHARS == {"train": 1_000_000, "validation": 100_000, "test": 100_000}


def test_deterministic_for_a_seed_and_prefix_property():
    assert tiny_stories("train", 20_000) == tiny_stories("train", 20_000)
    assert tiny_stories("train", 20_000, seed=1) != tiny_stories("train", 20_000)
    small, large = tiny_stories("train", 10_000), tiny_stories("train", 60_000)
    assert large[: len(small)] == small and len(large) > len(small)
    assert sum(len(s) + 1 for s in large) >= 60_000
    rng_a, rng_b = random.Random("x"), random.Random("x")
    assert generate_story(rng_a) == generate_story(rng_b)


def test_stream_uses_per_index_string_seeds():
    first = [s for _, s in zip(range(3), iter_stories(DEFAULT_SEED), strict=False)]
    expected = [
        generate_story(random.Random(f"llmpath-stories:{DEFAULT_SEED}:{i}")) for i in range(3)
    ]
    assert first == expected


def test_splits_are_disjoint_and_roughly_90_5_5():
    stories = [s for _, s in zip(range(2000), iter_stories(DEFAULT_SEED), strict=False)]
    counts = collections.Counter(story_split(s) for s in stories)
    assert set(counts) == set(SPLITS)
    # binomial(2000, 0.05): sd ~ 10, so 60..140 is about 4 sd either side
    assert 60 <= counts["validation"] <= 140 and 60 <= counts["test"] <= 140
    by_split = {sp: set(tiny_stories(sp, 20_000)) for sp in SPLITS}
    assert not by_split["train"] & by_split["validation"]
    assert not by_split["train"] & by_split["test"]
    assert not by_split["validation"] & by_split["test"]
    for sp, docs in by_split.items():
        assert all(story_split(s) == sp for s in docs)
    with pytest.raises(ValueError, match="unknown split"):
        next(iter_stories(split="dev"))
    with pytest.raises(ValueError, match="unknown split"):
        tiny_stories("dev", 100)


def test_shape_lexicon_and_plot_variety():
    stories = tiny_stories("train", 1_000_000)
    text = "\n".join(stories)
    words = set(re.findall(r"[a-z]+", text.lower()))
    assert len(words) >= 2000, len(words)
    lengths = [len(s) for s in stories]
    assert min(lengths) >= 400 and max(lengths) <= 4000
    assert 600 <= sum(lengths) / len(lengths) <= 3000
    assert all(s.count("\n\n") >= 3 for s in stories)  # several paragraphs
    assert all(s.count('"') % 2 == 0 for s in stories)  # balanced dialogue quotes
    assert len(set(stories)) == len(stories)
    assert sum('?"' in s for s in stories) > 0.8 * len(stories)  # questions in dialogue
    plots = collections.Counter(f["plot"] for _, f in _samples(600))
    assert len(PLOT_KINDS) >= 15 and set(plots) == set(PLOT_KINDS)
    assert min(plots.values()) >= 10
    # sentence-level variation: the most common sentence is rare
    sentences = collections.Counter(
        x.strip() for s in stories[:500] for x in re.split(r"(?<=[.!?])\s", s)
    )
    common = [c for x, c in sentences.most_common(5) if x != "The end."]
    assert common[0] < 0.5 * 500


def test_arithmetic_is_consistent_and_stated_in_the_text():
    n_sums = 0
    for text, facts in _samples(400):
        for start, changes, stated in facts["sums"]:
            n_sums += 1
            assert stated == start + sum(changes), (facts["plot"], start, changes, stated)
            if 0 < stated < len(_NUM_WORDS):
                assert re.search(rf"\b{_NUM_WORDS[stated]}\b", text, re.IGNORECASE), text
            elif stated == 0:
                assert re.search(r"\b(none|nothing|zero|not a single)\b", text, re.I), text
    assert n_sums > 300


def test_gift_story_recalls_the_remaining_fruit_from_the_text():
    """Parse the numbers out of the text alone and redo the subtraction."""
    seen = 0
    for text, facts in _samples(600):
        if facts["plot"] != "gift_and_note":
            continue
        seen += 1
        m = re.search(
            r"gave \w+ (\w+) (\w+) (\w+) and a note\..*?had given (\w+) to \w+ and (\w+) to \w+,"
            r" so (\w+) ",
            text,
            re.DOTALL,
        )
        assert m, text
        n, g1, g2, left = (_NUM_WORDS.index(m.group(i)) for i in (1, 4, 5, 6))
        assert left == n - g1 - g2
        # the party's day and place, given early, are recalled at the end
        _, day, place, hour = next(r for r in facts["recall"] if r[0] == "party")
        first, last = text.split("\n\n")[:3], text.split("\n\n")[-3:]
        assert any(day in p and place in p for p in first)
        assert any(day in p and place in p and _NUM_WORDS[hour] in p for p in last)
    assert seen >= 15


def test_shop_change_is_right():
    seen = 0
    for text, facts in _samples(600):
        if facts["plot"] != "shop":
            continue
        seen += 1
        m = re.search(r"had (\w+) coins in", text)
        coins = _NUM_WORDS.index(m.group(1))
        spent = re.search(r"That makes (\w+) coins in all", text)
        total = _NUM_WORDS.index(spent.group(1))
        answer = re.search(r'"(\w+)," \w+ (?:said|replied|answered|added)\. "I had', text)
        assert _NUM_WORDS.index(answer.group(1).lower()) == coins - total
    assert seen >= 15


def _narration_sentences(text: str) -> list[str]:
    narration = re.sub(r'"[^"]*"', " ", text)
    return [s for s in re.split(r"[.!?\n]", narration) if s.strip()]


def test_pronouns_agree_with_the_only_named_character_of_a_sentence():
    checked = 0
    for text, facts in _samples(400):
        chars = dict(facts["characters"])
        assert chars
        for sentence in _narration_sentences(text):
            named = [n for n in chars if re.search(rf"\b{re.escape(n)}\b", sentence)]
            if len(named) != 1:
                continue
            pronoun = chars[named[0]]
            used = set(
                re.findall(r"\b(?:he|she|him|his|her|hers|herself|himself)\b", sentence.lower())
            )
            wrong = used - _PRONOUN_SETS[pronoun]
            if pronoun != "they":
                # "they" may mean a group; only the other gender is wrong
                pass
            assert not wrong, (named[0], pronoun, sentence)
            checked += 1
    assert checked > 2000


def test_they_characters_take_plural_verbs():
    found = 0
    for text, facts in _samples(600):
        for name, pronoun in facts["characters"]:
            if pronoun != "they":
                continue
            found += 1
            assert not re.search(rf"\b{name} was\b", text) or "they was" not in text.lower()
            assert "they was" not in text.lower() and "they has" not in text.lower()
    assert found > 10


def test_feelings_follow_events_in_lost_and_found():
    for text, facts in _samples(600):
        if facts["plot"] not in ("lost_and_found", "lost_pet"):
            continue
        paragraphs = text.split("\n\n")
        loss = next(
            i for i, p in enumerate(paragraphs) if re.search(r"was gone|did not come home", p)
        )
        found = next(
            i
            for i, p in enumerate(paragraphs)
            if re.search(r"there it was|, and there was \w+!", p) and i > loss
        )
        bad = r"\b(sad|upset|unhappy|gloomy|miserable|worried|nervous|anxious|scared|afraid)\b"
        good = r"\b(happy|glad|delighted|cheerful|pleased|overjoyed)\b"
        assert re.search(bad, paragraphs[loss])
        assert re.search(good, paragraphs[found])
