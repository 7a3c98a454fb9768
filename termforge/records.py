"""The trajectory record shared by the corpus, the trainer and the evaluator (DESIGN §4).

One record per ArrayRecord entry, UTF-8 JSON. Field names follow the released
Nemotron-Terminal-Corpus where one exists.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from termforge.errors import TermforgeError

SCHEMA = "termforge.trajectory/1"
ROLES = ("system", "user", "assistant")
SOURCES = ("seed", "skill", "llm", "adapter")


class RecordError(TermforgeError):
    """A trajectory record that does not follow the schema."""


@dataclass
class TrajectoryRecord:
    trajectory_id: str
    task_id: str
    task_group_id: str
    messages: list[dict[str, str]]
    source: str
    skills: list[str] = field(default_factory=list)
    domain: str = ""
    difficulty: str = "unknown"
    model_name: str = ""
    reward: float = 0.0
    n_assistant_turns: int = 0
    n_tokens: int | None = None
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    schema: str = SCHEMA

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    def to_bytes(self) -> bytes:
        return self.to_json().encode("utf-8")

    @classmethod
    def from_json(cls, data: str | bytes, *, where: str = "record") -> "TrajectoryRecord":
        try:
            obj = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RecordError(f"{where}: not UTF-8 JSON ({exc})") from None
        return cls.from_dict(obj, where=where)

    @classmethod
    def from_dict(cls, obj: Any, *, where: str = "record") -> "TrajectoryRecord":
        if not isinstance(obj, dict):
            raise RecordError(f"{where}: expected a JSON object")
        if obj.get("schema", SCHEMA) != SCHEMA:
            raise RecordError(f"{where}: schema {obj.get('schema')!r} is not {SCHEMA}")
        for key in ("trajectory_id", "task_id", "task_group_id", "source"):
            if not isinstance(obj.get(key), str) or not obj[key]:
                raise RecordError(f"{where}: field {key!r} must be a non-empty string")
        if obj["source"] not in SOURCES:
            raise RecordError(f"{where}: source {obj['source']!r} not one of {', '.join(SOURCES)}")
        msgs = obj.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise RecordError(f"{where}: messages must be a non-empty list")
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                raise RecordError(f"{where}: messages[{i}] needs role in {ROLES} and string content")
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in obj.items() if k in known}
        kwargs["messages"] = [{"role": m["role"], "content": m["content"]} for m in msgs]
        rec = cls(**kwargs)
        if not isinstance(rec.reward, (int, float)):
            raise RecordError(f"{where}: reward must be a number")
        rec.reward = float(rec.reward)
        rec.n_assistant_turns = sum(m["role"] == "assistant" for m in rec.messages)
        return rec


def new_trajectory_id() -> str:
    return uuid.uuid4().hex
