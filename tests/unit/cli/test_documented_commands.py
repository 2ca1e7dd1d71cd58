"""Every `phala-bridge` command line shown in README.md and docs/ names subcommands and options the CLI has.

Operators copy these lines; a renamed subcommand or flag must fail here, not on their terminal. Only code is read
(inline code spans, fenced and indented blocks), with `\\` continuations joined and `#` comments dropped."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer

from bridge.cli.main import app

ROOT = Path(__file__).resolve().parents[3]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _code(text: str) -> list[str]:
    """The code of a Markdown text: fenced blocks, indented blocks and inline spans, one logical line each."""
    out: list[str] = []
    fenced = False
    indented = False  # an indented code block starts after a blank line; else it continues a list item's text
    prev_blank = True
    pending = ""
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        indented = line.startswith("    ") and (indented or prev_blank)
        prev_blank = not line.strip()
        if fenced or indented:
            joined = pending + line.split(" #", 1)[0].strip()
            if joined.endswith("\\"):
                pending = joined[:-1] + " "
                continue
            pending = ""
            out.append(joined)
        else:
            out.extend(re.findall(r"`([^`]+)`", line))
    return out


def _invocations() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        for code in _code(path.read_text()):
            for m in re.finditer(r"phala-bridge((?: +[^ ]+)*)", code):
                found.append((f"{path.relative_to(ROOT)}: {m.group(0).strip()}", m.group(1)))
    return found


def _options(command: Any) -> set[str]:
    return {name for p in command.params for name in (*p.opts, *p.secondary_opts)}


def _problems(words: list[str]) -> list[str]:
    # typer's click objects (a group has `commands`); typer vendors click, so no click types are named here
    command: Any = typer.main.get_command(app)
    problems = []
    for i, word in enumerate(words):
        if hasattr(command, "commands"):
            if word.startswith(("-", "<", "[")):
                break
            first, *more = word.split("/")  # `call auction-open/-bid/-close/raw`
            names = [first] + [first.rsplit("-", 1)[0] + m if m.startswith("-") else m for m in more]
            unknown = [n for n in names if n not in command.commands]
            if unknown:
                problems.append(f"no subcommand {unknown} under {command.name!r}")
                return problems
            command = command.commands[first]
            continue
        flag = word.strip("[]").split("=", 1)[0]
        if flag.startswith("-") and flag not in _options(command):
            problems.append(f"{command.name!r} has no option {flag} (word {i + 1})")
    return problems


def test_the_docs_show_commands() -> None:
    # The guard must see the lines it guards (README's usage block, operations.md's member commands).
    shown = " ".join(where for where, _ in _invocations())
    for expected in ("transfer --from", "committee dkg --config", "relayer run --config", "config check"):
        assert expected in shown


@pytest.mark.parametrize("tail", [pytest.param(tail, id=where) for where, tail in _invocations()])
def test_documented_command_exists(tail: str) -> None:
    assert _problems(tail.split()) == []


def test_the_guard_catches_a_wrong_name() -> None:
    assert _problems(["committee", "dkg", "--config", "x", "--participants", "1,2"]) == []
    assert _problems(["transfer", "--amount", "1", "--to", "x", "--no-such-flag"]) != []
    assert _problems(["committee", "destroy"]) != []
    assert _problems(["call", "auction-open/-bid/-finish"]) != []


def _missing_required(words: list[str]) -> list[str]:
    """The required options a command line leaves out (`--json > dkg.json`: a line a reader runs as shown)."""
    command: Any = typer.main.get_command(app)
    rest = list(words)
    while rest and hasattr(command, "commands") and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    given = {w.split("=", 1)[0] for w in rest}
    return [
        "/".join(p.opts)
        for p in command.params
        if getattr(p, "required", False) and p.opts[0].startswith("-") and not given & set(p.opts)
    ]


@pytest.mark.parametrize(
    "tail",
    [pytest.param(tail, id=where) for where, tail in _invocations() if ">" in tail.split()],
)
def test_a_command_shown_with_its_output_redirected_has_every_required_option(tail: str) -> None:
    assert _missing_required(tail.split()) == []


def test_the_required_option_guard_catches_a_missing_config() -> None:
    assert _missing_required(["committee", "dkg", "--json", ">", "dkg.json"]) == ["--config/-c"]
    assert _missing_required(["committee", "dkg", "-c", "node.toml", "--json"]) == []
