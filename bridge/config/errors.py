"""A configuration problem reported as one clear message: the file, the key path and what is wrong."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigProblem:
    key_path: str  # dotted, e.g. "chains.ethereum.rpc_url"; "" for the whole file
    message: str


class ConfigError(ValueError):
    def __init__(self, source: str, problems: list[ConfigProblem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        if len(self.problems) == 1:
            p = self.problems[0]
            where = f" [{p.key_path}]" if p.key_path else ""
            return f"{self.source}{where}: {p.message}"
        lines = [f"{self.source}: {len(self.problems)} problems"]
        lines += [f"  [{p.key_path}] {p.message}" if p.key_path else f"  {p.message}" for p in self.problems]
        return "\n".join(lines)
