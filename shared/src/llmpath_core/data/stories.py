"""A deterministic synthetic "tiny stories" corpus, in the spirit of TinyStories (Eldan & Li, 2023).

Short children's stories built from a small grammar: characters with consistent names and
pronouns, objects, places, weather, feelings that follow from events, simple dialogue and cause
and effect ("because", "so"). The regularities are what a small language model can learn in
minutes: a feeling word after a loss is "sad", a found object makes a character "happy", a
question is answered, pronouns agree with names.

The corpus is an endless stream: story ``i`` is generated from its own random generator seeded by
``(seed, i)``, so any prefix is reproducible. Each story belongs to the train or validation split
by a hash of its text, so identical stories always land in the same split and the splits can never
overlap.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

VALIDATION_PERCENT = 10
DEFAULT_SEED = 1234
DEFAULT_CHARS = {"train": 1_000_000, "validation": 100_000}

_NAMES = {
    "she": ["Lily", "Mia", "Sara", "Anna", "Zoe", "Ella", "Rosa", "Nina", "Lucy", "Maya"],
    "he": ["Tom", "Ben", "Max", "Sam", "Leo", "Jack", "Finn", "Omar", "Tim", "Noah"],
}
_ANIMALS = [
    ("a little dog", "he"),
    ("a small cat", "she"),
    ("a shy rabbit", "she"),
    ("a brave bird", "he"),
    ("a kind bear", "he"),
    ("a tiny mouse", "she"),
    ("a friendly frog", "he"),
    ("a gentle dragon", "she"),
]
_TRAITS = ["kind", "curious", "brave", "shy", "funny", "clever", "happy", "gentle", "busy"]
_OBJECTS = [
    "red ball",
    "blue kite",
    "toy car",
    "shiny key",
    "big book",
    "yellow hat",
    "little boat",
    "soft blanket",
    "green box",
    "wooden train",
    "pretty flower",
    "old map",
]
_PLACES = [
    "in the park",
    "in the garden",
    "in the forest",
    "at the beach",
    "on the farm",
    "at school",
    "by the river",
    "on the hill",
    "in the kitchen",
    "at the library",
    "in the town",
    "in the meadow",
]
_OPENINGS = [
    "Once upon a time",
    "One day",
    "One sunny morning",
    "Long ago",
    "One rainy afternoon",
    "Last summer",
    "One cold winter day",
]
_WEATHER = {
    "sunny": "the sun was warm",
    "rainy": "the rain fell softly",
    "windy": "the wind blew hard",
    "snowy": "white snow covered the ground",
}
_GOOD = ["happy", "glad", "proud", "excited"]
_BAD = ["sad", "upset", "worried", "scared"]
_MORALS = [
    "It is good to share with friends.",
    "Being kind makes everyone happy.",
    "Never give up when something is hard.",
    "Friends help each other.",
    "It is important to say sorry.",
    "Looking carefully helps you find things.",
]


@dataclass
class _Character:
    name: str
    pronoun: str  # "she" or "he"
    kind: str  # "girl", "boy" or an animal phrase

    @property
    def obj(self) -> str:
        return "her" if self.pronoun == "she" else "him"

    @property
    def poss(self) -> str:
        return "her" if self.pronoun == "she" else "his"

    @property
    def subj(self) -> str:
        return self.pronoun.capitalize()


def _character(rng: random.Random, taken: set[str]) -> _Character:
    if rng.random() < 0.25:
        phrase, pronoun = rng.choice(_ANIMALS)
        name = rng.choice(["Spot", "Buddy", "Whiskers", "Fluffy", "Pip", "Coco", "Sunny", "Bo"])
        if name not in taken:
            taken.add(name)
            return _Character(name, pronoun, phrase)
    while True:
        pronoun = rng.choice(["she", "he"])
        name = rng.choice(_NAMES[pronoun])
        if name not in taken:
            taken.add(name)
            return _Character(name, pronoun, "girl" if pronoun == "she" else "boy")


def _intro(rng: random.Random, hero: _Character, place: str, weather: str) -> list[str]:
    trait = rng.choice(_TRAITS)
    article = "an" if trait[0] in "aeiou" else "a"
    who = f"{article} {trait} {hero.kind}" if hero.kind in ("girl", "boy") else hero.kind
    return [
        f"{rng.choice(_OPENINGS)}, there was {who} named {hero.name}.",
        f"{hero.subj} liked to play {place}.",
        f"It was a {weather} day and {_WEATHER[weather]}.",
    ]


def _lost_and_found(rng, hero, friend, place, thing) -> list[str]:
    bad, good = rng.choice(_BAD), rng.choice(_GOOD)
    spot = rng.choice(
        [
            "under a tree",
            "behind a rock",
            "near the water",
            "in the tall grass",
            "under the bench",
            "inside an old box",
        ]
    )
    return [
        f"{hero.name} had a {thing}. {hero.subj} loved it very much.",
        f"But one day, {hero.name} could not find the {thing} {place}.",
        f"{hero.name} was {bad} because the {thing} was gone.",
        f'"Where is my {thing}?" {hero.name} asked.',
        f"{friend.name} saw that {hero.name} was {bad}, so {friend.pronoun} came to help.",
        f'"Do not worry, I will help you look," said {friend.name}.',
        f"They looked everywhere. At last, {friend.name} found the {thing} {spot}.",
        f'{hero.name} was {good} again. {hero.subj} hugged {friend.name} and said, "Thank you!"',
    ]


def _sharing(rng, hero, friend, place, thing) -> list[str]:
    bad = rng.choice(_BAD)
    return [
        f"{hero.name} had a new {thing}.",
        f'{friend.name} saw it and asked, "Can I play with your {thing}?"',
        f'"No, it is mine!" said {hero.name}.',
        f"{friend.name} felt {bad} and walked away.",
        f"Soon {hero.name} was alone {place}, and playing alone was not fun.",
        f'{hero.name} ran to {friend.name} and said, "I am sorry. Let\'s play together."',
        f"They played with the {thing} all day, and both of them were happy.",
    ]


def _weather_change(rng, hero, friend, place, thing) -> list[str]:
    return [
        f"{hero.name} and {friend.name} wanted to fly a kite {place}.",
        "Suddenly, dark clouds came and it started to rain.",
        f"Because it was raining, they could not play outside, so they were {rng.choice(_BAD)}.",
        f'"What can we do now?" asked {friend.name}.',
        f'{hero.name} smiled. "We can build a fort with my {thing}!"',
        "They built a big fort inside and told stories until the rain stopped.",
        f"When the sun came back, they ran outside again, and they were {rng.choice(_GOOD)}.",
    ]


def _challenge(rng, hero, friend, place, thing) -> list[str]:
    goal = rng.choice(
        [
            "climb the big hill",
            "swim across the pond",
            "read a long book",
            "build a tall tower",
            "ride a bike",
            "bake a cake",
        ]
    )
    return [
        f"{hero.name} wanted to {goal}, but it was very hard.",
        f"The first time, {hero.name} tried and fell down. {hero.subj} felt {rng.choice(_BAD)}.",
        f'{friend.name} said, "Try again, {hero.name}. You can do it!"',
        f"So {hero.name} tried again, and again, and again.",
        f"At last, {hero.name} did it! {hero.subj} was so {rng.choice(_GOOD)}.",
        f"{friend.name} gave {hero.obj} a {thing} as a prize.",
    ]


def _helping(rng, hero, friend, place, thing) -> list[str]:
    trouble = rng.choice(
        [
            "was stuck in a tree",
            "had hurt a leg",
            "was lost and cold",
            "could not reach the high shelf",
        ]
    )
    return [
        f"One day {place}, {hero.name} heard a small voice crying.",
        f"It was {friend.name}, and {friend.pronoun} {trouble}.",
        f'"Please help me," said {friend.name}. "I am {rng.choice(_BAD)}."',
        f"{hero.name} was {rng.choice(_TRAITS)} and did not run away.",
        f"{hero.subj} used {hero.poss} {thing} to help {friend.name}.",
        f"Because {hero.name} helped, {friend.name} was safe, so {friend.pronoun} was "
        f"{rng.choice(_GOOD)}.",
        f"From that day on, {hero.name} and {friend.name} were best friends.",
    ]


_PLOTS = [_lost_and_found, _sharing, _weather_change, _challenge, _helping]


def generate_story(rng: random.Random) -> str:
    """One story drawn from ``rng``."""
    taken: set[str] = set()
    hero, friend = _character(rng, taken), _character(rng, taken)
    place, thing = rng.choice(_PLACES), rng.choice(_OBJECTS)
    weather = rng.choice(list(_WEATHER))
    plot = rng.choice(_PLOTS)
    sentences = _intro(rng, hero, place, weather) + plot(rng, hero, friend, place, thing)
    if rng.random() < 0.6:
        sentences.append(f"{hero.name} learned something that day. {rng.choice(_MORALS)}")
    sentences.append("The end.")
    return " ".join(sentences)


def story_split(text: str) -> str:
    """``"train"`` or ``"validation"``, decided by a hash of the text (so the split is fixed)."""
    bucket = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") % 100
    return "validation" if bucket < VALIDATION_PERCENT else "train"


def iter_stories(seed: int = DEFAULT_SEED, split: str | None = None) -> Iterator[str]:
    """The endless, deterministic story stream; ``split`` keeps only that split's stories."""
    if split not in (None, "train", "validation"):
        raise ValueError(f"unknown split {split!r}: use 'train' or 'validation'")
    index = 0
    while True:
        story = generate_story(random.Random(f"llmpath-stories:{seed}:{index}"))
        index += 1
        if split is None or story_split(story) == split:
            yield story


def tiny_stories(
    split: str = "train", n_chars: int | None = None, seed: int = DEFAULT_SEED
) -> list[str]:
    """The first stories of ``split`` adding up to at least ``n_chars`` characters.

    ``n_chars`` defaults to 1 MB for train and 100 kB for validation; ask for several MB when a
    model needs more data. A smaller request is always a prefix of a larger one.
    """
    if n_chars is None:
        n_chars = DEFAULT_CHARS.get(split, DEFAULT_CHARS["train"])
    if n_chars <= 0:
        raise ValueError("n_chars must be positive")
    stories, total = [], 0
    for story in iter_stories(seed, split):
        stories.append(story)
        total += len(story) + 1
        if total >= n_chars:
            break
    return stories


__all__ = ["DEFAULT_SEED", "generate_story", "iter_stories", "story_split", "tiny_stories"]
