"""A deterministic synthetic "tiny stories" corpus, in the spirit of TinyStories (Eldan & Li, 2023).

Multi-paragraph children's stories in plain English, built from a large lexicon (hundreds of
names, animals, family members, objects with colours, materials and sizes, places, foods, jobs,
weather, days and times) and many plot generators (a lost thing, a trip with a packing list, a
shop with prices and change, a recipe, a lost pet, a race, a message to deliver, a garden, a
storm, a misunderstanding, a birthday, a school lesson, a mystery, a train journey, a trade, ...).

The stories are built to reward bigger models: characters keep their names and pronouns across
paragraphs, facts given early (a number of apples, a day, a place, a colour, a time) are recalled
or used in arithmetic several paragraphs later, and feelings follow events. Everything is
generated; no text is copied from anywhere.

The corpus is an endless stream: story ``i`` is generated from its own random generator seeded by
``(seed, i)``, so any prefix is reproducible. Each story belongs to the train, validation or test
split by a hash of its text (90/5/5), so identical stories always land in the same split and the
splits can never overlap.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterator
from typing import Any

DEFAULT_SEED = 1234
SPLITS = ("train", "validation", "test")
DEFAULT_CHARS = {"train": 1_000_000, "validation": 100_000, "test": 100_000}
VALIDATION_PERCENT = 5
TEST_PERCENT = 5

# ----------------------------------------------------------------------------------------------
# Lexicon
# ----------------------------------------------------------------------------------------------

_GIRLS = [
    "Lily",
    "Mia",
    "Sara",
    "Anna",
    "Zoe",
    "Ella",
    "Rosa",
    "Nina",
    "Lucy",
    "Maya",
    "Emma",
    "Olivia",
    "Ava",
    "Sophia",
    "Isabel",
    "Chloe",
    "Grace",
    "Hannah",
    "Ruby",
    "Ivy",
    "Alice",
    "Clara",
    "Daisy",
    "Eva",
    "Freya",
    "Gemma",
    "Hazel",
    "Iris",
    "Jade",
    "Kate",
    "Lara",
    "Lena",
    "Mila",
    "Nora",
    "Paula",
    "Rita",
    "Sofia",
    "Tara",
    "Una",
    "Vera",
    "Wendy",
    "Yara",
    "Zara",
    "Amira",
    "Bella",
    "Carmen",
    "Dina",
    "Esme",
    "Fatima",
    "Gloria",
    "Hana",
    "Ines",
    "Julia",
    "Kira",
    "Leila",
    "Mara",
    "Naomi",
    "Olga",
    "Priya",
    "Rania",
    "Selma",
    "Tess",
    "Uma",
    "Vicky",
    "Willa",
    "Xena",
    "Yumi",
    "Aisha",
    "Beth",
    "Cora",
    "Dora",
    "Elif",
    "Fern",
    "Greta",
    "Holly",
    "Imani",
    "Jenna",
    "Keiko",
    "Luna",
    "Maria",
    "Nadia",
    "Opal",
    "Petra",
    "Rosie",
    "Stella",
    "Tilly",
    "Ursula",
    "Violet",
    "Wren",
    "Amelia",
    "Bianca",
    "Celia",
    "Delia",
    "Edith",
    "Flora",
    "Gwen",
    "Heidi",
    "Ingrid",
    "Joy",
    "Kim",
    "Lotte",
    "Mabel",
    "Nell",
    "Penny",
    "Queenie",
    "Rhea",
    "Sadie",
    "Thea",
    "Ada",
    "Bonnie",
    "Ciara",
    "Dolly",
    "Erin",
    "Fiona",
    "Gina",
    "Helen",
    "Ilse",
    "Jana",
    "Kaya",
    "Lucia",
    "Matilda",
    "Noor",
    "Orla",
    "Pia",
    "Rina",
    "Suki",
    "Tamsin",
    "Agnes",
    "Beatrix",
    "Camille",
    "Dorothy",
    "Eliza",
    "Florence",
    "Georgia",
    "Harriet",
    "Isla",
    "Josephine",
    "Katya",
    "Lydia",
    "Miriam",
    "Nancy",
    "Ophelia",
    "Phoebe",
    "Rosalind",
    "Sylvia",
    "Tabitha",
    "Valentina",
    "Winifred",
    "Yasmin",
    "Zelda",
    "Alma",
    "Brenda",
    "Cecily",
    "Daphne",
    "Elsa",
    "Frida",
    "Harper",
    "Ida",
    "Juno",
    "Kitty",
    "Louise",
    "Magda",
    "Nell",
    "Odette",
    "Poppy",
    "Rhoda",
    "Sunita",
    "Talia",
    "Vivian",
    "Zainab",
    "Anya",
    "Bea",
    "Cleo",
    "Dalia",
    "Eden",
    "Faith",
    "Hope",
    "Iona",
    "Leah",
    "Mina",
    "Nika",
    "Pearl",
    "Rumi",
    "Sana",
    "Tove",
    "Wanda",
]
_BOYS = [
    "Tom",
    "Ben",
    "Max",
    "Sam",
    "Leo",
    "Jack",
    "Finn",
    "Omar",
    "Tim",
    "Noah",
    "Adam",
    "Ali",
    "Arlo",
    "Bruno",
    "Carl",
    "Dan",
    "Eli",
    "Ethan",
    "Felix",
    "Gabe",
    "Hugo",
    "Ian",
    "Igor",
    "Jonah",
    "Kai",
    "Liam",
    "Luca",
    "Mateo",
    "Nico",
    "Oscar",
    "Otto",
    "Pablo",
    "Paul",
    "Quinn",
    "Ravi",
    "Rory",
    "Simon",
    "Theo",
    "Toby",
    "Umar",
    "Victor",
    "Wes",
    "Yusuf",
    "Zack",
    "Abel",
    "Axel",
    "Basil",
    "Caleb",
    "Dev",
    "Emil",
    "Ezra",
    "Frank",
    "Gus",
    "Hamza",
    "Henry",
    "Isaac",
    "Ivan",
    "Jamal",
    "Jose",
    "Karl",
    "Kofi",
    "Lars",
    "Louis",
    "Malik",
    "Milo",
    "Ned",
    "Oliver",
    "Omari",
    "Pedro",
    "Rafi",
    "Ray",
    "Rex",
    "Seth",
    "Silas",
    "Tariq",
    "Teddy",
    "Vince",
    "Walter",
    "Will",
    "Yann",
    "Zeke",
    "Alfie",
    "Archie",
    "Billy",
    "Cyrus",
    "Dario",
    "Eddie",
    "Fred",
    "George",
    "Harry",
    "Idris",
    "Jasper",
    "Kit",
    "Lenny",
    "Marco",
    "Nate",
    "Olly",
    "Percy",
    "Rudy",
    "Stan",
    "Timo",
    "Vito",
    "Wally",
    "Yoshi",
    "Ahmed",
    "Boris",
    "Chen",
    "Dmitri",
    "Enzo",
    "Fabio",
    "Hans",
    "Joel",
    "Kenji",
    "Lucas",
    "Mika",
    "Niall",
    "Orson",
    "Peter",
    "Raj",
    "Sven",
    "Tobias",
    "Wyatt",
    "Albert",
    "Bernard",
    "Cedric",
    "Duncan",
    "Edgar",
    "Ferdinand",
    "Gideon",
    "Horace",
    "Ignatius",
    "Jerome",
    "Kasper",
    "Leopold",
    "Magnus",
    "Nestor",
    "Oswald",
    "Rupert",
    "Sebastian",
    "Thaddeus",
    "Ulrich",
    "Vernon",
    "Winston",
    "Ahmad",
    "Bilal",
    "Cosmo",
    "Dexter",
    "Elias",
    "Florian",
    "Gordon",
    "Hector",
    "Jago",
    "Kwame",
    "Lorenzo",
    "Moses",
    "Nils",
    "Otis",
    "Piers",
    "Reuben",
    "Samir",
    "Tristan",
    "Ulysses",
    "Vikram",
    "Zane",
    "Arjun",
    "Benji",
    "Colin",
    "Diego",
    "Emre",
    "Farid",
    "Hiro",
    "Jonas",
    "Kenzo",
    "Marius",
    "Nuno",
    "Rafael",
    "Stefan",
    "Tomas",
    "Yuri",
]
_THEY = [
    "Alex",
    "Sky",
    "Robin",
    "Charlie",
    "Jordan",
    "Kit",
    "Sasha",
    "Remy",
    "Noel",
    "Ari",
    "Sage",
    "Jules",
    "Rowan",
    "Ash",
    "Frankie",
    "Jesse",
    "River",
    "Emery",
    "Sol",
    "Briar",
    "Morgan",
    "Taylor",
    "Dakota",
    "Lumi",
    "Wynn",
]
_THEY = [n for n in _THEY if n not in _BOYS]

_ANIMALS = [
    "dog",
    "cat",
    "rabbit",
    "fox",
    "bear",
    "mouse",
    "frog",
    "duck",
    "owl",
    "hedgehog",
    "squirrel",
    "deer",
    "pig",
    "goat",
    "sheep",
    "cow",
    "horse",
    "donkey",
    "lamb",
    "puppy",
    "kitten",
    "turtle",
    "hamster",
    "parrot",
    "penguin",
    "otter",
    "badger",
    "beaver",
    "mole",
    "goose",
    "hen",
    "robin",
    "crow",
    "raccoon",
    "tortoise",
    "lizard",
    "elephant",
    "giraffe",
    "zebra",
    "lion",
    "tiger",
    "monkey",
    "panda",
    "koala",
    "kangaroo",
    "seal",
    "whale",
    "dolphin",
    "bee",
    "ladybug",
    "snail",
    "pony",
    "swan",
]
_PET_NAMES = [
    "Pip",
    "Spot",
    "Buddy",
    "Whiskers",
    "Fluffy",
    "Coco",
    "Sunny",
    "Bo",
    "Biscuit",
    "Pepper",
    "Button",
    "Noodle",
    "Pickles",
    "Muffin",
    "Ziggy",
    "Peanut",
    "Dot",
    "Bramble",
    "Clover",
    "Socks",
    "Toffee",
    "Mango",
    "Pebble",
    "Maple",
    "Nutmeg",
    "Waffle",
    "Jelly",
    "Scout",
    "Bean",
    "Patch",
    "Tango",
    "Gizmo",
    "Honey",
    "Rusty",
    "Sprout",
    "Olive",
    "Bubbles",
    "Nibbles",
    "Puddle",
    "Cookie",
    "Marble",
    "Ginger",
    "Hopper",
    "Tinker",
    "Fudge",
    "Squeak",
    "Poppy",
    "Domino",
    "Acorn",
    "Thistle",
    "Cricket",
    "Pumpkin",
    "Sparky",
    "Dusty",
    "Lucky",
    "Tuffy",
    "Snowball",
    "Barnaby",
    "Crumble",
    "Dumpling",
    "Flapjack",
    "Gumdrop",
    "Hazelnut",
    "Jellybean",
    "Kipper",
    "Lollipop",
    "Marmalade",
    "Nugget",
    "Pretzel",
    "Quibble",
    "Rascal",
    "Sherbet",
    "Truffle",
    "Velvet",
    "Widget",
    "Yodel",
    "Zippy",
    "Bramwell",
    "Custard",
    "Fidget",
    "Goblin",
    "Hiccup",
    "Inky",
    "Jasper",
    "Kiwi",
    "Lentil",
    "Mittens",
    "Nimbus",
    "Oreo",
    "Parsnip",
    "Radish",
    "Smudge",
    "Turnip",
    "Wobble",
]

_TRAITS = [
    "kind",
    "curious",
    "brave",
    "shy",
    "funny",
    "clever",
    "cheerful",
    "gentle",
    "busy",
    "careful",
    "quiet",
    "loud",
    "patient",
    "friendly",
    "helpful",
    "polite",
    "silly",
    "thoughtful",
    "playful",
    "truthful",
    "calm",
    "lively",
    "clumsy",
    "smart",
    "tidy",
    "messy",
    "proud",
    "sleepy",
    "bold",
    "sweet",
    "generous",
    "chatty",
    "cautious",
    "daring",
    "caring",
    "hardworking",
    "dreamy",
    "bright",
    "stubborn",
    "grumpy",
    "jolly",
    "modest",
    "eager",
]

_COLOURS = [
    "red",
    "blue",
    "green",
    "yellow",
    "orange",
    "purple",
    "pink",
    "white",
    "black",
    "brown",
    "grey",
    "silver",
    "golden",
    "gold",
    "violet",
    "navy",
    "teal",
    "crimson",
]
_MATERIALS = [
    "wooden",
    "plastic",
    "woollen",
    "glass",
    "paper",
    "metal",
    "leather",
    "cotton",
    "stone",
    "clay",
    "tin",
    "copper",
    "straw",
    "rubber",
    "velvet",
]
_SIZES = [
    "big",
    "small",
    "little",
    "tiny",
    "huge",
    "tall",
    "short",
    "long",
    "round",
    "heavy",
    "light",
    "old",
    "new",
    "shiny",
    "soft",
]

# (noun, plural, allowed materials or "" for any)
_OBJECTS = [
    "ball",
    "kite",
    "car",
    "key",
    "book",
    "hat",
    "boat",
    "blanket",
    "box",
    "train",
    "flower",
    "map",
    "cup",
    "spoon",
    "bowl",
    "doll",
    "robot",
    "drum",
    "whistle",
    "bell",
    "lamp",
    "torch",
    "umbrella",
    "scarf",
    "glove",
    "sock",
    "shoe",
    "boot",
    "coat",
    "jacket",
    "sweater",
    "bag",
    "basket",
    "bucket",
    "shovel",
    "rope",
    "ladder",
    "brush",
    "comb",
    "mirror",
    "clock",
    "watch",
    "ring",
    "necklace",
    "bracelet",
    "button",
    "ribbon",
    "crayon",
    "pencil",
    "pen",
    "notebook",
    "backpack",
    "bottle",
    "jar",
    "plate",
    "teapot",
    "kettle",
    "pillow",
    "quilt",
    "puzzle",
    "block",
    "marble",
    "shell",
    "feather",
    "stone",
    "leaf",
    "stick",
    "wagon",
    "bike",
    "scooter",
    "sled",
    "tent",
    "flag",
    "badge",
    "medal",
    "trophy",
    "coin",
    "wallet",
    "purse",
    "chest",
    "trunk",
    "wheel",
    "hammer",
    "saw",
    "bench",
    "chair",
    "table",
    "stool",
    "rug",
    "curtain",
    "vase",
    "candle",
    "lantern",
    "compass",
    "telescope",
    "camera",
    "radio",
    "guitar",
    "flute",
    "violin",
    "piano",
    "trumpet",
    "xylophone",
    "harmonica",
    "kazoo",
    "yo-yo",
    "top",
    "helmet",
    "mask",
    "crown",
    "wand",
    "sword",
    "shield",
    "net",
    "fishing-rod",
    "paintbrush",
    "envelope",
    "postcard",
    "sticker",
    "balloon",
    "spinner",
    "jigsaw",
    "mug",
    "napkin",
    "apron",
    "pinwheel",
    "rattle",
    "magnet",
    "sieve",
    "funnel",
    "whisk",
    "ladle",
    "thimble",
    "needle",
    "thread",
    "pin",
    "clip",
    "stapler",
    "ruler",
    "eraser",
    "sharpener",
    "glue",
    "tape",
    "scissors",
    "magnifier",
    "binoculars",
    "kaleidoscope",
    "snowglobe",
    "music-box",
    "piggy-bank",
    "keyring",
    "locket",
    "brooch",
    "hairband",
    "slipper",
    "sandal",
    "mitten",
    "beret",
    "bonnet",
    "cap",
    "hood",
    "cloak",
    "raincoat",
    "pouch",
    "satchel",
    "suitcase",
    "hammock",
    "cushion",
    "lunchbox",
    "thermos",
    "flask",
    "tray",
    "jug",
    "saucer",
    "fork",
    "knife",
    "skateboard",
    "frisbee",
    "hula-hoop",
    "skipping-rope",
    "tambourine",
    "accordion",
    "banjo",
    "cello",
    "harp",
]
_OBJECTS = sorted({o.replace("-", " ") for o in _OBJECTS})
_NO_MATERIAL = {"flower", "shell", "feather", "stone", "leaf", "stick", "balloon", "coin"}

# (preposition, place)
_PLACES = (
    [
        ("in", p)
        for p in [
            "park",
            "garden",
            "forest",
            "meadow",
            "kitchen",
            "library",
            "town",
            "village",
            "orchard",
            "field",
            "barn",
            "attic",
            "cellar",
            "bakery",
            "market",
            "school",
            "classroom",
            "playground",
            "museum",
            "zoo",
            "castle",
            "cave",
            "valley",
            "wood",
            "greenhouse",
            "workshop",
            "studio",
            "shed",
            "hall",
            "gym",
            "pool",
            "yard",
            "alley",
            "square",
            "station",
            "harbour",
        ]
    ]
    + [
        ("at", p)
        for p in [
            "beach",
            "farm",
            "lighthouse",
            "pond",
            "lake",
            "river",
            "bridge",
            "harbour",
            "mill",
            "bus-stop",
            "post-office",
            "fair",
            "circus",
            "cafe",
            "bookshop",
            "toyshop",
            "campsite",
            "windmill",
            "fountain",
            "dock",
            "pier",
            "swings",
            "treehouse",
            "farmhouse",
            "museum",
            "zoo",
            "cinema",
            "theatre",
            "hospital",
        ]
    ]
    + [
        ("on", p)
        for p in ["hill", "mountain", "island", "boat", "roof", "porch", "balcony", "hilltop"]
    ]
)
_PLACES = [(prep, p.replace("-", " ")) for prep, p in _PLACES]

_HIDING = [
    "under the bed",
    "behind the sofa",
    "in the laundry basket",
    "under a pile of leaves",
    "behind the shed",
    "inside an old boot",
    "under the kitchen table",
    "on top of the wardrobe",
    "in the flower pot",
    "beside the front door",
    "under the stairs",
    "inside the toy box",
    "behind the curtain",
    "in the coat pocket",
    "under the big oak tree",
    "next to the well",
    "in the wheelbarrow",
    "behind the bookshelf",
    "under a cushion",
    "in the tall grass",
    "inside the bread bin",
    "near the garden gate",
    "in the back of the car",
    "under the blue bench",
]

# countable foods: (singular, plural)
_FOODS = [
    (w, w + "s")
    for w in [
        "apple",
        "pear",
        "plum",
        "orange",
        "banana",
        "lemon",
        "peach",
        "apricot",
        "carrot",
        "potato-X",
        "tomato-X",
        "cookie",
        "muffin",
        "cupcake",
        "biscuit",
        "pancake",
        "bun",
        "roll",
        "sandwich",
        "pie",
        "tart",
        "egg",
        "nut",
        "walnut",
        "almond",
        "grape",
        "cherry",
        "strawberry-Y",
        "raspberry-Y",
        "blueberry-Y",
        "olive",
        "radish-E",
        "onion",
        "pepper",
        "cucumber",
        "sweet",
        "lollipop",
        "donut",
        "pretzel",
        "cracker",
        "waffle",
        "dumpling",
        "mango-E",
        "melon",
        "fig",
        "date",
    ]
]


def _fix_food(pair: tuple[str, str]) -> tuple[str, str]:
    word = pair[0]
    if word.endswith("-X") or word.endswith("-E"):
        base = word[:-2]
        return base, base + "es"
    if word.endswith("-Y"):
        base = word[:-2]
        return base, base[:-1] + "ies"
    return pair


_IRREGULAR = {"peach": "peaches", "sandwich": "sandwiches", "cherry": "cherries"}
_FOODS = [(w, _IRREGULAR.get(w, p)) for w, p in map(_fix_food, _FOODS)]
_FRUITS = [
    f
    for f in _FOODS
    if f[0] in ["apple", "pear", "plum", "orange", "peach", "apricot", "cherry", "fig"]
]

_DISHES = [
    "soup",
    "stew",
    "porridge",
    "salad",
    "pasta",
    "rice",
    "curry",
    "omelette",
    "pizza",
    "bread",
    "cake",
    "pudding",
    "jam",
    "honey",
    "cheese",
    "yogurt",
    "noodles",
]

_JOBS = [
    ("baker", "bakery", "bread"),
    ("farmer", "farm", "carrots"),
    ("fisher", "harbour", "fish"),
    ("teacher", "school", "books"),
    ("doctor", "hospital", "medicine"),
    ("painter", "studio", "paint"),
    ("builder", "yard", "bricks"),
    ("gardener", "greenhouse", "seeds"),
    ("librarian", "library", "books"),
    ("postman", "post office", "letters"),
    ("grocer", "market", "vegetables"),
    ("tailor", "workshop", "cloth"),
    ("carpenter", "workshop", "wood"),
    ("potter", "studio", "clay"),
    ("beekeeper", "orchard", "honey"),
    ("shepherd", "hill", "wool"),
    ("miller", "mill", "flour"),
    ("nurse", "hospital", "bandages"),
    ("vet", "clinic", "medicine"),
    ("cook", "cafe", "soup"),
    ("clockmaker", "workshop", "clocks"),
    ("toymaker", "toyshop", "toys"),
    ("keeper", "lighthouse", "lamps"),
    ("driver", "station", "tickets"),
]
_SURNAMES = [
    "Lee",
    "Gray",
    "Brown",
    "Green",
    "Park",
    "Stone",
    "Wood",
    "Hill",
    "Moss",
    "Reed",
    "Fox",
    "Bell",
    "Lane",
    "Marsh",
    "Rose",
    "Frost",
    "Vale",
    "Brook",
    "Field",
    "Birch",
    "Ash",
    "Penn",
    "Hart",
    "Lark",
    "Finch",
    "Oak",
    "Snow",
    "Cole",
    "Day",
    "Tan",
    "Baker",
    "Carter",
    "Fisher",
    "Miller",
    "Cooper",
    "Fletcher",
    "Mason",
    "Potter",
    "Shepherd",
    "Turner",
    "Walker",
    "Webb",
    "Young",
    "Hughes",
    "Khan",
    "Patel",
    "Singh",
    "Kowal",
    "Novak",
    "Silva",
    "Costa",
    "Rossi",
    "Berg",
    "Dahl",
    "Okafor",
    "Mensah",
    "Nakamura",
    "Sato",
    "Kim",
    "Nguyen",
    "Garcia",
    "Lopez",
    "Moreau",
    "Duval",
    "Schmidt",
    "Weber",
]

_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_SEASONS = {
    "spring": "the trees were full of blossom",
    "summer": "the days were long and warm",
    "autumn": "the leaves were turning red and gold",
    "winter": "the ponds were covered in ice",
}
_TIMES_OF_DAY = ["morning", "afternoon", "evening"]
_WEATHER = {
    "sunny": ["the sun was shining", "the sky was clear and blue"],
    "rainy": ["rain was tapping on the windows", "grey clouds filled the sky"],
    "windy": ["the wind was blowing hard", "the trees were bending in the wind"],
    "snowy": ["soft snow was falling", "everything was white with snow"],
    "foggy": ["a thick fog hid the hills", "the air was grey and damp"],
    "cloudy": ["big clouds drifted across the sky", "the sun hid behind the clouds"],
    "warm": ["the air was warm and still", "bees were buzzing in the flowers"],
    "cold": ["the air was cold and crisp", "everyone wore a warm coat"],
}
_OPENINGS = [
    "Once upon a time",
    "One day",
    "Long ago",
    "Not long ago",
    "A while ago",
    "In a little town by the sea",
    "In a small village near the hills",
    "In a busy city",
    "On a quiet farm",
    "At the edge of a big forest",
    "In a house with a red door",
    "Far away, beyond the mountains",
]
_NUM = [
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
_ORD = [
    "zeroth",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
]

_GOOD = ["happy", "glad", "delighted", "cheerful", "pleased", "overjoyed"]
_BAD = ["sad", "upset", "unhappy", "gloomy", "miserable"]
_WORRIED = ["worried", "nervous", "anxious", "scared", "afraid"]
_SAID = ["said", "replied", "answered"]
_MORALS = [
    "It is good to share with friends.",
    "Being kind makes everyone happy.",
    "Never give up when something is hard.",
    "Friends help each other.",
    "It is important to say sorry.",
    "Looking carefully helps you find things.",
    "It is better to ask than to guess.",
    "Good plans make hard jobs easy.",
    "Small things can make a big difference.",
    "Counting carefully saves a lot of trouble.",
    "Patience helps things grow.",
    "Telling the truth is always best.",
]
_ENDINGS = [
    "That night, {n} fell asleep with a big smile.",
    "It had been a very good day.",
    "And that is how the day ended, with everyone smiling.",
    "{N} never forgot that day.",
    "Later, {n} told the whole story to {p} family at dinner.",
    "From then on, it was one of {p} favourite memories.",
    "When the stars came out, {n} went home, tired and happy.",
]


_ACTIVITIES = """played hide and seek|built a sandcastle|drew pictures of boats|read a book about
dinosaurs|skipped stones on the water|picked wild flowers|flew a paper plane|climbed an old apple
tree|made a daisy chain|jumped in muddy puddles|counted the clouds|raced paper boats down the
stream|looked for beetles under logs|painted rocks with bright colours|sang silly songs|built a den
out of branches|played catch with a ball|fed the ducks some bread crumbs|watched the ants carry
leaves|rolled down the grassy slope|collected pine cones|made a snowman with a carrot nose|blew
bubbles in the breeze|played a game of marbles|practised cartwheels on the lawn|listened to the
birds sing|made masks out of paper plates|baked tiny clay pots in the sun|kicked a ball against
the wall|hunted for four-leaf clovers|wrote a secret code|planted sunflower seeds|knitted a scarf
for a teddy|swung on the rope swing|told jokes until everyone giggled|chased butterflies across
the field|built a tower of wooden blocks|played the drums on upturned buckets|made lemonade with
fresh lemons|drew a treasure map with chalk""".replace("\n", " ").split("|")
_ANIMAL_ACTIONS = """sleeping in the sun|hopping through the grass|swimming in circles|nibbling a
leaf|chasing its own tail|splashing in the water|building a nest|digging a little hole|
climbing a fence|hiding behind a bush|sniffing the flowers|rolling in the
mud|munching on some clover|waddling along the path|stretching after a nap|gathering nuts|
drinking from a puddle|watching everything with big eyes""".replace("\n", " ").split("|")
_SOUNDS = """buzzing bees|rustling leaves|chirping crickets|distant church bells|children laughing|
a dog barking far away|waves crashing on rocks|a train whistle|the creak of an old gate|rain
dripping from the gutters|a woodpecker tapping|the hum of a tractor""".replace("\n", " ").split("|")
_HOMES = """a little cottage with a blue door|a tall house on a hill|a flat above the bakery|a
farmhouse with a red barn|a houseboat on the canal|a small house near the station|a cabin in
the woods|a yellow house on a quiet street|an old mill by the river|a cosy flat with a balcony
full of plants""".replace("\n", " ").split("|")
_LUNCH = """sandwiches with cheese and pickles|warm tomato soup|a picnic of bread and apples|
noodles with peas|baked potatoes with butter|rice with beans|a big bowl of porridge|carrot
sticks and hummus|fish pie|vegetable stew with dumplings|crackers, cheese and grapes|pancakes
with honey""".replace("\n", " ").split("|")


_TREES = [
    "oak",
    "birch",
    "willow",
    "maple",
    "pine",
    "beech",
    "elm",
    "chestnut",
    "cherry",
    "apple",
    "ash",
    "cedar",
    "holly",
    "hazel",
    "poplar",
    "rowan",
    "spruce",
    "larch",
    "walnut",
    "plum",
]
_BLOOMS = [
    "daisies",
    "tulips",
    "roses",
    "poppies",
    "bluebells",
    "daffodils",
    "sunflowers",
    "violets",
    "buttercups",
    "lilies",
    "marigolds",
    "pansies",
    "snowdrops",
    "foxgloves",
    "lavender",
    "heather",
    "clover",
    "dandelions",
]
_BIRDS = [
    "sparrow",
    "blackbird",
    "robin",
    "wren",
    "magpie",
    "pigeon",
    "seagull",
    "heron",
    "kingfisher",
    "woodpecker",
    "swallow",
    "starling",
    "thrush",
    "finch",
    "jay",
    "owl",
    "kestrel",
    "duck",
    "goose",
    "swan",
]
_VEHICLES = [
    "tractor",
    "bus",
    "bicycle",
    "van",
    "lorry",
    "scooter",
    "taxi",
    "ambulance",
    "fire-engine",
    "motorbike",
    "delivery-truck",
    "ice-cream-van",
    "horse-and-cart",
]
_VEHICLES = [v.replace("-", " ") for v in _VEHICLES]
_HOBBIES = [
    "drawing",
    "dancing",
    "singing",
    "swimming",
    "knitting",
    "reading",
    "skating",
    "gardening",
    "juggling",
    "painting",
    "cooking",
    "climbing",
    "fishing",
    "sewing",
    "whistling",
    "skipping",
    "hopscotch",
    "origami",
    "chess",
    "birdwatching",
    "stargazing",
]


_INSECTS = [
    "beetle",
    "butterfly",
    "moth",
    "ladybird",
    "dragonfly",
    "grasshopper",
    "bumblebee",
    "caterpillar",
    "ant",
    "firefly",
    "cricket",
    "spider",
]
_CLOTHES = [
    "sleeve",
    "hat",
    "shoulder",
    "shoe",
    "scarf",
    "knee",
    "hand",
    "collar",
    "pocket",
    "backpack",
    "hood",
]
_VEG = [
    "cabbages",
    "turnips",
    "leeks",
    "beetroots",
    "parsnips",
    "onions",
    "potatoes",
    "carrots",
    "lettuces",
    "cauliflowers",
    "courgettes",
    "sprouts",
    "peas",
    "beans",
    "pumpkins",
    "marrows",
]


_JOB_ACTIONS = [
    ("baker", "kneading dough for the morning loaves"),
    ("fisher", "mending a torn net"),
    ("painter", "painting the railings a bright shade of green"),
    ("builder", "stacking bricks into a neat wall"),
    ("gardener", "trimming the hedges with big shears"),
    ("postman", "sorting letters into bundles"),
    ("grocer", "arranging lemons in a pyramid"),
    ("tailor", "sewing a button onto a waistcoat"),
    ("carpenter", "sanding a plank until it was smooth"),
    ("potter", "shaping a jug on a spinning wheel"),
    ("beekeeper", "checking the hives in a white veil"),
    ("shepherd", "counting sheep through a gate"),
    ("miller", "carrying sacks of flour"),
    ("nurse", "pushing a wheelchair along the ramp"),
    ("vet", "listening to a puppy's heartbeat"),
    ("cook", "stirring a giant pot of soup"),
    ("clockmaker", "winding a tall grandfather clock"),
    ("toymaker", "carving a little wooden horse"),
    ("street sweeper", "sweeping leaves into a pile"),
    ("window cleaner", "polishing the windows with a squeegee"),
    ("juggler", "juggling five oranges at once"),
    ("musician", "playing a cheerful tune on an accordion"),
    ("blacksmith", "hammering a horseshoe on an anvil"),
    ("florist", "tying tulips into bunches"),
    ("mechanic", "fixing a wobbly wheel"),
    ("librarian", "stamping the return dates in books"),
    ("plumber", "repairing a leaky pipe"),
    ("artist", "sketching the harbour with charcoal"),
]


def _clean(items: list[str]) -> list[str]:
    return [" ".join(i.split()) for i in items]


_TRAITS += [
    "gentle-hearted",
    "adventurous",
    "imaginative",
    "sensible",
    "cheeky",
    "wise",
    "giggly",
    "energetic",
    "fearless",
    "tender",
    "nosy",
    "restless",
    "considerate",
    "sporty",
    "artistic",
    "musical",
    "forgetful",
    "quick-witted",
    "soft-spoken",
    "sunny",
]
_COLOURS += [
    "lilac",
    "amber",
    "turquoise",
    "scarlet",
    "beige",
    "cream",
    "ivory",
    "maroon",
    "lime",
    "coral",
]
_HIDING += [
    "in the garden shed",
    "behind the rain barrel",
    "under the doormat",
    "inside a wellington boot",
    "on the windowsill",
    "in the sandpit",
    "under the hedge",
    "behind the compost heap",
    "inside the piano stool",
    "in the bathtub",
    "under a pile of washing",
    "behind the fridge",
    "inside the picnic hamper",
    "on the top shelf of the cupboard",
    "in the dog's basket",
    "under the car seat",
]
_SOUNDS += [
    "an owl hooting",
    "the ticking of a clock",
    "a kettle whistling",
    "the splash of oars",
    "frogs croaking by the pond",
    "a bicycle bell ringing",
    "geese honking overhead",
    "the crackle of a bonfire",
    "a lawnmower droning",
    "the patter of tiny feet",
]
_ACTIVITIES += [
    "fed carrots to the donkeys",
    "made a kite from newspaper",
    "looked at the stars through a telescope",
    "tidied the toy cupboard",
    "learned to whistle",
    "wove a basket from reeds",
    "plaited ribbons into a garland",
    "followed animal tracks in the mud",
    "built a bird feeder",
    "pressed flowers inside a heavy book",
    "practised magic tricks",
    "polished the old brass doorknob",
]
_ACTIVITIES, _ANIMAL_ACTIONS, _SOUNDS, _HOMES, _LUNCH = map(
    _clean, (_ACTIVITIES, _ANIMAL_ACTIONS, _SOUNDS, _HOMES, _LUNCH)
)


# Phrase-level variation applied to every finished story: each phrase on the left is replaced
# by one of its alternatives (itself included), so no plot's sentences repeat verbatim.
_SWAPS = {
    "In the afternoon, ": ["In the afternoon, ", "Later that day, ", "After lunch, "],
    "Soon ": ["Soon ", "Before long, ", "Not long after, "],
    "Then ": ["Then ", "After that, ", "Next, "],
    "Later, ": ["Later, ", "Afterwards, ", "Some time later, "],
    "At last, ": ["At last, ", "Finally, ", "In the end, "],
    "The next day, ": ["The next day, ", "The following day, ", "A day later, "],
    "Every morning, ": ["Every morning, ", "Each morning, ", "Every day at sunrise, "],
    "But ": ["But ", "However, "],
    "hurried to": ["hurried to", "ran to", "rushed to"],
    "smiled": ["smiled", "grinned", "beamed"],
    "laughed": ["laughed", "giggled", "chuckled"],
    "shouted": ["shouted", "called out", "yelled"],
    " came to help": [" came to help", " offered to help", " ran over to help"],
    "safe and sound": ["safe and sound", "happy and unhurt", "perfectly fine"],
    "Thunder boomed": ["Thunder boomed", "Thunder rumbled", "Thunder crashed"],
    "dark clouds rolled over the hills": [
        "dark clouds rolled over the hills",
        "the sky turned dark grey",
        "black clouds gathered above the rooftops",
    ],
    "the room was warm and golden": [
        "the room was warm and golden",
        "the room glowed softly",
        "shadows danced on the walls",
    ],
    "the sky was blue": ["the sky was blue", "the sun was out again", "the air smelled fresh"],
    "the rain came down hard": [
        "the rain came down hard",
        "the rain poured down",
        "the rain lashed the windows",
    ],
    "wanted to": ["wanted to", "hoped to", "decided to"],
    " very ": [" very ", " really ", " quite "],
    "a big smile": ["a big smile", "a happy smile", "a warm smile"],
    "Thank you": ["Thank you", "Thanks so much", "Thank you so much"],
    "thought about it": ["thought about it", "thought for a moment", "considered it"],
    "carefully": ["carefully", "slowly and carefully", "with great care"],
    "looked in the basket": ["looked in the basket", "peeked into the basket"],
    "came back": ["came back", "returned"],
    "was almost ready to give up": [
        "was almost ready to give up",
        "began to lose hope",
        "felt like giving up",
    ],
    "And there it was!": ["And there it was!", "And there it was, at last!"],
    "had a great time": ["had a great time", "had lots of fun"],
    "walked": ["walked", "strolled", "wandered"],
}
_SWAP_RE = re.compile("|".join(re.escape(k) for k in sorted(_SWAPS, key=len, reverse=True)))


def _num(k: int) -> str:
    return _NUM[k] if 0 <= k < len(_NUM) else str(k)


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def _list(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


# ----------------------------------------------------------------------------------------------
# Characters and story state
# ----------------------------------------------------------------------------------------------

_PRONOUNS = {
    "she": ("she", "her", "her", "herself", "was", "has", "is"),
    "he": ("he", "him", "his", "himself", "was", "has", "is"),
    "they": ("they", "them", "their", "themselves", "were", "have", "are"),
}


class _Char:
    def __init__(self, name: str, pronoun: str, kind: str, trait: str) -> None:
        self.name, self.pronoun, self.kind, self.trait = name, pronoun, kind, trait
        p = _PRONOUNS[pronoun]
        self.subj, self.obj, self.poss, self.refl, self.was, self.has, self.is_ = p
        self.Subj, self.Poss = p[0].capitalize(), p[2].capitalize()
        self.colour = ""

    def intro(self) -> str:
        return f"{_a(self.trait)} {self.kind} named {self.name}"


class _Story:
    def __init__(self, rng: random.Random, plot: str) -> None:
        self.rng = rng
        self.paras: list[str] = []
        self.cur: list[str] = []
        self.chars: list[_Char] = []
        self.taken: set[str] = set()
        self.facts: dict[str, Any] = {"plot": plot, "sums": [], "recall": []}

    def say(self, *sentences: str) -> None:
        self.cur.extend(sentences)

    def para(self) -> None:
        if self.cur:
            self.paras.append(" ".join(self.cur))
            self.cur = []

    def maybe_scene(self, c: _Char, p: float = 0.5) -> None:
        """Sometimes, a descriptive paragraph between a fact and its recall."""
        if self.rng.random() < p:
            self.para()
            self.scene(c, mid=True)

    def scene(self, c: _Char, mid: bool = False) -> None:
        """A descriptive paragraph that changes no facts: places, animals, sounds, food."""
        rng = self.rng
        prep, place = self.place()
        if mid:
            first = self.alt(
                f"Later, {c.name} went for a walk to the {place}.",
                f"After that, {c.name} sat for a while {prep} the {place}.",
                f"In the meantime, {c.name} had to run an errand to the {place}.",
                f"Then {c.name} went to the {place} for a while.",
            )
        else:
            first = self.alt(
                f"Earlier that day, {c.name} spent an hour {prep} the {place}.",
                f"That {self.pick(_TIMES_OF_DAY)}, {c.name} visited the {place}.",
                f"On the way, {c.name} went past the {place}.",
            )
        job, action = self.pick(_JOB_ACTIONS)
        sentences = [
            first,
            self.alt(
                f"There {c.subj} saw {_a(self.pick(_ANIMALS))} {self.pick(_ANIMAL_ACTIONS)}.",
                f"{_cap(_a(self.pick(_ANIMALS)))} was {self.pick(_ANIMAL_ACTIONS)} nearby.",
            ),
        ]
        if rng.random() < 0.5:
            sentences.append(
                self.alt(f"Nearby, {_a(job)} was {action}.", f"{_cap(_a(job))} was {action}.")
            )
        if rng.random() < 0.7:
            sentences.append(
                self.alt(
                    f"Tall {self.pick(_TREES)} trees grew there, and {self.pick(_BLOOMS)} "
                    "bloomed beside the path.",
                    f"{_cap(_a(self.pick(_BIRDS)))} sat on the branch of {_a(self.pick(_TREES))} "
                    "tree.",
                    f"{_cap(_a(self.pick(_VEHICLES)))} rattled past on the road.",
                    "The ground was covered with {} and {}.".format(*self.rng.sample(_BLOOMS, 2)),
                )
            )
        if rng.random() < 0.5:
            sentences.append(
                self.alt(
                    f"On a bench lay {_a(self.thing())}, but it belonged to someone else, so "
                    f"{c.name} left it there.",
                    f"In a shop window, {c.name} saw {_a(self.thing())} and {_a(self.thing())}.",
                    f"{_cap(_a(self.pick(_INSECTS)))} landed on {c.poss} {self.pick(_CLOTHES)}.",
                    f"A man was selling {self.pick(_VEG)} and {self.pick(_VEG)} from a cart.",
                )
            )
        if rng.random() < 0.6:
            sentences.append(
                self.alt(
                    f"{c.Subj} could hear {self.pick(_SOUNDS)}.",
                    f"Somewhere, {c.name} heard {self.pick(_SOUNDS)}.",
                )
            )
        if rng.random() < 0.6:
            sentences.append(
                self.alt(
                    f"For lunch, {c.name} had {self.pick(_LUNCH)}.",
                    f"Some children nearby {self.pick(_ACTIVITIES)}.",
                    f"{c.name} {self.pick(_ACTIVITIES)} and then moved on.",
                )
            )
        self.say(*sentences)
        self.para()

    def pick(self, seq):
        return self.rng.choice(seq)

    def alt(self, *options: str) -> str:
        return self.rng.choice(options)

    def child(self, animal: float = 0.0) -> _Char:
        rng = self.rng
        trait = rng.choice(_TRAITS)
        if rng.random() < animal:
            while True:
                name = rng.choice(_PET_NAMES)
                if name not in self.taken:
                    break
            c = _Char(name, rng.choice(("he", "she")), rng.choice(_ANIMALS), trait)
        else:
            r = rng.random()
            pool, pronoun, kind = (
                (_GIRLS, "she", "girl")
                if r < 0.46
                else (_BOYS, "he", "boy")
                if r < 0.92
                else (_THEY, "they", "child")
            )
            while True:
                name = rng.choice(pool)
                if name not in self.taken:
                    break
            c = _Char(name, pronoun, kind, trait)
        c.colour = rng.choice(_COLOURS[:10])
        self.taken.add(c.name)
        self.chars.append(c)
        return c

    def pet(self) -> _Char:
        while True:
            name = self.rng.choice(_PET_NAMES)
            if name not in self.taken:
                break
        species = self.pick(_ANIMALS[:30])
        c = _Char(name, self.alt("he", "she"), species, self.pick(_TRAITS))
        self.taken.add(name)
        self.chars.append(c)
        return c

    def relative(self) -> _Char:
        options = [("Grandma", "she"), ("Grandpa", "he"), ("Mom", "she"), ("Dad", "he")]
        options += [(f"Aunt {n}", "she") for n in ("Rosa", "May", "Lin", "Ruth", "Edna")]
        options += [(f"Uncle {n}", "he") for n in ("Bob", "Raj", "Joe", "Ted", "Ike")]
        while True:
            name, pronoun = self.pick(options)
            if name not in self.taken:
                break
        c = _Char(name, pronoun, "relative", self.pick(_TRAITS))
        self.taken.add(name)
        self.chars.append(c)
        return c

    def worker(self) -> tuple[_Char, tuple[str, str, str]]:
        job = self.pick(_JOBS)
        while True:
            pronoun = self.alt("she", "he")
            title = "Mrs" if pronoun == "she" else "Mr"
            name = f"{title} {self.pick(_SURNAMES)}"
            if name not in self.taken:
                break
        c = _Char(name, pronoun, job[0], self.pick(_TRAITS))
        self.taken.add(name)
        self.chars.append(c)
        return c, job

    def thing(self, plain: bool = False) -> str:
        noun = self.pick(_OBJECTS)
        if plain:
            return noun
        words = []
        r = self.rng.random()
        if r < 0.3:
            words.append(self.pick(_SIZES))
        words.append(self.pick(_COLOURS))
        if noun not in _NO_MATERIAL and self.rng.random() < 0.4:
            words.append(self.pick(_MATERIALS))
        return " ".join([*words, noun])

    def place(self) -> tuple[str, str]:
        return self.pick(_PLACES)

    def sum_fact(self, start: int, deltas: list[int], stated: int) -> None:
        self.facts["sums"].append((start, list(deltas), stated))

    def text(self) -> str:
        self.para()
        rng = self.rng

        def swap(m: re.Match) -> str:
            return rng.choice(_SWAPS[m.group(0)])

        return _SWAP_RE.sub(swap, "\n\n".join(self.paras))


_SEASON_WEATHER = {
    "spring": ["sunny", "rainy", "windy", "cloudy", "foggy", "warm"],
    "summer": ["sunny", "warm", "cloudy", "rainy", "windy"],
    "autumn": ["windy", "rainy", "foggy", "cloudy", "cold", "sunny"],
    "winter": ["snowy", "cold", "foggy", "cloudy", "windy"],
}


def _intro(s: _Story, hero: _Char, others: list[_Char]) -> None:
    rng = s.rng
    season = s.pick(list(_SEASONS))
    weather = s.pick(_SEASON_WEATHER[season])
    opening = s.pick(_OPENINGS)
    if rng.random() < 0.5:
        s.say(f"{opening}, there lived {hero.intro()}.")
    else:
        s.say(
            s.alt(
                f"{opening}, there was {_a(hero.trait)} {hero.kind} called {hero.name}.",
                f"{opening}, you could meet {_a(hero.trait)} {hero.kind} called {hero.name}.",
            )
        )
    s.say(
        s.alt(
            f"{hero.Poss} favourite colour was {hero.colour}.",
            f"{hero.name} loved anything {hero.colour}, because {hero.colour} was "
            f"{hero.poss} favourite colour.",
            f"Everyone knew that {hero.name} liked the colour {hero.colour} best.",
        )
    )
    s.say(
        s.alt(
            f"It was {season}, and {_SEASONS[season]}.",
            f"It was a {weather} day in {season}, and {s.pick(_WEATHER[weather])}.",
            f"Outside, {s.pick(_WEATHER[weather])}.",
        )
    )
    if rng.random() < 0.6:
        job = s.pick(_JOBS)
        s.say(
            s.alt(
                f"{hero.name} lived with {hero.poss} family in {s.pick(_HOMES)}.",
                f"{hero.Poss} home was {s.pick(_HOMES)}.",
            ),
            s.alt(
                f"{hero.Poss} {s.alt('mother', 'father')} was {_a(job[0])} and worked at the "
                f"{job[1]}.",
                f"Last week, {hero.name} {s.pick(_ACTIVITIES)}.",
                f"{hero.Subj} liked the sound of {s.pick(_SOUNDS)}.",
                f"{hero.Poss} favourite hobby was {s.pick(_HOBBIES)}.",
                f"{hero.name} was very good at {s.pick(_HOBBIES)}.",
            ),
        )
    for o in others:
        if o.kind == "relative":
            if o.name in ("Mom", "Dad"):
                s.say(f"{o.name} was {o.trait} and always busy.")
            else:
                s.say(
                    s.alt(
                        f"{hero.name} often visited {o.name}, who was very {o.trait}.",
                        f"{o.name} lived close by and was always {o.trait}.",
                    )
                )
        elif o.kind in ("girl", "boy", "child"):
            s.say(
                s.alt(
                    f"{hero.name}'s best friend was {o.intro()}.",
                    f"{hero.name} had a friend called {o.name}, who was {o.trait}.",
                    f"Next door lived {o.intro()}.",
                )
            )
        elif o.kind in _ANIMALS:
            s.say(
                s.alt(
                    f"{hero.name} had a pet {o.kind} named {o.name}.",
                    f"{o.name} was {_a(o.trait)} {o.kind} who lived with {hero.name}.",
                )
            )
    s.para()
    if rng.random() < 0.7:
        s.scene(hero)


def _ending(s: _Story, hero: _Char) -> None:
    if s.rng.random() < 0.5:
        s.say(s.pick(_ENDINGS).format(n=hero.name, N=hero.name, p=hero.poss))
    if s.rng.random() < 0.5:
        s.say(s.alt("The lesson was simple.", f"{hero.name} learned something that day."))
        s.say(s.pick(_MORALS))
    s.say("The end.")


def _feel(s: _Story, c: _Char, mood: list[str], why: str) -> str:
    return s.alt(
        f"{c.name} {c.was} {s.pick(mood)} because {why}.",
        f"Because {why}, {c.name} felt {s.pick(mood)}.",
    )


# ----------------------------------------------------------------------------------------------
# Plots
# ----------------------------------------------------------------------------------------------


def _plot_lost_and_found(s: _Story) -> _Char:
    hero = s.child()
    friend = s.child(animal=0.3)
    _intro(s, hero, [friend])
    fav = s.rng.random() < 0.5
    thing = f"{hero.colour} {s.thing(plain=True)}" if fav else s.thing()
    giver = s.pick(["grandmother", "uncle", "teacher", "aunt", "grandfather", "cousin"])
    day = s.pick(_DAYS)
    s.say(
        f"On {day}, {hero.name} got {_a(thing)} from {hero.poss} {giver}.",
        s.alt(
            f"{hero.Subj} carried it everywhere.",
            f"{hero.Subj} took it to bed every night.",
            f"{hero.Subj} showed it to everyone.",
        ),
    )
    s.para()
    spots = s.rng.sample(_HIDING, 3)
    where_lost = s.place()
    s.say(
        f"But one morning, the {thing} was gone.",
        _feel(s, hero, _BAD, f"{hero.subj} could not find the {thing}"),
        f'"Where is my {thing}?" {hero.name} cried. '
        f'"I had it {where_lost[0]} the {where_lost[1]}."',
        f"{friend.name} came to help.",
        f'"Let\'s look {spots[0]} first," said {friend.name}.',
    )
    s.para()
    s.say(
        f"They looked {spots[0]}, but it was not there.",
        f"Then they looked {spots[1]}, but there was only dust.",
        f"{hero.name} was almost ready to give up.",
        f'"One more place," {friend.name} said. "What about {spots[2]}?"',
    )
    s.para()
    s.say(
        f"And there it was! The {thing} was {spots[2]}.",
        _feel(s, hero, _GOOD, f"{hero.subj} had found {hero.poss} {thing} again"),
        f'{hero.name} hugged {friend.name} and said, "Thank you for helping me!"',
    )
    s.para()
    s.maybe_scene(hero)
    s.say(
        f'Later, {hero.poss} {giver} asked, "Where did you find it?"',
        f'"It was {spots[2]}," {hero.name} {s.pick(_SAID)}. '
        f'"We looked {spots[0]} and {spots[1]} first."',
        f'"And who gave it to you?" asked {friend.name} with a smile.',
        f'"My {giver} did, on {day}," said {hero.name}.',
    )
    if fav:
        s.say(
            f'"I love it because it is {hero.colour}," {hero.name} added. "That is my '
            f'favourite colour."'
        )
    s.facts["recall"].append(("day", day))
    return hero


def _plot_packing_trip(s: _Story) -> _Char:
    hero = s.child()
    parent = s.relative()
    _intro(s, hero, [parent])
    dest = s.pick(
        ["the beach", "the mountains", "the lake", "the island", "the forest", "the farm"]
    )
    day = s.pick(_DAYS)
    items = [s.thing(plain=False) for _ in range(s.rng.randint(4, 6))]
    items = list(dict.fromkeys(items))
    s.say(
        f'"On {day} we are going to {dest}," said {parent.name}. "Let\'s make a list."',
        f"{hero.name} wrote the list carefully. It said: {_list(['the ' + i for i in items])}.",
        f"There were {_num(len(items))} things on the list.",
    )
    s.para()
    forgotten = s.pick(items)
    packed = [i for i in items if i != forgotten]
    s.say(
        f"{hero.name} packed the bag one thing at a time.",
        f"{hero.Subj} put in the {_list(packed)}.",
        s.alt(
            f"Then {parent.name} called {hero.name} for breakfast, and {hero.name} forgot "
            "the rest.",
            f"Just then the phone rang, and {hero.name} forgot to finish.",
        ),
    )
    s.para()
    s.maybe_scene(hero)
    s.say(
        f"On {day}, they arrived at {dest}.",
        f"{hero.name} opened the bag and counted. There were only {_num(len(packed))} things.",
        f'"Oh no," said {hero.name}. "The list had {_num(len(items))} things. One is missing!"',
        f'"Which one?" asked {parent.name}.',
        f'{hero.name} read the list again. "The {forgotten}! I forgot the {forgotten}."',
    )
    s.sum_fact(len(items), [-1], len(packed))
    s.para()
    s.say(
        _feel(s, hero, _BAD, f"{hero.subj} had forgotten the {forgotten}"),
        f'But {parent.name} smiled and said, "We can share. Next time, tick each thing '
        f'on the list."',
        f"{hero.name} nodded, and soon {hero.subj} {hero.was} happy again.",
    )
    s.facts["recall"].append(("forgotten", forgotten))
    return hero


def _plot_shop(s: _Story) -> _Char:
    hero = s.child()
    keeper, _ = s.worker()
    keeper.kind = "shopkeeper"
    _intro(s, hero, [])
    coins = s.rng.randint(8, 20)
    shop = s.pick(["market", "corner shop", "farm shop", "village shop", "grocer's shop"])
    s.say(
        f"{hero.name} had {_num(coins)} coins in {hero.poss} pocket.",
        f"{hero.name} went to the {shop}, where {keeper.name} the {keeper.kind} worked.",
        f'"Good {s.pick(_TIMES_OF_DAY)}, {hero.name}," said {keeper.name}.',
    )
    s.para()
    foods = s.rng.sample(_FOODS, 2)
    n1, n2 = s.rng.randint(1, 4), s.rng.randint(1, 3)
    p1, p2 = s.rng.randint(1, 3), s.rng.randint(1, 3)
    while n1 * p1 + n2 * p2 > coins:
        n1, n2 = max(1, n1 - 1), max(1, n2 - 1)
        if n1 == 1 and n2 == 1 and p1 + p2 > coins:
            p1 = p2 = 1
    f1 = foods[0][1] if n1 > 1 else foods[0][0]
    f2 = foods[1][1] if n2 > 1 else foods[1][0]
    s.say(
        f'"How much is one {foods[0][0]}?" asked {hero.name}.',
        f'"One {foods[0][0]} costs {_num(p1)} coin{"s" if p1 > 1 else ""}," '
        f"{keeper.name} {s.pick(_SAID)}.",
        f'"And one {foods[1][0]}?"',
        f'"{_cap(_num(p2))} coin{"s" if p2 > 1 else ""}."',
        f"{hero.name} asked for {_num(n1)} {f1} and {_num(n2)} {f2}.",
    )
    s.para()
    t1, t2 = n1 * p1, n2 * p2
    total = t1 + t2
    change = coins - total
    s.say(
        f'{keeper.name} counted. "{_cap(_num(n1))} {f1} cost {_num(t1)} coins'
        if t1 != 1
        else f'{keeper.name} counted. "One {f1} costs one coin',
    )
    s.cur[-1] += f", and {_num(n2)} {f2} cost{'s' if n2 == 1 else ''} {_num(t2)}."
    s.say(f'That makes {_num(total)} coins in all."')
    s.say(
        f"{hero.name} gave {keeper.name} all {_num(coins)} coins.",
        f"{keeper.name} gave {hero.name} {_num(change)} coin{'s' if change > 1 else ''} back."
        if change
        else "There was nothing left over.",
    )
    s.sum_fact(coins, [-t1, -t2], change)
    s.para()
    s.maybe_scene(hero)
    s.say(
        f'At home, {s.pick(["Mom", "Dad", "Grandma", "Grandpa"])} asked, "How many coins do '
        f'you have left?"',
        f'"{_cap(_num(change))}," {hero.name} {s.pick(_SAID)}. "I had {_num(coins)}, and I '
        f'spent {_num(total)}."',
    )
    return hero


def _plot_recipe(s: _Story) -> _Char:
    hero = s.child()
    cook = s.relative()
    _intro(s, hero, [cook])
    dish = s.pick(["pancakes", "a cake", "muffins", "cookies", "bread", "a pie", "soup", "a stew"])
    eggs, cups, spoons, minutes = (
        s.rng.randint(2, 6),
        s.rng.randint(1, 4),
        s.rng.randint(1, 5),
        s.pick([10, 15, 20, 25, 30, 40]),
    )
    extra = s.pick(_FRUITS)
    n_extra = s.rng.randint(3, 9)
    s.say(
        f'"Shall we make {dish}?" asked {cook.name}.',
        f'"Yes, please!" said {hero.name}.',
        f"{cook.name} read the recipe out loud: {_num(eggs)} eggs, {_num(cups)} cup"
        f"{'s' if cups > 1 else ''} of flour, {_num(spoons)} spoon{'s' if spoons > 1 else ''} "
        f"of sugar and {_num(n_extra)} {extra[1]}.",
    )
    s.para()
    s.say(
        f"{hero.name} cracked the eggs one by one and counted: "
        + ", ".join(_num(i) for i in range(1, eggs + 1))
        + ".",
        f"Then {hero.subj} added the flour and the sugar.",
        f'"How many {extra[1]} do we need?" asked {hero.name}.',
        f'"{_cap(_num(n_extra))}," said {cook.name}.',
    )
    ate = s.rng.randint(1, 2)
    s.say(
        f"But {hero.name} was hungry and ate {_num(ate)} of the {extra[1]}.",
        f"So {hero.subj} had to fetch {_num(ate)} more to make {_num(n_extra)} again.",
    )
    s.sum_fact(n_extra, [-ate, ate], n_extra)
    s.para()
    s.say(
        f"They baked it for {_num(minutes) if minutes <= 20 else str(minutes)} minutes.",
        s.alt(
            "The kitchen smelled sweet and warm.",
            "Soon the whole house smelled wonderful.",
        ),
        f"When it was ready, {hero.name} felt proud.",
    )
    s.para()
    s.maybe_scene(hero)
    friend = s.child()
    s.say(
        f"Later, {friend.name} came to visit and tasted it.",
        f'"This is great! How many eggs did you use?" asked {friend.name}.',
        f'"{_cap(_num(eggs))} eggs and {_num(cups)} cup{"s" if cups > 1 else ""} of flour," '
        f"said {hero.name}.",
    )
    s.facts["recall"].append(("eggs", eggs))
    return hero


def _plot_lost_pet(s: _Story) -> _Char:
    hero = s.child()
    pet = s.pet()
    neighbour, _ = s.worker()
    _intro(s, hero, [pet])
    places = s.rng.sample(_PLACES, 4)
    found = places[3]
    s.say(
        f"One {s.pick(_TIMES_OF_DAY)}, {pet.name} did not come home.",
        f"{hero.name} called and called, but {pet.name} did not answer.",
        _feel(s, hero, _WORRIED, f"{pet.name} was missing"),
    )
    s.para()
    for i, (prep, place) in enumerate(places[:3]):
        s.say(
            s.alt(
                f"{('First', 'Then', 'After that')[i]}, {hero.name} looked {prep} the {place}.",
                f"{('First', 'Next', 'Then')[i]}, {hero.name} ran to the {place} and searched.",
                f"{('First', 'Next', 'Last')[i]}, {hero.name} checked {prep} the {place}.",
            ),
            s.alt(
                f"{pet.name} was not there.",
                "There was no sign of the little " + pet.kind + ".",
                "But the place was empty.",
            ),
        )
    s.para()
    s.say(
        f"Then {hero.name} met {neighbour.name} the {neighbour.kind}.",
        f'"Have you seen a {pet.kind} called {pet.name}?" asked {hero.name}.',
        f'"Yes," said {neighbour.name}. "I saw a {pet.kind} running towards the {found[1]}."',
    )
    s.para()
    s.say(
        f"{hero.name} hurried to the {found[1]}, and there was {pet.name}!",
        f"{pet.name} was sitting {found[0]} the {found[1]}, safe and sound.",
        _feel(s, hero, _GOOD, f"{pet.name} was safe"),
    )
    s.para()
    s.maybe_scene(hero)
    s.say(
        f'At home, {hero.poss} family asked, "Where was {pet.name}?"',
        f'"{_cap(found[0])} the {found[1]}," said {hero.name}. "I looked {places[0][0]} the '
        f"{places[0][1]}, {places[1][0]} the {places[1][1]} and {places[2][0]} the "
        f'{places[2][1]} first. {neighbour.name} helped me."',
        f"That night, {pet.name} slept at the end of {hero.name}'s bed.",
    )
    s.facts["recall"].append(("found", found[1]))
    return hero


def _plot_race(s: _Story) -> _Char:
    hero = s.child()
    racers = [hero] + [s.child(animal=0.4) for _ in range(s.rng.randint(2, 3))]
    _intro(s, hero, racers[1:2])
    place = s.place()
    s.say(
        f"There was a race {place[0]} the {place[1]}.",
        f"The runners were {_list([r.name for r in racers])}.",
        f"That made {_num(len(racers))} runners in all.",
    )
    order = racers[:]
    s.rng.shuffle(order)
    s.para()
    s.say('"Ready, steady, go!" shouted the judge.')
    for i, r in enumerate(order):
        s.say(
            f"{r.name} crossed the line {_ORD[i + 1]}."
            if i
            else f"{r.name} was the fastest and crossed the line first."
        )
    s.para()
    pos = order.index(hero) + 1
    if pos == 1:
        s.say(_feel(s, hero, _GOOD, f"{hero.subj} had won the race"))
    else:
        s.say(
            _feel(s, hero, _BAD, f"{hero.subj} had not won"),
            f'But {order[0].name} came over and said, "You ran very well, {hero.name}."',
            f"{hero.name} smiled, and soon {hero.subj} felt better.",
        )
    s.para()
    q = s.rng.randint(1, len(order))
    s.maybe_scene(hero)
    s.say(
        f'At dinner, {hero.poss} dad asked, "Who came {_ORD[q]}?"',
        f'"{order[q - 1].name} came {_ORD[q]}," said {hero.name}. "And I came {_ORD[pos]}."',
        f'"How many ran?"  "{_cap(_num(len(racers)))}," said {hero.name}.',
    )
    s.cur[-1] = s.cur[-1].replace("  ", " ")
    s.facts["recall"].append(("place", q, order[q - 1].name))
    return hero


def _plot_gift_and_note(s: _Story) -> _Char:
    hero = s.child()
    gran = s.relative()
    f1, f2 = s.child(animal=0.3), s.child()
    _intro(s, hero, [gran])
    fruit = s.pick(_FRUITS)
    colour = s.pick(["ripe", "juicy", "fresh", "sweet", "shiny", "big"])
    n = s.rng.randint(5, 14)
    day = s.pick(_DAYS)
    place = s.place()
    hour = s.rng.randint(1, 8)
    s.say(
        f"{gran.name} gave {hero.name} {_num(n)} {colour} {fruit[1]} and a note.",
        f"The note said that the party was on {day} {place[0]} the {place[1]} at "
        f"{_num(hour)} o'clock.",
        f"{hero.name} put the note in {hero.poss} pocket.",
    )
    s.para()
    g1 = s.rng.randint(1, 3)
    g2 = s.rng.randint(1, min(3, n - g1 - 1))
    s.say(
        f"On the way home, {hero.name} met {f1.name}.",
        f"{hero.name} gave {_num(g1)} {fruit[1] if g1 > 1 else fruit[0]} to {f1.name}.",
        f'"Thank you!" said {f1.name}.',
        f"Then {hero.name} saw {f2.name}, who looked hungry.",
        f"{hero.name} gave {_num(g2)} {fruit[1] if g2 > 1 else fruit[0]} to {f2.name} too.",
    )
    s.para()
    left = n - g1 - g2
    s.say(
        s.alt(
            f"At home, {hero.name} counted the {fruit[1]}.",
            f"{hero.name} looked in the basket.",
        ),
        f"How many {fruit[1]} were left? {hero.name} had {_num(n)}, and "
        f"{hero.subj} had given {_num(g1)} to {f1.name} and {_num(g2)} to {f2.name}, so "
        f"{_num(left)} {fruit[1] if left != 1 else fruit[0]} "
        f"{'were' if left != 1 else 'was'} left.",
    )
    s.sum_fact(n, [-g1, -g2], left)
    s.para()
    s.maybe_scene(hero)
    s.say(
        f'Then {hero.name} read the note again. "Where is the party?" asked {f1.name}.',
        f'"{_cap(place[0])} the {place[1]}, on {day} at {_num(hour)} o\'clock," said {hero.name}.',
        f"On {day}, they all went to the {place[1]}, and {hero.name} shared the last "
        f"{_num(left) + ' ' + fruit[1] if left > 1 else fruit[0]} with everyone.",
    )
    s.facts["recall"].append(("party", day, place[1], hour))
    return hero


_GROWN = {
    "sunflower": "tall sunflowers",
    "tulip": "bright tulips",
    "daisy": "white daisies",
    "rose": "sweet-smelling roses",
    "bean": "climbing beans",
    "pumpkin": "fat orange pumpkins",
    "tomato": "red tomatoes",
    "pea": "green pea pods",
}


def _plot_garden(s: _Story) -> _Char:
    hero = s.child()
    helper = s.relative()
    _intro(s, hero, [helper])
    seeds = s.rng.randint(6, 12)
    flower = s.pick(["sunflower", "tulip", "daisy", "rose", "bean", "pumpkin", "tomato", "pea"])
    start = s.rng.randint(0, 3)
    s.say(
        f"On {_DAYS[start]}, {helper.name} gave {hero.name} {_num(seeds)} {flower} seeds.",
        f"{hero.name} planted them in a row and watered them.",
    )
    s.para()
    sprouted = 0
    steps = []
    for d in range(1, 4):
        day = _DAYS[start + d]
        w = s.alt("rainy", "sunny", "cloudy")
        new = s.rng.randint(1, max(1, (seeds - sprouted) // 2))
        sprouted += new
        steps.append(new)
        s.say(
            f"On {day} it was {w}.",
            f"{_cap(_num(new))} little green shoot{'s' if new > 1 else ''} came up.",
        )
    s.sum_fact(0, steps, sprouted)
    s.say(f"Now {_num(sprouted)} seeds had sprouted.")
    s.para()
    rest = seeds - sprouted
    s.say(
        f'"What about the other {_num(rest)}?" asked {hero.name}.' if rest else "",
        f'"Be patient," said {helper.name}.' if rest else "Every seed had sprouted!",
    )
    s.cur = [c for c in s.cur if c]
    s.para()
    s.maybe_scene(hero)
    s.say(
        f"Weeks later, the garden was full of {_GROWN[flower]}.",
        f'"When did we plant them?" asked {helper.name}.',
        f'"On {_DAYS[start]}!" said {hero.name}. "And I planted {_num(seeds)} seeds."',
        _feel(s, hero, _GOOD, f"{hero.poss} garden had grown"),
    )
    s.facts["recall"].append(("planted", _DAYS[start]))
    return hero


def _plot_storm(s: _Story) -> _Char:
    hero = s.child()
    parent = s.relative()
    pet = s.pet()
    _intro(s, hero, [parent, pet])
    candles = s.rng.randint(3, 8)
    s.say(
        "In the afternoon, dark clouds rolled over the hills.",
        f'"A storm is coming," said {parent.name}. "Let\'s get ready."',
        f"{hero.name} found {_num(candles)} candles and a torch.",
        f"{parent.name} closed the windows and brought {pet.name} inside.",
    )
    s.para()
    s.say(
        "Soon the wind howled and the rain came down hard.",
        "Thunder boomed and the lights went out.",
        _feel(s, hero, _WORRIED, "the thunder was so loud"),
        f"{pet.name} hid under the table.",
    )
    used = s.rng.randint(1, candles - 1)
    s.say(
        f"{parent.name} lit {_num(used)} of the candles, and the room was warm and golden.",
        f'"How many candles are left in the box?" asked {parent.name}.',
        f'"{_cap(_num(candles - used))}," said {hero.name}, after counting.',
    )
    s.sum_fact(candles, [-used], candles - used)
    s.para()
    broken = s.pick(["the fence", "the gate", "the shed door", "a flower pot", "the old swing"])
    s.say(
        "In the morning, the storm was over and the sky was blue.",
        f"The wind had broken {broken}, but everyone was safe.",
        f"{hero.name} and {parent.name} fixed it together.",
        _feel(s, hero, _GOOD, "the storm had passed"),
    )
    return hero


def _plot_misunderstanding(s: _Story) -> _Char:
    hero = s.child()
    friend = s.child()
    _intro(s, hero, [friend])
    thing = s.thing()
    day = s.pick(_DAYS)
    s.say(
        f"On {day}, {hero.name} heard {friend.name} whisper to someone, "
        f'"I don\'t want {hero.name} to know."',
        f"{hero.name} thought {friend.name} did not like {hero.obj} anymore.",
        _feel(s, hero, _BAD, f"{hero.subj} thought {hero.poss} friend had a secret from them"),
    )
    s.cur[-1] = s.cur[-1].replace("from them", f"from {hero.obj}")
    s.para()
    s.say(
        f"All day, {hero.name} stayed away from {friend.name}.",
        f'{friend.name} asked, "Why are you so quiet?"',
        f'"Nothing," said {hero.name}, but it was not true.',
    )
    s.para()
    s.say(
        f"The next day, {friend.name} came to {hero.name}'s door with a box.",
        f'"Surprise!" said {friend.name}. Inside was {_a(thing)}.',
        '"I made it for you. That was the secret. I didn\'t want you to know before today."',
        f"{hero.name} laughed. {hero.Subj} had been wrong!",
    )
    s.para()
    s.say(
        f'"I\'m sorry," said {hero.name}. "I heard you on {day} and I thought you were cross '
        f'with me."',
        f'"Next time, just ask me," said {friend.name}.',
        _feel(s, hero, _GOOD, f"{hero.poss} friend had not been cross at all"),
    )
    return hero


def _plot_birthday(s: _Story) -> _Char:
    hero = s.child()
    parent = s.relative()
    _intro(s, hero, [parent])
    age = s.rng.randint(5, 10)
    day = s.pick(_DAYS)
    guests = [s.child(animal=0.2) for _ in range(s.rng.randint(3, 6))]
    s.say(
        f"On {day}, {hero.name} turned {_num(age)}.",
        f"{parent.name} baked a {hero.colour} cake with {_num(age)} candles.",
    )
    s.para()
    count = 0
    steps = []
    for g in guests:
        count += 1
        steps.append(1)
        s.say(
            s.alt(
                f"The doorbell rang. It was {g.name}!",
                f"Then {g.name} arrived with a present.",
                f"Next came {g.name}.",
            ),
            f"Now there {'was' if count == 1 else 'were'} {_num(count)} "
            f"guest{'s' if count > 1 else ''}.",
        )
    s.sum_fact(0, steps, count)
    s.para()
    pieces = count + 2
    s.say(
        f'"How many pieces of cake do we need?" asked {parent.name}.',
        f'{hero.name} thought. "There are {_num(count)} guests, and you and me, so '
        f'{_num(pieces)} pieces."',
        f"{parent.name} cut the cake into {_num(pieces)} pieces, and everyone got one.",
    )
    s.sum_fact(count, [2], pieces)
    s.para()
    s.say(
        f"{hero.name} blew out all {_num(age)} candles.",
        _feel(s, hero, _GOOD, "all of the friends had come"),
        f'"This is the best birthday ever," said {hero.name}.',
    )
    return hero


def _plot_lesson(s: _Story) -> _Char:
    hero = s.child()
    teacher, _ = s.worker()
    teacher.kind = "teacher"
    classmate = s.child()
    _intro(s, hero, [classmate])
    topic = s.pick(
        [
            ("the moon", "goes round the earth"),
            ("bees", "make honey from flowers"),
            ("frogs", "start life as tadpoles"),
            ("rain", "comes from clouds"),
            ("trees", "grow from seeds"),
            ("the sun", "is a star"),
            ("whales", "breathe air"),
            ("caterpillars", "turn into butterflies"),
        ]
    )
    s.say(
        f"At school, {teacher.name} taught the class about {topic[0]}.",
        f'"Did you know that {topic[0]} {topic[1]}?" asked {teacher.name}.',
    )
    s.para()
    a, b = s.rng.randint(2, 9), s.rng.randint(1, 9)
    off = s.pick((1, -1))
    s.say(
        f'Then it was time for numbers. "What is {_num(a)} plus {_num(b)}?" asked {teacher.name}.',
        f'{classmate.name} said, "{_cap(_num(a + b + off))}!"',
        f'"Not quite," said {teacher.name}. "Count again."',
        f'{hero.name} counted on {hero.poss} fingers. "{_cap(_num(a + b))}!"',
        f'"Well done, {hero.name}!" said {teacher.name}.',
    )
    s.sum_fact(a, [b], a + b)
    s.para()
    s.say(
        _feel(s, hero, _GOOD, f"{hero.subj} had got the answer right"),
        f"{hero.name} helped {classmate.name} count too, and soon they both understood.",
    )
    s.para()
    s.maybe_scene(hero)
    s.say(
        f'At home, {hero.poss} family asked, "What did you learn today?"',
        f'"I learned that {topic[0]} {topic[1]}," said {hero.name}, "and that {_num(a)} plus '
        f'{_num(b)} is {_num(a + b)}."',
    )
    return hero


def _plot_mystery(s: _Story) -> _Char:
    hero = s.child()
    friend = s.child()
    culprit = s.pet()
    _intro(s, hero, [friend, culprit])
    food = s.pick(_FOODS)
    n = s.rng.randint(6, 12)
    gone = s.rng.randint(2, 4)
    colour = s.pick(["muddy", "sandy", "floury", "sticky"])
    s.say(
        f"There were {_num(n)} {food[1]} on a plate in the kitchen.",
        f"But when {hero.name} came back, there were only {_num(n - gone)}.",
        f'"Someone took {_num(gone)} {food[1]}!" said {hero.name}.',
    )
    s.sum_fact(n, [-gone], n - gone)
    s.para()
    s.say(
        f"{hero.name} and {friend.name} looked for clues.",
        f"The first clue was a trail of {colour} paw prints on the floor.",
        "The second clue was a few crumbs by the back door.",
        f"The third clue was a soft {culprit.kind} hair on the rug.",
    )
    s.para()
    s.say(
        f'"Paw prints, crumbs and {culprit.kind} hair," said {friend.name}. "I know who it was!"',
        f"They followed the {colour} paw prints to the garden.",
        f"There was {culprit.name}, licking crumbs from {culprit.poss} nose.",
    )
    s.para()
    s.say(
        f'"{culprit.name}, you ate {_num(gone)} {food[1]}!" laughed {hero.name}.',
        f"{hero.name} was not cross. {hero.Subj} {hero.was} happy the mystery was solved.",
        f"They shared the last {_num(n - gone)} {food[1]} together.",
    )
    return hero


_TOWNS = [
    a + b
    for a in [
        "Oak",
        "Mill",
        "River",
        "Stone",
        "Green",
        "Ash",
        "Fern",
        "Lake",
        "Pine",
        "Red",
        "West",
        "Bright",
        "Elm",
        "Fox",
        "King",
        "Lark",
        "North",
        "South",
        "East",
        "Long",
        "Black",
        "White",
        "Wood",
        "Brook",
        "Deer",
        "Swan",
        "Cold",
        "Bell",
        "Rose",
        "Marsh",
    ]
    for b in [
        "ford",
        "brook",
        "side",
        "bridge",
        "hill",
        "by",
        "vale",
        "wood",
        "cliff",
        "moor",
        "stead",
        "ley",
        "bay",
        "field",
        "wick",
    ]
]


def _plot_train(s: _Story) -> _Char:
    hero = s.child()
    adult = s.relative()
    _intro(s, hero, [adult])
    stops = s.rng.sample(_TOWNS, s.rng.randint(4, 6))
    target = s.rng.randint(2, len(stops))
    s.say(
        f"{hero.name} and {adult.name} took the train to visit a friend in {stops[target - 1]}.",
        f'"We get off at the {_ORD[target]} stop," said {adult.name}.',
        f"The ticket cost {_num(s.rng.randint(2, 9))} coins.",
    )
    s.para()
    for i, town in enumerate(stops[:target]):
        s.say(
            s.alt(
                f"The train stopped at {town}.",
                f"Next was {town}.",
                f"Soon they reached {town}.",
            )
            if i
            else f"The first stop was {town}.",
        )
        if i + 1 < target:
            s.say(
                s.alt(
                    f"{hero.name} saw cows and fields from the window.",
                    f"{hero.name} counted the stops: {_num(i + 1)}.",
                    "People got on and off.",
                    "The train whistled and went on.",
                )
            )
    s.para()
    s.say(
        f'"Is this the {_ORD[target]} stop?" asked {hero.name}.',
        f'"Yes, this is {stops[target - 1]}," said {adult.name}. "Time to get off."',
        _feel(s, hero, _GOOD, "the journey had been fun"),
    )
    s.para()
    s.maybe_scene(hero)
    s.say(
        f'Later, {hero.name} said, "We passed {_num(target - 1)} stops before {stops[target - 1]}.'
        f'"',
    )
    s.sum_fact(target, [-1], target - 1)
    s.facts["recall"].append(("stop", stops[target - 1]))
    return hero


def _plot_trade(s: _Story) -> _Char:
    hero = s.child()
    friend = s.child()
    _intro(s, hero, [friend])
    a_item, b_item = s.rng.sample(
        ["shells", "marbles", "stickers", "buttons", "stamps", "cards"], 2
    )
    a, b = s.rng.randint(5, 12), s.rng.randint(4, 10)
    s.say(
        f"{hero.name} had {_num(a)} {a_item}. {friend.name} had {_num(b)} {b_item}.",
        f'"I wish I had some {b_item}," said {hero.name}.',
        f'"And I would like some {a_item}," said {friend.name}.',
    )
    s.para()
    give, get = s.rng.randint(2, min(4, a - 1)), s.rng.randint(1, min(3, b - 1))
    s.say(
        f'"Let\'s trade," said {friend.name}. "I will give you {_num(get)} '
        f'{b_item if get > 1 else b_item[:-1]} for {_num(give)} {a_item}."',
        f"{hero.name} thought about it and said yes.",
        f"They swapped, and both of them were {s.pick(_GOOD)}.",
    )
    s.para()
    s.say(
        f"Now {hero.name} had {_num(a - give)} {a_item} and {_num(get)} "
        f"{b_item if get > 1 else b_item[:-1]}.",
        f"{friend.name} had {_num(b - get)} {b_item} and {_num(give)} {a_item}.",
        f'"We still have the same number of things together," said {friend.name}. '
        f'"{_cap(_num(a + b))}!"',
    )
    s.sum_fact(a, [-give], a - give)
    s.sum_fact(b, [-get], b - get)
    s.sum_fact(a - give + get, [b - get + give], a + b)
    return hero


def _plot_eggs(s: _Story) -> _Char:
    hero = s.child()
    farmer = s.relative()
    _intro(s, hero, [farmer])
    hens = s.rng.sample(_PET_NAMES, 3)
    layed = [s.rng.randint(1, 4) for _ in hens]
    s.say(
        f"{farmer.name} kept three hens called {_list(hens)}.",
        f"Every morning, {hero.name} helped to collect the eggs.",
    )
    s.para()
    total = 0
    for h, k in zip(hens, layed, strict=True):
        total += k
        s.say(f"{h} had laid {_num(k)} egg{'s' if k > 1 else ''}.")
    s.say(f"So {hero.name} had {_num(total)} eggs in the basket.")
    s.sum_fact(0, layed, total)
    s.para()
    broke = s.rng.randint(0, 2)
    if broke:
        s.say(
            f"On the way back, {hero.name} tripped and {_num(broke)} egg{'s' if broke > 1 else ''} "
            "broke.",
            _feel(s, hero, _BAD, "some eggs had broken"),
            f'"Never mind," said {farmer.name}. "Accidents happen."',
        )
    else:
        s.say(f"{hero.name} walked very carefully, and not a single egg broke.")
    s.sum_fact(total, [-broke], total - broke)
    s.para()
    s.maybe_scene(hero)
    s.say(
        f'"How many eggs did we get?" asked {farmer.name}.',
        f'"{_cap(_num(total - broke))}," said {hero.name}. "{hens[0]} laid {_num(layed[0])}."',
        f"They made {s.pick(_DISHES)} for lunch, and {hero.name} felt proud.",
    )
    return hero


def _plot_message(s: _Story) -> _Char:
    hero = s.child()
    sender, _ = s.worker()
    receiver = s.child()
    _intro(s, hero, [])
    place = s.place()
    day = s.pick(_DAYS)
    hour = s.rng.randint(1, 11)
    s.say(
        f"{sender.name} the {sender.kind} gave {hero.name} a letter for {receiver.name}.",
        f'"Please take this to {receiver.name}," said {sender.name}. "It says to meet me '
        f"{place[0]} the {place[1]} on {day} at {_num(hour)} o'clock.\"",
    )
    s.para()
    obstacles = s.rng.sample(
        [
            "a muddy puddle",
            "a flock of geese",
            "a closed bridge",
            "a strong wind",
            "a big hill",
            "a busy road",
        ],
        2,
    )
    s.say(
        f"On the way, {hero.name} had to get past {obstacles[0]}, and then {obstacles[1]}.",
        f"The wind almost took the letter, but {hero.name} held it tight.",
    )
    s.para()
    s.maybe_scene(hero)
    s.say(
        f"At last, {hero.name} found {receiver.name} and gave {receiver.obj} the letter.",
        "But the letter was wet and the words were hard to read.",
        f'"Where do we meet?" asked {receiver.name}.',
        f'{hero.name} remembered. "{_cap(place[0])} the {place[1]}, on {day}, at '
        f"{_num(hour)} o'clock.\"",
        _feel(s, hero, _GOOD, f"{hero.subj} had remembered the message"),
    )
    s.facts["recall"].append(("meet", place[1], day, hour))
    return hero


def _plot_fishing(s: _Story) -> _Char:
    hero = s.child()
    adult = s.relative()
    _intro(s, hero, [adult])
    water = s.pick(["the lake", "the river", "the pier", "the pond", "the harbour wall"])
    s.say(
        s.alt(
            f"Early one {s.pick(_DAYS)} morning, {adult.name} took {hero.name} fishing at {water}.",
            f"{adult.name} and {hero.name} packed two rods and a bucket and walked to {water}.",
        ),
        f'"We will keep only the big fish," said {adult.name}. "The small ones go back."',
    )
    s.para()
    caught, small = 0, 0
    tries = s.rng.randint(3, 5)
    for i in range(tries):
        fish = s.rng.randint(1, 3)
        caught += fish
        is_small = s.rng.random() < 0.4
        if is_small:
            small += fish
        s.say(
            f"{('First', 'Then', 'After that', 'Next', 'Later')[i]}, {hero.name} caught "
            f"{_num(fish)} {'small ' if is_small else ''}fish."
        )
        if is_small:
            s.say(s.alt("They put them back in the water.", "Back into the water they went."))
    big = caught - small
    s.sum_fact(caught, [-small], big)
    s.para()
    s.maybe_scene(hero)
    s.say(
        f'"How many fish did you catch?" asked {adult.name} on the way home.',
        f'"{_cap(_num(caught))}," said {hero.name}. '
        + (
            f'"But {_num(small)} {"was" if small == 1 else "were"} small, so we kept {_num(big)}."'
            if small
            else f'"And they were all big, so we kept all {_num(big)}."'
        ),
        _feel(s, hero, _GOOD, f"{hero.subj} had caught so many fish")
        if big
        else _feel(s, hero, _BAD, "every fish had been too small"),
    )
    return hero


def _plot_savings(s: _Story) -> _Char:
    hero = s.child()
    parent = s.relative()
    _intro(s, hero, [parent])
    want = f"{hero.colour} {s.thing(plain=True)}" if s.rng.random() < 0.5 else s.thing()
    price = s.rng.randint(10, 20)
    weekly = s.rng.randint(2, 4)
    have = s.rng.randint(0, 3)
    s.say(
        f"In the window of the toyshop, {hero.name} saw {_a(want)}.",
        f"{hero.name} wanted it more than anything"
        + (
            f", because {hero.colour} was {hero.poss} favourite colour."
            if hero.colour in want
            else "."
        ),
        f"It cost {_num(price)} coins, but {hero.name} had only {_num(have)} in "
        f"{hero.poss} piggy bank."
        if have
        else f"It cost {_num(price)} coins, but {hero.name}'s piggy bank was empty.",
        f'"If you save {_num(weekly)} coins every week, you can buy it," said {parent.name}.',
    )
    s.para()
    weeks, total, steps = 0, have, []
    while total < price:
        weeks += 1
        total += weekly
        steps.append(weekly)
        s.say(
            f"After week {_num(weeks)}, {hero.name} had {_num(total)} coins."
            if s.rng.random() < 0.7 or total >= price
            else f"In week {_num(weeks)}, {hero.name} put {_num(weekly)} more coins in the "
            f"piggy bank, so there were {_num(total)}."
        )
    s.sum_fact(have, steps, total)
    s.para()
    s.maybe_scene(hero)
    change = total - price
    s.say(
        f"At last {hero.name} had enough. It had taken {_num(weeks)} weeks.",
        f"{hero.name} paid {_num(price)} coins for the {want}"
        + (f" and kept the other {_num(change)}." if change else " and had none left."),
        _feel(s, hero, _GOOD, f"{hero.subj} had saved up all by {hero.refl}"),
    )
    s.sum_fact(total, [-price], change)
    return hero


def _plot_building(s: _Story) -> _Char:
    hero = s.child()
    friend = s.child()
    helper = s.relative()
    _intro(s, hero, [friend, helper])
    what = s.pick(["a treehouse", "a birdhouse", "a raft", "a go-kart", "a bookshelf", "a den"])
    planks = s.rng.randint(8, 16)
    nails = s.rng.randint(10, 20)
    s.say(
        f"{hero.name} and {friend.name} wanted to build {what}.",
        f"{helper.name} gave them {_num(planks)} planks and a tin of {_num(nails)} nails.",
    )
    s.para()
    used_p1, used_n1 = s.rng.randint(2, planks // 2), s.rng.randint(3, nails // 2)
    s.say(
        f"On the first day, they used {_num(used_p1)} planks and {_num(used_n1)} nails.",
        s.alt(
            f"{friend.name} held the planks while {hero.name} hammered.",
            f"{hero.name} measured and {friend.name} sawed.",
        ),
    )
    used_p2 = s.rng.randint(1, planks - used_p1 - 1)
    s.say(f"On the second day, they used {_num(used_p2)} more planks.")
    left = planks - used_p1 - used_p2
    s.sum_fact(planks, [-used_p1, -used_p2], left)
    s.para()
    s.maybe_scene(hero)
    s.say(
        f'"How many planks are left?" asked {helper.name}.',
        f'{hero.name} counted. "{_cap(_num(left))}. We had {_num(planks)}, and we used '
        f'{_num(used_p1)} and then {_num(used_p2)}."',
        f'"And nails?" "{_cap(_num(nails - used_n1))}," said {friend.name}.',
    )
    s.sum_fact(nails, [-used_n1], nails - used_n1)
    s.para()
    s.say(
        f"At last, the {what.split()[-1]} was finished. It was a little wobbly, but it was theirs.",
        f"{hero.name} and {friend.name} painted it {hero.colour}, {hero.name}'s favourite colour.",
    )
    return hero


def _plot_library(s: _Story) -> _Char:
    hero = s.child()
    librarian, _ = s.worker()
    librarian.kind = "librarian"
    _intro(s, hero, [])
    topics = s.rng.sample(
        [
            "dinosaurs",
            "space",
            "pirates",
            "volcanoes",
            "castles",
            "sharks",
            "robots",
            "insects",
            "knights",
            "the ocean",
            "trains",
            "jungles",
        ],
        3,
    )
    day = s.rng.randint(0, 3)
    due = _DAYS[day + 3]
    s.say(
        f"On {_DAYS[day]}, {hero.name} went to the library.",
        f"{hero.name} borrowed three books: one about {topics[0]}, one about {topics[1]} and one "
        f"about {topics[2]}.",
        f'"Please bring them back by {due}," said {librarian.name} the librarian.',
    )
    s.para()
    s.say(
        f"{hero.name} read the book about {topics[0]} first.",
        s.alt("It was so exciting!", "It had wonderful pictures.", "It was full of facts."),
        f"Then {hero.subj} read about {topics[1]}.",
    )
    lost = s.rng.random() < 0.5
    if lost:
        spot = s.pick(_HIDING)
        s.say(
            f"But the book about {topics[2]} was missing!",
            _feel(s, hero, _WORRIED, "the book had to go back soon"),
            f"After a long search, {hero.name} found it {spot}.",
        )
    s.para()
    s.maybe_scene(hero)
    s.say(
        f"On {due}, {hero.name} took all three books back.",
        f'"Which one did you like best?" asked {librarian.name}.',
        f'"The one about {topics[0]}," said {hero.name}.',
        f'"Then you will like this one too," said {librarian.name}, and gave {hero.name} a new '
        f"book about {topics[0]}.",
    )
    s.facts["recall"].append(("due", due))
    return hero


def _plot_sharing(s: _Story) -> _Char:
    hero = s.child()
    friends = [s.child(animal=0.2) for _ in range(s.rng.randint(1, 3))]
    gran = s.relative()
    _intro(s, hero, [friends[0], gran])
    food = s.pick(_FOODS)
    people = len(friends) + 1
    each = s.rng.randint(2, 5)
    extra = s.rng.randint(0, people - 1) if people > 1 else 0
    n = people * each + extra
    s.say(
        s.alt(
            f"{gran.name} came back from the market with a bag of {_num(n)} {food[1]}.",
            f"One {s.pick(_TIMES_OF_DAY)}, {gran.name} gave {hero.name} a box of {_num(n)} "
            f"{food[1]}.",
        ),
        f'"Share them fairly with your friends," said {gran.name}.',
    )
    s.para()
    s.say(
        f"{hero.name} invited {_list([f.name for f in friends])}.",
        f"With {hero.name}, that made {_num(people)} of them.",
    )
    s.sum_fact(len(friends), [1], people)
    s.para()
    s.maybe_scene(hero, 0.3)
    s.say(
        f'"How many does each of us get?" asked {friends[0].name}.',
        f"{hero.name} put the {food[1]} into {_num(people)} piles, one at a time, until "
        f"{'none were left' if not extra else 'there were not enough to go round'}.",
        f'"{_cap(_num(each))} each," said {hero.name}.',
    )
    if extra:
        s.say(
            f"There {'was' if extra == 1 else 'were'} {_num(extra)} left over, so {hero.name} "
            f"gave {'it' if extra == 1 else 'them'} back to {gran.name}.",
        )
    s.sum_fact(n, [-people * each], extra)
    s.para()
    s.say(
        _feel(s, hero, _GOOD, "everyone had the same"),
        f'"Thank you for sharing, {hero.name}," said {friends[-1].name}.',
    )
    return hero


_DIRECTIONS = ["left", "right", "straight on"]


def _plot_directions(s: _Story) -> _Char:
    hero = s.child()
    friend = s.child(animal=0.3)
    _intro(s, hero, [friend])
    goal = s.place()
    landmarks = s.rng.sample(
        [
            "the old well",
            "the red post box",
            "the big oak tree",
            "the stone bridge",
            "the blue gate",
            "the statue of a horse",
            "the bakery",
            "the pond with the ducks",
            "the windmill",
            "the fountain",
        ],
        3,
    )
    turns = [s.pick(_DIRECTIONS) for _ in landmarks]
    s.say(
        f"{hero.name} and {friend.name} wanted to go to the {goal[1]}, but they did not know "
        "the way.",
        f"A kind {s.pick(_JOBS)[0]} told them: "
        + ", then ".join(f"at {lm}, go {tn}" for lm, tn in zip(landmarks, turns, strict=True))
        + ".",
        f'"I will remember it," said {friend.name}.',
    )
    s.para()
    s.maybe_scene(hero, 0.4)
    for i, (lm, tn) in enumerate(zip(landmarks, turns, strict=True)):
        s.say(
            f"{('First', 'Next', 'Then')[i]} they came to {lm}.",
            f'"Which way now?" asked {hero.name}.',
            f'"{_cap(tn)}," said {friend.name}, and they went {tn}.',
        )
    s.para()
    s.say(
        f"And there was the {goal[1]}!",
        _feel(s, hero, _GOOD, f"{friend.name} had remembered the way"),
        f'"How did you remember it all?" asked {hero.name}.',
        f'"{_cap(landmarks[0][4:])}, {landmarks[1][4:]} and {landmarks[2][4:]}: '
        f'{turns[0]}, {turns[1]}, {turns[2]}," said {friend.name} with a grin.',
    )
    s.facts["recall"].append(("turns", turns))
    return hero


_PLOTS = {
    "lost_and_found": _plot_lost_and_found,
    "packing_trip": _plot_packing_trip,
    "shop": _plot_shop,
    "recipe": _plot_recipe,
    "lost_pet": _plot_lost_pet,
    "race": _plot_race,
    "gift_and_note": _plot_gift_and_note,
    "garden": _plot_garden,
    "storm": _plot_storm,
    "misunderstanding": _plot_misunderstanding,
    "birthday": _plot_birthday,
    "lesson": _plot_lesson,
    "mystery": _plot_mystery,
    "train": _plot_train,
    "trade": _plot_trade,
    "eggs": _plot_eggs,
    "message": _plot_message,
    "fishing": _plot_fishing,
    "savings": _plot_savings,
    "building": _plot_building,
    "library": _plot_library,
    "sharing": _plot_sharing,
    "directions": _plot_directions,
}
PLOT_KINDS = tuple(_PLOTS)


def story_with_facts(rng: random.Random) -> tuple[str, dict[str, Any]]:
    """One story drawn from ``rng`` and the facts it encodes (for tests and evaluation).

    The facts hold ``plot`` (the plot kind), ``characters`` (name and pronoun of everyone
    named), ``sums`` (``(start, changes, stated)`` for every count the story states, where
    ``stated`` should equal ``start + sum(changes)``) and ``recall`` (facts recalled later).
    """
    kind = rng.choice(PLOT_KINDS)
    s = _Story(rng, kind)
    hero = _PLOTS[kind](s)
    s.para()
    _ending(s, hero)
    s.facts["characters"] = [(c.name, c.pronoun) for c in s.chars]
    return s.text(), s.facts


def generate_story(rng: random.Random) -> str:
    """One story drawn from ``rng``."""
    return story_with_facts(rng)[0]


def story_split(text: str) -> str:
    """``"train"``, ``"validation"`` or ``"test"`` by a hash of the text (so the split is fixed)."""
    bucket = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") % 100
    if bucket < VALIDATION_PERCENT:
        return "validation"
    if bucket < VALIDATION_PERCENT + TEST_PERCENT:
        return "test"
    return "train"


def iter_stories(seed: int = DEFAULT_SEED, split: str | None = None) -> Iterator[str]:
    """The endless, deterministic story stream; ``split`` keeps only that split's stories."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
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

    ``n_chars`` defaults to 1 MB for train and 100 kB for validation and test; ask for several
    MB when a model needs more data. A smaller request is always a prefix of a larger one.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    if n_chars is None:
        n_chars = DEFAULT_CHARS[split]
    if n_chars <= 0:
        raise ValueError("n_chars must be positive")
    stories, total = [], 0
    for story in iter_stories(seed, split):
        stories.append(story)
        total += len(story) + 1
        if total >= n_chars:
            break
    return stories


__all__ = [
    "DEFAULT_CHARS",
    "DEFAULT_SEED",
    "PLOT_KINDS",
    "SPLITS",
    "generate_story",
    "iter_stories",
    "story_split",
    "story_with_facts",
    "tiny_stories",
]
