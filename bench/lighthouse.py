"""Lighthouse's mobile scores (performance, accessibility, best practices) of the start, order and loyalty
pages, served by gunicorn with the benchmark's settings, in Debian's Chromium kept offline.

Lighthouse comes from bench/lighthouse/package.json (`npm ci --prefix bench/lighthouse`, run by `make bench`),
never from the root package.json that `make test` installs. Its defaults are kept: mobile form factor,
simulated throttling. Each page is measured BENCH_LIGHTHOUSE_RUNS times (default 3); the rows give the median
score per category, the JSON every run's scores, metrics and the audits that cost points; the full reports are
written to bench/data/lighthouse/.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.environment import DATA_DIR, ROOT
from bench.report import Report, Row

LIGHTHOUSE_DIR = ROOT / "bench" / "lighthouse"
LIGHTHOUSE_CLI = LIGHTHOUSE_DIR / "node_modules" / "lighthouse" / "cli" / "index.js"
REPORT_DIR = DATA_DIR / "lighthouse"
CHROME_PATH = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
NODE = os.environ.get("BENCH_NODE", "node")
RUNS = max(1, int(os.environ.get("BENCH_LIGHTHOUSE_RUNS", "3")))
RUN_TIMEOUT_SECONDS = 240

TARGETS = {"performance": 0.95, "accessibility": 1.0, "best-practices": 0.95}
METRICS = {
    "first-contentful-paint": "FCP",
    "largest-contentful-paint": "LCP",
    "total-blocking-time": "TBT",
    "cumulative-layout-shift": "CLS",
    "speed-index": "SI",
}

# Headless Chromium that calls nobody: the background services off (chrome-launcher adds its own list of
# them too), and every host name but localhost unresolvable, so the page under test is the only thing reached.
CHROME_FLAGS = [
    "--headless=new",
    "--no-sandbox",  # the benchmark runs as root in a container
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-domain-reliability",
    "--host-resolver-rules='MAP * ~NOTFOUND , EXCLUDE localhost'",
]


def available() -> bool:
    return LIGHTHOUSE_CLI.is_file() and Path(CHROME_PATH).is_file()


def pages(sessions: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(name, path, Cookie header) of the pages measured; the loyalty page only once that area answers."""
    order_path, guest_cookie = sessions["guests"][0]
    chosen = [("start page", "/", ""), ("order page (guest)", order_path, guest_cookie)]
    if "loyalty page" in sessions.get("available", ()):
        chosen.append(("loyalty page (shopper)", "/loyalty", sessions["shoppers"][0][1]))
    return chosen


def run_lighthouse(url: str, cookie: str, output: Path) -> dict[str, Any]:
    """One Lighthouse run with its default settings (mobile, simulated throttling); returns its report."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lighthouse-") as scratch:
        command = [
            NODE,
            str(LIGHTHOUSE_CLI),
            url,
            "--output=json",
            f"--output-path={output}",
            "--only-categories=" + ",".join(TARGETS),
            "--chrome-flags=" + " ".join(CHROME_FLAGS),
            "--no-enable-error-reporting",
            "--quiet",
        ]
        if cookie:
            # A file, not the command line: the session cookie stays out of `ps`.
            headers = Path(scratch) / "headers.json"
            headers.write_text(json.dumps({"Cookie": cookie}))
            command.append(f"--extra-headers={headers}")
        completed = subprocess.run(  # noqa: S603 - fixed command
            command,
            cwd=LIGHTHOUSE_DIR,
            env={**os.environ, "CHROME_PATH": CHROME_PATH, "TMPDIR": scratch},
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_SECONDS,
            check=False,
        )
    if completed.returncode != 0 or not output.is_file():
        raise RuntimeError(f"lighthouse {url} exited {completed.returncode}: {completed.stderr[-1500:]}")
    result: dict[str, Any] = json.loads(output.read_text())
    if result.get("runtimeError"):
        raise RuntimeError(f"lighthouse {url}: {result['runtimeError']}")
    final_url = result.get("finalDisplayedUrl") or result.get("finalUrl", "")
    if final_url.split("?")[0] != url.split("?")[0]:
        raise RuntimeError(f"lighthouse {url} ended on {final_url} (redirected: session not accepted?)")
    return result


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """Scores, metrics and, per category, the audits that cost points (weighted ones below 1, and for
    performance also the opportunities and diagnostics Lighthouse flags)."""
    audits = result["audits"]
    scores = {name: result["categories"][name]["score"] for name in TARGETS}
    metrics = {
        short: audits[audit_id].get("displayValue", "").replace("\xa0", " ")
        for audit_id, short in METRICS.items()
        if audit_id in audits
    }
    failing: dict[str, list[dict[str, Any]]] = {}
    for name in TARGETS:
        flagged = []
        for ref in result["categories"][name]["auditRefs"]:
            audit = audits[ref["id"]]
            score = audit.get("score")
            if score is None or audit.get("scoreDisplayMode") in ("notApplicable", "informative", "manual"):
                continue
            costs_points = ref.get("weight", 0) > 0 and score < 1
            flagged_by_lighthouse = name == "performance" and ref.get("weight", 0) == 0 and score < 0.9
            if costs_points or flagged_by_lighthouse:
                flagged.append(
                    {
                        "id": ref["id"],
                        "title": audit.get("title", ""),
                        "score": score,
                        "weight": ref.get("weight", 0),
                        "display": audit.get("displayValue", "").replace("\xa0", " "),
                    }
                )
        failing[name] = flagged
    return {"scores": scores, "metrics": metrics, "failing": failing}


def measure(report: Report, env: dict[str, str], sessions: dict[str, Any]) -> None:
    from bench.servers import Server, drive

    chosen = pages(sessions)
    if "loyalty page" not in sessions.get("available", ()):
        why = sessions.get("missing", {}).get("loyalty page", "not built")
        for category, target in TARGETS.items():
            report.not_built(f"Lighthouse mobile: loyalty page (shopper), {category}", f"≥ {target:.2f}", why)
    if not available():
        why = f"Lighthouse not installed: npm ci --prefix {LIGHTHOUSE_DIR.relative_to(ROOT)}"
        if not Path(CHROME_PATH).is_file():
            why = f"no Chromium at {CHROME_PATH}"
        for name, _path, _cookie in chosen:
            for category, target in TARGETS.items():
                report.not_built(f"Lighthouse mobile: {name}, {category}", f"≥ {target:.2f}", why)
        return
    server = Server("portal-lighthouse", "wsgi:app", env, "/healthz")
    try:
        server.wait_ready()
        # Warm both workers (imports, compiled templates, caches), as a live portal would be.
        drive(server.port, [(path, cookie) for _name, path, cookie in chosen], 60)
        # localhost, not 127.0.0.1: Chromium resolves nothing else (CHROME_FLAGS).
        base = f"http://localhost:{server.port}"
        details: dict[str, Any] = {"runs_per_page": RUNS, "chrome": CHROME_PATH, "pages": {}}
        report.details["lighthouse"] = details  # filled as the pages are measured
        for name, path, cookie in chosen:
            slug = re.sub(r"[^a-z]+", "-", name.lower()).strip("-")
            runs = []
            for index in range(RUNS):
                output = REPORT_DIR / f"{slug}-{index + 1}.json"
                result = run_lighthouse(base + path, cookie, output)
                details.setdefault("lighthouse_version", result.get("lighthouseVersion"))
                details.setdefault("user_agent", result.get("environment", {}).get("hostUserAgent"))
                details.setdefault(
                    "settings",
                    {
                        key: result["configSettings"].get(key)
                        for key in ("formFactor", "throttlingMethod", "throttling", "screenEmulation")
                    },
                )
                runs.append({**summarise(result), "report": str(output.relative_to(ROOT))})
                print(f"  {name} run {index + 1}: {runs[-1]['scores']} {runs[-1]['metrics']}", flush=True)
            medians = {
                category: statistics.median([run["scores"][category] or 0 for run in runs])
                for category in TARGETS
            }
            details["pages"][name] = {"path": path, "median": medians, "runs": runs}
            for category, target in TARGETS.items():
                report.add(_row(name, category, target, medians[category], runs))
    finally:
        server.stop()


def _row(name: str, category: str, target: float, median: float, runs: list[dict[str, Any]]) -> Row:
    # The audits of the run whose score is nearest the median (of an even number of runs, none may equal it).
    middle = min(runs, key=lambda run: abs((run["scores"][category] or 0) - median))
    flagged = ", ".join(
        f"{audit['id']} {audit['display']}".strip()
        for audit in middle["failing"][category]
        if audit["id"] not in METRICS  # the metrics lead the note already
    )
    note = "; ".join(
        part
        for part in (
            " ".join(f"{k} {v}" for k, v in middle["metrics"].items()) if category == "performance" else "",
            f"flagged: {flagged}" if flagged else "",
        )
        if part
    )
    return Row(
        f"Lighthouse mobile: {name}, {category}",
        f"{median:.2f}",
        reference=f"median of {len(runs)} runs" if len(runs) > 1 else "",
        target=f"≥ {target:.2f}",
        passed=median >= target,
        note=note[:300],
        values={
            "scores": [run["scores"][category] for run in runs],
            "reports": [run["report"] for run in runs],
        },
    )
