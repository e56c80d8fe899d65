"""The answer to "why did my loader fail": one cause, the evidence, and what to change."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = ("hang", "fault", "failure", "stack", "wiring", "contract", "unknown")


@dataclass(frozen=True)
class Diagnosis:
    """Why a loader call failed.

    ``cause`` is one sentence naming the function, what it waited for or did, and why that
    cannot work on this board; ``details`` are evidence lines (registers, instructions, flash
    commands, pins); ``fix`` says what to change in the loader. ``certain`` is True when the
    virtual board proves the outcome (a hang that can never end, a fault, a rejected command).
    """

    kind: str
    function: str
    cause: str
    details: tuple[str, ...] = ()
    fix: str | None = None
    certain: bool = True
    where: str | None = None  # symbolised location (loop or faulting instruction)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def render(self) -> str:
        lines = [self.cause]
        lines += [f"  {d}" for d in self.details]
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "function": self.function, "cause": self.cause,
                "details": list(self.details), "fix": self.fix, "certain": self.certain,
                "where": self.where}
