"""Random draws shared by task families: names, paths, data, and text rendering helpers.

Everything takes an explicit `random.Random`, so a (seed, index) pair always yields the same task.
"""

from __future__ import annotations

import csv
import io
import json
import random
import string
from typing import Any, Sequence

WORDS = (
    "alpha amber anchor apple arrow atlas aurora badge bamboo banner basil beacon birch bison "
    "blossom bolt breeze brick bridge bronze cactus canyon carbon cargo cedar chalk cherry cipher "
    "citrus cobalt comet copper coral cosmos cotton crane crystal cypress delta desert diesel "
    "dolphin dragon dune eagle echo ember falcon fern fjord flint forest fossil fox galaxy garnet "
    "glacier granite harbor hazel helix heron hickory horizon indigo iris island ivory jade jasper "
    "juniper kelp kernel kestrel lagoon lantern lava lemon lilac linen lotus lunar magnet maple "
    "marble meadow mercury meteor mint mosaic nebula needle nickel nova oak oasis obsidian ocean "
    "olive onyx orbit orchid otter pebble pepper phoenix pine pixel planet plum polar prism pulse "
    "quartz quill radar raven reef ridge river robin ruby saffron sage sapphire satin shadow "
    "silver slate solar sparrow spruce steel storm summit swift tango thistle thunder tiger timber "
    "topaz tulip tundra valley velvet violet walnut willow wolf zephyr zinc"
).split()
FIRST_NAMES = ("ada alan alice amir ana bruno carla chen diego elena emma farah finn grace hana "
               "ivan jonas julia kai lara leo lina luca maya mei nina noah omar priya rafael "
               "rosa sam sara tariq uma victor wei yara zoe").split()
CITIES = ("lisbon oslo kyoto lima cairo perth quito dakar seoul hanoi tunis riga porto sofia "
          "accra delhi miami zurich").split()
UNICODE_WORDS = ("café", "naïve", "résumé", "über", "straße", "jalapeño", "façade", "smörgås")


def pick(rng: random.Random, options: Sequence[Any]) -> Any:
    return options[rng.randrange(len(options))]


def sample(rng: random.Random, options: Sequence[Any], k: int) -> list[Any]:
    return rng.sample(list(options), k)


def word(rng: random.Random) -> str:
    return pick(rng, WORDS)


def words(rng: random.Random, k: int) -> list[str]:
    """k distinct words."""
    return rng.sample(WORDS, k)


def ident(rng: random.Random, parts: int = 2, sep: str = "_") -> str:
    """A fresh identifier such as `amber_falcon`."""
    return sep.join(words(rng, parts))


def filename(rng: random.Random, ext: str, *, spaces: bool = False) -> str:
    """A file name; with spaces=True sometimes one containing a space (an edge case agents miss)."""
    base = ident(rng, 2, " " if spaces and rng.random() < 0.5 else pick(rng, ("_", "-")))
    return f"{base}.{ext}" if ext else base


def app_dir(rng: random.Random) -> str:
    """A working directory under /app with a drawn name."""
    return f"/app/{ident(rng, 1)}{rng.randint(1, 99)}"


def token(rng: random.Random, n: int = 12, alphabet: str = string.ascii_lowercase + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]], delimiter: str = ",") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


def lines_text(lines: Sequence[str]) -> str:
    return "".join(f"{ln}\n" for ln in lines)


def json_text(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def py(value: Any) -> str:
    """A Python literal of a JSON-like value, for baking expected values into tests."""
    return repr(value)


def phrasing(rng: random.Random, *templates: str, **fields: Any) -> str:
    """One of several phrasings of an instruction, formatted with the given fields."""
    return pick(rng, templates).format(**fields)


def heredoc(path: str, content: str, tag: str = "TERMFORGE_EOF") -> str:
    """A bash snippet writing `content` verbatim to `path`."""
    assert tag not in content
    return f"cat > {sh_quote(path)} <<'{tag}'\n{content}{'' if content.endswith(chr(10)) else chr(10)}{tag}"


def sh_quote(s: str) -> str:
    import shlex

    return shlex.quote(s)
