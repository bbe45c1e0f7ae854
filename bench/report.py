"""The benchmark's table (what | figure | reference | ratio | target | result) and its JSON file."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    what: str
    figure: str
    reference: str = ""
    ratio: float | None = None
    target: str = ""
    passed: bool | None = None  # None: informational or not measured
    note: str = ""
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def result(self) -> str:
        if self.passed is None:
            return "n/a" if self.figure.startswith("n/a") else ""
        return "pass" if self.passed else "FAIL"


def memory_row(what: str, before_kb: float, after_kb: float, reference: str, **extra: Any) -> Row:
    """RSS after the work against RSS at the reference point; the target is growth of at most 10%."""
    growth = after_kb / before_kb if before_kb else float("nan")
    return Row(
        what,
        f"{after_kb / 1024:.0f} MB",
        reference=f"{before_kb / 1024:.0f} MB {reference}",
        ratio=growth,
        target="≤ 1.10×",
        passed=growth <= 1.10,
        **extra,
    )


class Report:
    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.details: dict[str, Any] = {}

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        print(f"  · {row.what}: {row.figure}" + (f"  ({row.result})" if row.result else ""), flush=True)
        return row

    def not_built(self, what: str, target: str, why: str = "not built") -> None:
        self.add(Row(what, f"n/a ({why})", target=target))

    def table(self) -> str:
        headers = ("what", "figure", "reference", "ratio", "target", "result")
        body = [
            (
                row.what,
                row.figure,
                row.reference,
                f"{row.ratio:.2f}" if row.ratio is not None else "",
                row.target,
                row.result,
            )
            for row in self.rows
        ]
        widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(headers)]
        line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
        rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        rows = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in body]
        return "\n".join([line, rule, *rows])

    def write(self, path: Path, meta: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            **meta,
            "rows": [{**asdict(row), "result": row.result} for row in self.rows],
            "details": self.details,
        }
        path.write_text(json.dumps(payload, indent=2, default=str) + "\n")


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "system": platform.platform(),
        "load_average": os.getloadavg(),
    }
