"""The skill taxonomy (configs/skills.yaml): categories with weights and sub-skills."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

from termforge.errors import ConfigError

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "configs" / "skills.yaml"


@dataclass(frozen=True)
class Skill:
    id: str
    category: str
    description: str
    levels: tuple[str, ...]


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    weight: float
    skills: tuple[Skill, ...]


@dataclass(frozen=True)
class Taxonomy:
    categories: dict[str, Category]

    @property
    def skills(self) -> dict[str, Skill]:
        return {s.id: s for c in self.categories.values() for s in c.skills}

    def resolve(self, names: list[str]) -> list[str]:
        """Category or skill ids -> skill ids; an unknown name is a ConfigError listing the valid ones."""
        out: list[str] = []
        for name in names:
            if name in self.categories:
                out.extend(s.id for s in self.categories[name].skills)
            elif name in self.skills:
                out.append(name)
            else:
                raise ConfigError(f"unknown skill {name!r}; categories: {', '.join(self.categories)} "
                                  f"(or a sub-skill such as text.grep; see configs/skills.yaml)")
        return list(dict.fromkeys(out))


@functools.lru_cache(maxsize=4)
def load_taxonomy(path: str | Path = DEFAULT_PATH) -> Taxonomy:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: skill taxonomy not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("categories"), dict):
        raise ConfigError(f"{path}: expected a mapping with 'categories'")
    cats: dict[str, Category] = {}
    for cid, c in doc["categories"].items():
        if not isinstance(c, dict) or not isinstance(c.get("skills"), dict) or not c["skills"]:
            raise ConfigError(f"{path} [categories.{cid}]: needs name, weight and skills")
        skills = []
        for sid, s in c["skills"].items():
            if not sid.split(".")[0] in (cid, {"networking": "net"}.get(cid)):
                raise ConfigError(f"{path} [categories.{cid}.skills.{sid}]: skill id must start with "
                                  f"the category")
            skills.append(Skill(sid, cid, str(s.get("description", "")), tuple(s.get("levels", []))))
        weight = c.get("weight", 1.0)
        if not isinstance(weight, (int, float)) or weight <= 0:
            raise ConfigError(f"{path} [categories.{cid}.weight]: must be a positive number")
        cats[cid] = Category(cid, str(c.get("name", cid)), float(weight), tuple(skills))
    return Taxonomy(cats)
