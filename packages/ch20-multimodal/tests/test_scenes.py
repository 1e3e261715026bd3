"""The scene world: spec parsing, rendering, captions, exact answers, the held-out split."""

from __future__ import annotations

import random

import numpy as np
import pytest

from ch20_multimodal.scenes import (
    COLOURS,
    is_held_out,
    parse_spec,
    questions,
    render,
    sample_scenes,
)
from ch20_multimodal.vocab import WordTokenizer
from llmpath_core import UserError


def test_spec_parses_counts_colours_shapes_and_plurals():
    scene = parse_spec("2 red circles, 1 large blue square and 1 yellow triangle", seed=3)
    assert scene.count("red", "circle") == 2
    assert scene.count("blue", "square") == 1 and scene.count(shape="triangle") == 1
    assert [o.size for o in scene.objects if o.shape == "square"] == ["large"]
    assert scene.caption() == "2 red circles and 1 blue square and 1 yellow triangle"
    assert len({o.cell for o in scene.objects}) == 4  # distinct cells


@pytest.mark.parametrize(
    "spec", ["6 red circle", "2 purple circle", "1 red hexagon", "red circle", ""]
)
def test_bad_specs_are_user_errors(spec):
    with pytest.raises(UserError):
        parse_spec(spec)


def test_render_puts_each_colour_at_its_object():
    scene = parse_spec("1 red circle, 1 green square, 1 blue triangle, 1 yellow square", seed=1)
    pixels = np.asarray(render(scene))
    for o in scene.objects:
        x, y = o.centre
        assert tuple(pixels[y + 1, x]) == COLOURS[o.colour]
    # the background elsewhere: the rendered area is what the objects cover, no more
    coloured = (np.abs(pixels.astype(int) - (245, 245, 240)).sum(-1) > 0).sum()
    assert 4 * 60 < coloured < 4 * 230


def test_answers_follow_the_scene_graph():
    rng = random.Random(0)
    for scene in sample_scenes(200, seed=0):
        for qa in questions(scene, rng, 3):
            words = qa.question.rstrip("?").split()
            if qa.kind == "count":
                assert int(qa.answer) == scene.count(words[2], words[3][:-1])
            elif qa.kind == "exists":
                assert (qa.answer == "yes") == (scene.count(words[3], words[4]) > 0)
            elif qa.kind == "colour":
                assert [o.colour for o in scene.objects if o.shape == words[4]] == [qa.answer]
            elif qa.kind == "left":
                a = next(o for o in scene.objects if (o.colour, o.shape) == (words[2], words[3]))
                b = next(o for o in scene.objects if (o.colour, o.shape) == (words[7], words[8]))
                assert (qa.answer == "yes") == (a.cell[1] < b.cell[1])
            WordTokenizer().encode(qa.question + " " + qa.answer)  # all in the vocabulary


def test_held_out_split_is_by_composition():
    train = sample_scenes(300, seed=0, held_out=False)
    test = sample_scenes(100, seed=1, held_out=True)
    assert not {s.composition() for s in train} & {s.composition() for s in test}
    share = np.mean([is_held_out(s) for s in sample_scenes(2000, seed=2)])
    assert 0.1 < share < 0.3


def test_tokenizer_round_trip_and_unknown_words():
    tok = WordTokenizer()
    assert tok.decode(tok.encode("How many RED circles?")) == "how many red circles ?"
    assert tok.encode("what color is the square?") == tok.encode("what colour is the square?")
    with pytest.raises(UserError, match="purple"):
        tok.encode("how many purple circles?")
