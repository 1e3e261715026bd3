"""A generated corpus with planted relations, so analogy accuracy is measurable.

Four relations of ten word pairs each (gender, country-capital, singular-plural, present-past).
Every pair ``(a, b)`` gets its own topic words, and each side of a relation its own marker words:
``a`` appears with the pair's topic words and side-A markers, ``b`` with the same topic words and
side-B markers. A word's contexts are then roughly "topic + side", so ``b - a`` points the same
way for every pair of a relation, and ``king : queen :: man : ?`` has the answer ``woman``.
Sentences from llmpath-core's tiny stories are mixed in as ordinary background text.
"""

from __future__ import annotations

import random

RELATIONS: dict[str, list[tuple[str, str]]] = {
    "gender": [
        ("king", "queen"),
        ("man", "woman"),
        ("boy", "girl"),
        ("prince", "princess"),
        ("father", "mother"),
        ("son", "daughter"),
        ("brother", "sister"),
        ("uncle", "aunt"),
        ("husband", "wife"),
        ("actor", "actress"),
    ],
    "capital": [
        ("france", "paris"),
        ("italy", "rome"),
        ("spain", "madrid"),
        ("germany", "berlin"),
        ("japan", "tokyo"),
        ("egypt", "cairo"),
        ("russia", "moscow"),
        ("china", "beijing"),
        ("greece", "athens"),
        ("peru", "lima"),
    ],
    "plural": [
        ("cat", "cats"),
        ("dog", "dogs"),
        ("car", "cars"),
        ("tree", "trees"),
        ("house", "houses"),
        ("bird", "birds"),
        ("book", "books"),
        ("apple", "apples"),
        ("river", "rivers"),
        ("chair", "chairs"),
    ],
    "tense": [
        ("walk", "walked"),
        ("jump", "jumped"),
        ("play", "played"),
        ("cook", "cooked"),
        ("paint", "painted"),
        ("call", "called"),
        ("open", "opened"),
        ("clean", "cleaned"),
        ("watch", "watched"),
        ("climb", "climbed"),
    ],
}
MARKERS: dict[str, tuple[list[str], list[str]]] = {
    "gender": (["he", "his", "him", "himself"], ["she", "her", "hers", "herself"]),
    "capital": (
        ["nation", "country", "border", "territory"],
        ["city", "capital", "streets", "downtown"],
    ),
    "plural": (["one", "single", "a", "this"], ["many", "several", "some", "these"]),
    "tense": (["today", "now", "always", "usually"], ["yesterday", "ago", "earlier", "before"]),
}
_TOPICS = [
    "crown",
    "throne",
    "palace",
    "royal",
    "castle",
    "gown",
    "cloth",
    "stone",
    "honest",
    "brave",
    "gentle",
    "strong",
    "quiet",
    "garden",
    "meadow",
    "forest",
    "harbor",
    "market",
    "valley",
    "mountain",
    "island",
    "desert",
    "ocean",
    "lake",
    "hill",
    "wheel",
    "engine",
    "metal",
    "glass",
    "paper",
    "ink",
    "lamp",
    "candle",
    "bread",
    "cheese",
    "honey",
    "salt",
    "pepper",
    "grape",
    "olive",
    "lemon",
    "music",
    "song",
    "dance",
    "drum",
    "flute",
    "violin",
    "story",
    "poem",
    "letter",
    "word",
    "silver",
    "gold",
    "copper",
    "iron",
    "velvet",
    "silk",
    "wool",
    "cotton",
    "leather",
    "marble",
    "granite",
    "clay",
    "sand",
    "snow",
    "rain",
    "wind",
    "storm",
    "cloud",
    "thunder",
    "sunrise",
    "sunset",
    "autumn",
    "winter",
    "spring",
    "summer",
    "morning",
    "evening",
    "night",
    "north",
    "south",
    "east",
    "west",
    "corner",
    "bridge",
    "tower",
    "gate",
    "road",
    "path",
    "field",
    "barn",
    "farm",
    "orchard",
]


def pair_topics(n_per_pair: int = 2) -> dict[tuple[str, str], list[str]]:
    """The topic words of each relation pair (fixed: drawn in order from a word pool)."""
    pairs = [p for rel in RELATIONS.values() for p in rel]
    need = len(pairs) * n_per_pair
    if need > len(_TOPICS):
        raise ValueError("not enough topic words")
    return {p: _TOPICS[i * n_per_pair : (i + 1) * n_per_pair] for i, p in enumerate(pairs)}


def planted_sentences(per_word: int = 60, seed: int = 0) -> list[list[str]]:
    """``per_word`` short sentences for every relation word (tokenised, lower case)."""
    rng = random.Random(seed)
    topics = pair_topics()
    sentences = []
    for rel, pairs in RELATIONS.items():
        side_a, side_b = MARKERS[rel]
        for pair in pairs:
            for word, markers in ((pair[0], side_a), (pair[1], side_b)):
                for _ in range(per_word):
                    words = [word, *topics[pair], *rng.sample(markers, 2)]
                    rng.shuffle(words)
                    sentences.append(words)
    rng.shuffle(sentences)
    return sentences


def story_sentences(n_chars: int = 150_000, seed: int = 0) -> list[list[str]]:
    """Background sentences from llmpath-core's tiny stories (lower case, letters only)."""
    import re

    from llmpath_core.data import tiny_stories

    out = []
    for story in tiny_stories("train", n_chars=n_chars, seed=1234 + seed):
        for sentence in re.split(r"[.!?]+", story):
            words = re.findall(r"[a-z']+", sentence.lower())
            if len(words) >= 3:
                out.append(words)
    return out


def analogy_questions() -> list[tuple[str, str, str, str, str]]:
    """``(relation, a, b, c, d)`` for every ordered pair of pairs of a relation: a:b :: c:d."""
    return [
        (rel, a, b, c, d)
        for rel, pairs in RELATIONS.items()
        for a, b in pairs
        for c, d in pairs
        if a != c
    ]


def training_corpus(per_word: int = 60, n_chars: int = 150_000, seed: int = 0) -> list[list[str]]:
    """Planted-relation sentences mixed with story sentences (shuffled, fixed seed)."""
    sentences = planted_sentences(per_word, seed) + story_sentences(n_chars, seed)
    random.Random(seed + 1).shuffle(sentences)
    return sentences


__all__ = [
    "MARKERS",
    "RELATIONS",
    "analogy_questions",
    "planted_sentences",
    "story_sentences",
    "training_corpus",
]
