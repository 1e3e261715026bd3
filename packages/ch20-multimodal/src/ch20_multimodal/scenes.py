"""A generated scene world: coloured shapes on a 4 x 4 grid, their captions and questions.

Every image comes with its scene graph (objects with colour, shape, size and grid cell), so
captions ("2 red circles and 1 blue square") and question/answer pairs (counting, colour, shape,
existence, left/right) are exact by construction. Scenes are split by *composition* (the multiset
of (colour, shape) pairs): a held-out composition never appears in training, which is what the
zero-shot and VQA numbers are measured on.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from llmpath_core import UserError

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 70, 220),
    "yellow": (235, 200, 30),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
SIZES: dict[str, int] = {"small": 5, "large": 7}
GRID = 4  # a GRID x GRID board of cells
IMAGE_SIZE = 64
CELL = IMAGE_SIZE // GRID
MAX_OBJECTS = 5
BACKGROUND = (245, 245, 240)
NUMBERS = ("zero", "one", "two", "three", "four", "five")


@dataclass(frozen=True)
class SceneObject:
    """One shape: colour, shape, size name and grid cell (row, col)."""

    colour: str
    shape: str
    size: str
    cell: tuple[int, int]
    jitter: tuple[int, int] = (0, 0)

    @property
    def centre(self) -> tuple[int, int]:
        """Pixel centre (x, y) on an ``IMAGE_SIZE`` canvas."""
        row, col = self.cell
        return col * CELL + CELL // 2 + self.jitter[0], row * CELL + CELL // 2 + self.jitter[1]


@dataclass
class Scene:
    """A scene graph: up to ``MAX_OBJECTS`` objects in distinct cells."""

    objects: list[SceneObject] = field(default_factory=list)

    def count(self, colour: str | None = None, shape: str | None = None) -> int:
        """How many objects have this colour and/or shape."""
        return sum(
            1
            for o in self.objects
            if (colour is None or o.colour == colour) and (shape is None or o.shape == shape)
        )

    def composition(self) -> tuple[tuple[str, str, int], ...]:
        """The sorted multiset of (colour, shape, count): what the train/test split is keyed on."""
        groups: dict[tuple[str, str], int] = {}
        for o in self.objects:
            groups[(o.colour, o.shape)] = groups.get((o.colour, o.shape), 0) + 1
        return tuple(sorted((c, s, n) for (c, s), n in groups.items()))

    def caption(self) -> str:
        """``"2 red circles and 1 blue square"`` (groups in a fixed colour/shape order)."""
        order = {c: i for i, c in enumerate(COLOURS)} | {s: i for i, s in enumerate(SHAPES)}
        parts = []
        for colour, shape, n in sorted(
            self.composition(), key=lambda g: (order[g[0]], order[g[1]])
        ):
            parts.append(f"{n} {colour} {shape}{'s' if n > 1 else ''}")
        return " and ".join(parts) if parts else "nothing"


def is_held_out(scene: Scene, fraction: int = 5) -> bool:
    """True for the ~1/``fraction`` of compositions reserved for testing (a stable hash)."""
    key = repr(scene.composition()).encode()
    return int(hashlib.sha256(key).hexdigest(), 16) % fraction == 0


def random_scene(rng: random.Random, min_objects: int = 1, max_objects: int = MAX_OBJECTS) -> Scene:
    """A random scene with ``min_objects..max_objects`` objects in distinct cells."""
    n = rng.randint(min_objects, max_objects)
    cells = rng.sample([(r, c) for r in range(GRID) for c in range(GRID)], n)
    objects = [
        SceneObject(
            colour=rng.choice(list(COLOURS)),
            shape=rng.choice(SHAPES),
            size=rng.choice(list(SIZES)),
            cell=cell,
            jitter=(rng.randint(-1, 1), rng.randint(-1, 1)),
        )
        for cell in cells
    ]
    return Scene(objects)


def sample_scenes(n: int, seed: int, *, held_out: bool | None = None, **kwargs) -> list[Scene]:
    """``n`` random scenes; ``held_out=True/False`` keeps only test/train compositions."""
    rng = random.Random(seed)
    scenes: list[Scene] = []
    while len(scenes) < n:
        scene = random_scene(rng, **kwargs)
        if held_out is None or is_held_out(scene) == held_out:
            scenes.append(scene)
    return scenes


_SPEC_ITEM = re.compile(r"^\s*(\d+)\s+(?:(small|large)\s+)?([a-z]+)\s+([a-z]+)\s*$", re.I)


def parse_spec(spec: str, seed: int = 0) -> Scene:
    """Parse ``"2 red circle, 1 blue square"`` (optional ``small``/``large``) into a scene.

    Objects go into random distinct cells (seeded). Raises :class:`UserError` on an unknown
    colour or shape, a malformed item, or more than ``MAX_OBJECTS`` objects.
    """
    rng = random.Random(seed)
    wanted: list[tuple[str, str, str]] = []
    for item in filter(None, (part.strip() for part in re.split(r"[,;]|\band\b", spec))):
        match = _SPEC_ITEM.match(item)
        if not match:
            raise UserError(
                f"cannot parse {item!r}: write items like '2 red circle, 1 large blue square'"
            )
        n, size, colour, shape = match.groups()
        colour, shape = colour.lower(), shape.lower()
        if shape not in SHAPES and shape.endswith("s"):
            shape = shape[:-1]
        if colour not in COLOURS:
            raise UserError(f"unknown colour {colour!r}: use one of {', '.join(COLOURS)}")
        if shape not in SHAPES:
            raise UserError(f"unknown shape {shape!r}: use one of {', '.join(SHAPES)}")
        wanted += [(colour, shape, size.lower() if size else rng.choice(list(SIZES)))] * int(n)
    if not wanted:
        raise UserError("empty scene spec: write items like '2 red circle, 1 blue square'")
    if len(wanted) > MAX_OBJECTS:
        raise UserError(f"{len(wanted)} objects asked for; a scene holds at most {MAX_OBJECTS}")
    cells = rng.sample([(r, c) for r in range(GRID) for c in range(GRID)], len(wanted))
    return Scene(
        [
            SceneObject(c, s, z, cell, (rng.randint(-1, 1), rng.randint(-1, 1)))
            for (c, s, z), cell in zip(wanted, cells, strict=True)
        ]
    )


def render(scene: Scene, size: int = IMAGE_SIZE) -> Image.Image:
    """Draw the scene as an RGB image (``size`` x ``size``; drawn at 64 and scaled)."""
    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for o in scene.objects:
        x, y = o.centre
        r = SIZES[o.size]
        fill = COLOURS[o.colour]
        if o.shape == "circle":
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
        elif o.shape == "square":
            draw.rectangle((x - r, y - r, x + r, y + r), fill=fill)
        else:
            draw.polygon([(x, y - r - 1), (x - r - 1, y + r), (x + r + 1, y + r)], fill=fill)
    return image if size == IMAGE_SIZE else image.resize((size, size), Image.NEAREST)


def to_array(image: Image.Image) -> np.ndarray:
    """An image as a float32 CHW array in [-1, 1] at ``IMAGE_SIZE`` (the models' input)."""
    image = image.convert("RGB")
    if image.size != (IMAGE_SIZE, IMAGE_SIZE):
        image = image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BOX)
    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    return array.transpose(2, 0, 1).copy()


@dataclass(frozen=True)
class QA:
    """A question about a scene and its one-word answer."""

    question: str
    answer: str
    kind: str


def _plural(shape: str) -> str:
    return shape + "s"


def questions(scene: Scene, rng: random.Random, n: int = 4) -> list[QA]:
    """``n`` random questions with exact answers: count, colour, shape, exists, left-of."""
    out: list[QA] = []
    kinds = ["count", "count_colour", "count_shape", "colour", "shape", "exists", "left"]
    while len(out) < n:
        kind = rng.choice(kinds)
        colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
        if kind == "count":
            out.append(
                QA(f"how many {colour} {_plural(shape)}?", str(scene.count(colour, shape)), kind)
            )
        elif kind == "count_colour":
            out.append(QA(f"how many {colour} objects?", str(scene.count(colour=colour)), kind))
        elif kind == "count_shape":
            out.append(QA(f"how many {_plural(shape)}?", str(scene.count(shape=shape)), kind))
        elif kind == "exists":
            answer = "yes" if scene.count(colour, shape) else "no"
            out.append(QA(f"is there a {colour} {shape}?", answer, kind))
        elif kind == "colour":
            unique = [o for o in scene.objects if scene.count(shape=o.shape) == 1]
            if unique:
                o = rng.choice(unique)
                out.append(QA(f"what colour is the {o.shape}?", o.colour, kind))
        elif kind == "shape":
            unique = [o for o in scene.objects if scene.count(colour=o.colour) == 1]
            if unique:
                o = rng.choice(unique)
                out.append(QA(f"what shape is the {o.colour} object?", o.shape, kind))
        else:
            unique = [o for o in scene.objects if scene.count(o.colour, o.shape) == 1]
            pairs = [(a, b) for a in unique for b in unique if a.cell[1] != b.cell[1]]
            if pairs:
                a, b = rng.choice(pairs)
                answer = "yes" if a.cell[1] < b.cell[1] else "no"
                q = f"is the {a.colour} {a.shape} left of the {b.colour} {b.shape}?"
                out.append(QA(q, answer, kind))
    return out
