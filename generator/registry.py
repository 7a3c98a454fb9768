"""Registry of programmatic task families.

    @family("text.word-frequency", category="text", skills=("text.sort",), difficulty="easy",
            consumes="lines", produces="lines")
    def word_frequency(rng: random.Random, inp: Artifact | None) -> Step: ...

Every family works on its own (`inp=None`: it bakes its own input data into the image). A family
that declares `consumes=KIND` also accepts an `Artifact` of that kind made by an earlier step and
then must read it from `inp.path` (and not create it). A family that declares `produces=KIND`
returns `Step.output` with the exact value a correct solution leaves behind.
"""

from __future__ import annotations

import importlib
import pkgutil
import random
from dataclasses import dataclass
from typing import Callable

from termforge.errors import ConfigError
from termforge.generator.spec import ARTIFACT_KINDS, Artifact, Step

BuildFn = Callable[[random.Random, "Artifact | None"], Step]


@dataclass(frozen=True)
class Family:
    name: str
    category: str
    skills: tuple[str, ...]
    difficulty: str
    build: BuildFn
    consumes: str | None = None
    produces: str | None = None

    def draw(self, rng: random.Random, inp: Artifact | None = None) -> Step:
        if inp is not None and inp.kind != self.consumes:
            raise ValueError(f"{self.name} consumes {self.consumes!r}, got {inp.kind!r}")
        step = self.build(rng, inp)
        if not step.skills:
            step.skills = self.skills
        if self.produces and (step.output is None or step.output.kind != self.produces):
            raise ValueError(f"family {self.name} must produce a {self.produces!r} artifact")
        return step


_FAMILIES: dict[str, Family] = {}


def family(name: str, *, category: str, skills: tuple[str, ...], difficulty: str = "easy",
           consumes: str | None = None, produces: str | None = None):
    for kind in (consumes, produces):
        if kind is not None and kind not in ARTIFACT_KINDS:
            raise ValueError(f"{name}: unknown artifact kind {kind!r}")

    def deco(fn: BuildFn) -> BuildFn:
        if name in _FAMILIES:
            raise ValueError(f"family {name!r} registered twice")
        _FAMILIES[name] = Family(name, category, tuple(skills), difficulty, fn, consumes, produces)
        return fn

    return deco


def all_families() -> dict[str, Family]:
    """Every registered family (importing all modules of termforge.generator.families)."""
    import termforge.generator.families as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")
    return dict(sorted(_FAMILIES.items()))


def get_family(name: str) -> Family:
    fams = all_families()
    if name not in fams:
        raise ConfigError(f"unknown task family {name!r}; see `termforge gen --list-families`")
    return fams[name]
