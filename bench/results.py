"""The one place benchmark figures are written: bench/results.json (machine) and bench/RESULTS.md (people).

Every benchmark calls `record(...)` for each figure; entries are keyed by name, so a rerun replaces its own
figures and leaves the others. RESULTS.md is regenerated from results.json each time.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_JSON = BENCH_DIR / "results.json"
RESULTS_MD = BENCH_DIR / "RESULTS.md"


@dataclass(frozen=True)
class Figure:
    name: str  # dotted, grouped by area: "gas.single_release", "signer.frost_secp256k1.sign_3of5_ms"
    value: float
    unit: str
    target: str | None = None  # human-readable target, e.g. "<= 55000"
    met: bool | None = None  # whether the target is met (None when there is no target)
    note: str = ""
    date: str = ""


def _load() -> dict[str, dict[str, object]]:
    if not RESULTS_JSON.exists():
        return {}
    data = json.loads(RESULTS_JSON.read_text())
    return {entry["name"]: entry for entry in data.get("figures", [])}


def record(
    name: str,
    value: float,
    unit: str,
    *,
    target: str | None = None,
    met: bool | None = None,
    note: str = "",
) -> Figure:
    """Store one figure (replacing an older figure of the same name) and rewrite both result files."""
    fig = Figure(
        name=name,
        value=round(float(value), 4),
        unit=unit,
        target=target,
        met=met,
        note=note,
        date=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d"),
    )
    figures = _load()
    figures[name] = asdict(fig)
    _write(figures)
    print(
        f"{name:55s} {fig.value:>14,.4g} {unit:10s} {target or ''} {'' if met is None else ('OK' if met else 'MISSED')}"
    )
    return fig


def _write(figures: dict[str, dict[str, object]]) -> None:
    ordered = [figures[k] for k in sorted(figures)]
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    RESULTS_JSON.write_text(json.dumps({"machine": machine, "figures": ordered}, indent=2) + "\n")
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m bench` (see `bench/README.md`); do not edit by hand.",
        f"Machine: {machine['cpus']} cores, Python {machine['python']}, {machine['platform']}.",
        "",
    ]
    area = None
    for f in ordered:
        top = str(f["name"]).split(".", 1)[0]
        if top != area:
            area = top
            lines += [
                "",
                f"## {area}",
                "",
                "| figure | value | unit | target | met | date | note |",
                "|---|---:|---|---|---|---|---|",
            ]
        met = "" if f["met"] is None else ("yes" if f["met"] else "**no**")
        lines.append(
            f"| {f['name']} | {f['value']:,} | {f['unit']} | {f['target'] or ''} | {met} | {f['date']} | {f['note']} |"
        )
    RESULTS_MD.write_text("\n".join(lines) + "\n")
