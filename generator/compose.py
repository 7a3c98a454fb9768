"""Skill mode: draw one family, or chain 2-4 families whose artifacts connect.

Categories are balanced by their taxonomy weight (a category's weight is shared among its
families), so a category with many families is not over-represented.
"""

from __future__ import annotations

import random
from typing import Sequence

from termforge.errors import ConfigError
from termforge.generator.registry import Family
from termforge.generator.spec import Step, TaskSpec
from termforge.generator.taxonomy import Taxonomy

DEFAULT_STEPS = {1: 0.3, 2: 0.35, 3: 0.25, 4: 0.1}
_DIFFICULTY = ("easy", "medium", "hard")


def eligible_families(families: dict[str, Family], allowed_skills: Sequence[str] | None) -> list[Family]:
    fams = list(families.values())
    if allowed_skills:
        allowed = set(allowed_skills)
        fams = [f for f in fams if allowed & set(f.skills)]
        if not fams:
            raise ConfigError(f"no task family exercises the skills {', '.join(sorted(allowed))}")
    return fams


def _weights(fams: list[Family], taxonomy: Taxonomy) -> list[float]:
    per_cat: dict[str, int] = {}
    for f in fams:
        per_cat[f.category] = per_cat.get(f.category, 0) + 1
    return [taxonomy.categories[f.category].weight / per_cat[f.category] for f in fams]


def _choose(rng: random.Random, fams: list[Family], taxonomy: Taxonomy) -> Family:
    return rng.choices(fams, _weights(fams, taxonomy), k=1)[0]


def draw_chain(rng: random.Random, families: dict[str, Family], taxonomy: Taxonomy, *,
               allowed_skills: Sequence[str] | None = None,
               steps: dict[int, float] = DEFAULT_STEPS) -> tuple[list[Family], list[Step]]:
    pool = eligible_families(families, allowed_skills)
    n_steps = rng.choices(list(steps), list(steps.values()), k=1)[0]
    everyone = list(families.values())
    if n_steps > 1:
        chainable = [f for f in pool if f.produces and any(
            g.consumes == f.produces and g is not f for g in everyone)]
        first = _choose(rng, chainable or pool, taxonomy)
    else:
        first = _choose(rng, pool, taxonomy)
    chain, step_list = [first], [first.draw(rng)]
    while len(chain) < n_steps:
        kind = chain[-1].produces
        nxt = [f for f in pool if f.consumes == kind and f not in chain] or \
              [f for f in everyone if f.consumes == kind and f not in chain]
        if not kind or not nxt:
            break
        fam = _choose(rng, nxt, taxonomy)
        step_list.append(fam.draw(rng, step_list[-1].output))
        chain.append(fam)
    return chain, step_list


def skill_task(rng: random.Random, families: dict[str, Family], taxonomy: Taxonomy, name: str, *,
               allowed_skills: Sequence[str] | None = None,
               steps: dict[int, float] = DEFAULT_STEPS, attempts: int = 5) -> TaskSpec:
    """A TaskSpec from one family or a chain; retries a draw whose steps collide on a file."""
    last_error: Exception | None = None
    for _ in range(attempts):
        chain, step_list = draw_chain(rng, families, taxonomy, allowed_skills=allowed_skills,
                                      steps=steps)
        level = max(_DIFFICULTY.index(f.difficulty) for f in chain)
        level = min(2, max(level, len(chain) - 1))
        spec = TaskSpec(
            name=name, steps=step_list, category=chain[0].category, difficulty=_DIFFICULTY[level],
            family="+".join(f.name for f in chain), source="skill",
            tags=tuple(dict.fromkeys(f.category for f in chain)),
            params={f"step{i + 1}": {"family": f.name, **s.params}
                    for i, (f, s) in enumerate(zip(chain, step_list))},
            agent_timeout_sec=300.0 * len(chain), verifier_timeout_sec=120.0 + 60.0 * (len(chain) - 1),
        )
        try:
            spec.files()
            return spec
        except ValueError as exc:  # two steps wrote different contents to one path
            last_error = exc
    raise RuntimeError(f"could not draw a consistent task after {attempts} attempts: {last_error}")
