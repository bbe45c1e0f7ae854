"""`make bench`: load (or reuse) the data set, measure the portal against its references, print the table.

python -m bench.run [--db postgresql|sqlite] [--seconds 10] [--scale 1.0] [--only web,api] [--pages tracking]

`--only` runs some phases (the data set and sessions are always prepared) into bench/results/partial.json;
`--pages` keeps, of the portal's web scenarios, those whose names contain one of the given words.

Every phase has a time limit; a phase that fails or runs out of time gives its rows as "error"/"timeout" and
the run goes on. Results: the printed table and bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench import environment
from bench.report import Report, Row, machine, memory_row

RESULTS = environment.ROOT / "bench" / "results" / "latest.json"
CONNECTIONS = (8, 32)
INGEST_WARM_UP_SECONDS = 3  # batches before the ingestion run, so its RSS row measures growth, not warm-up
MESSAGE_WINDOW_SECONDS = int(os.environ.get("BENCH_MESSAGE_WINDOW", "90"))
# The phases `--only` can pick; the data set and the sessions are always prepared.
PHASES = (
    "statements",
    "weight",
    "predictions",
    "web",
    "api",
    "dispatcher",
    "messages",
    "labels",
    "lighthouse",
)


class PhaseTimeout(Exception):
    pass


@contextmanager
def phase(report: Report, name: str, seconds: int) -> Iterator[None]:
    """Run a phase under a time limit; a failure is reported as a row, never stops the run."""

    def expired(signum: int, frame: Any) -> None:
        raise PhaseTimeout(f"{name}: over {seconds} s")

    print(f"\n== {name} (limit {seconds} s)", flush=True)
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    started = time.perf_counter()
    try:
        yield
    except PhaseTimeout as error:
        report.add(Row(name, "timeout", note=str(error), passed=False))
    except Exception as error:  # a broken phase must not hide the others' figures
        traceback.print_exc()
        report.add(Row(name, f"error: {type(error).__name__}", note=str(error)[:300], passed=False))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        report.details.setdefault("phase_seconds", {})[name] = round(time.perf_counter() - started, 1)


def write_lines(name: str, lines: list[tuple[str, ...]]) -> Path:
    path = environment.DATA_DIR / "wrk" / f"{name}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("\t".join(line) + "\n" for line in lines))
    return path


def ratio(value: float, reference: float) -> float | None:
    return value / reference if reference and not math.isnan(reference) else None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--db", choices=("postgresql", "sqlite"), default=os.environ.get("BENCH_DB", "postgresql")
    )
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", "10")))
    parser.add_argument("--scale", type=float, default=float(os.environ.get("BENCH_SCALE", "1")))
    parser.add_argument("--messages", type=int, default=int(os.environ.get("BENCH_MESSAGES", "5000")))
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--only",
        default=os.environ.get("BENCH_ONLY", ""),
        help=f"comma-separated phases to run (default all): {', '.join(PHASES)}",
    )
    parser.add_argument(
        "--pages",
        default=os.environ.get("BENCH_PAGES", ""),
        help="comma-separated parts of web scenario names to run (default all), e.g. 'tracking,loyalty'",
    )
    args = parser.parse_args()
    selected = set(filter(None, args.only.split(","))) or set(PHASES)
    if unknown := selected - set(PHASES):
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    if args.only and args.output == RESULTS:
        args.output = RESULTS.with_name("partial.json")  # a partial run never replaces the full results
    run_started = time.perf_counter()
    report = Report()
    kind = args.db

    from bench.queues import SmtpSink

    smtp = SmtpSink()
    smtp.__enter__()
    env = environment.portal_environment(kind, mail_port=smtp.port)
    os.environ.update(env)
    environment.DATA_DIR.mkdir(parents=True, exist_ok=True)
    if kind == "postgresql":
        environment.ensure_postgres_database(env["DATABASE_URL"])

    from portal import create_app
    from portal.extensions import db

    app = create_app()
    servers: list[Any] = []
    data: dict[str, Any] = {}
    sessions: dict[str, Any] = {}
    wrk_results: dict[str, dict[int, Any]] = {}
    db_version = ""
    try:
        with phase(report, "data set", 1500):
            from bench.generate import ensure_dataset

            data = ensure_dataset(
                app,
                args.scale,
                environment.SQLITE_PATH if kind == "sqlite" else None,
                lambda m: print(m, flush=True),
            )
            counts = data["counts"]
            report.details["dataset"] = {
                **counts,
                "reused": data["reused"],
                "load_seconds": data["load_seconds"],
            }
            report.add(
                Row(
                    "data set",
                    f"{counts['orders']:,} orders, {counts['shipments']:,} shipments, "
                    f"{counts['tracking_events']:,} events, {counts.get('returns', 0):,} returns, "
                    f"{counts.get('loyalty_entries', 0):,} loyalty entries, "
                    f"{counts['sequence_messages']:,} messages "
                    f"(+ sent history: {counts['messages']:,} outbox rows), "
                    f"{counts['users'] - 1:,} customers",
                    reference="reused" if data["reused"] else f"loaded in {data['load_seconds']:.0f} s",
                )
            )
            with app.app_context():
                db_version = str(
                    db.session.scalar(
                        db.text("SELECT version()" if kind == "postgresql" else "SELECT sqlite_version()")
                    )
                )
        if not data:
            raise SystemExit("no data set; nothing to measure")
        plan = data["plan"]
        from bench import inprocess

        with phase(report, "sessions", 300):
            with app.app_context():
                from portal.queue import redis_connection

                redis_connection().flushdb()
            guests = [
                (f"/orders/{number}", inprocess.guest_session(app, number, email))
                for number, email in plan["showcase"][:200]
            ]
            small = [
                (f"/orders/{number}", inprocess.guest_session(app, number, email))
                for number, email in plan["small_orders"][:5]
            ]
            from bench.generate import ADMIN_EMAIL, PASSWORD

            shoppers = [
                ("/orders", inprocess.signed_in_session(app, email, PASSWORD))
                for email in plan["heavy_customers"][:20] + plan["light_customers"][:20]
            ]
            admin = inprocess.signed_in_session(app, ADMIN_EMAIL, PASSWORD)
            token, lookup_cookie = inprocess.lookup_form_session(app)
            sessions = {
                "guests": guests,
                "small": small,
                "shoppers": shoppers,
                "admin": admin,
                "lookup": (token, lookup_cookie),
            }
            sessions["optional"] = _optional_page_scenarios(app, sessions)
            sessions["available"] = {name for name, _ in sessions["optional"]}
            print(f"  {len(guests)} guest grants, {len(shoppers)} shoppers signed in", flush=True)

        if "statements" in selected:
            with phase(report, "SQL statements per page", 120):
                _statement_rows(app, report, sessions)

        if "weight" in selected:
            with phase(report, "page weight", 60):
                _page_weight_rows(app, report, sessions)

        if "predictions" in selected:
            with phase(report, "predictions refresh", 600):
                result = inprocess.time_refresh_predictions(app)
                report.details["predictions"] = result
                report.add(
                    Row(
                        f"transit-time model + risks over {result['events']:,} events",
                        f"{result['seconds']:.1f} s",
                        reference="page views read stored rows",
                        target="≤ 300 s",
                        passed=result["seconds"] <= 300,
                        note=result["summary"],
                    )
                )

        if "web" in selected:
            with phase(report, "web scenarios", 900):
                from bench.reference_apps import create_anchor_app, fill_anchor_tables
                from bench.servers import Server, drive, run_wrk, wait_drained, wait_quiet

                fill_anchor_tables(create_anchor_app())
                hello = Server("hello", "bench.reference_apps:hello", env, "/")
                anchor = Server("anchor", "bench.reference_apps:anchor", env, "/anchor/A100000")
                portal_server = Server("portal", "wsgi:app", env, "/healthz")
                # The same portal with the page cache off: what a page costs when nothing is stored for it.
                no_cache = {**env, "PAGE_CACHE_SECONDS": "0"}
                uncached = Server("portal-uncached", "wsgi:app", no_cache, "/healthz")
                servers += [hello, anchor, portal_server, uncached]
                for server in servers:
                    server.wait_ready()
                # Memory at ~1k requests: a warm-up over the guest and shopper pages.
                mix = sessions["guests"] + sessions["shoppers"]
                drive(portal_server.port, mix, 1000)
                rss_1k = portal_server.worker_rss_kb()
                served = 1000
                anchor_lines = write_lines(
                    "anchor", [(f"/anchor/A{100000 + i}", "") for i in range(0, 10_000, 7)]
                )
                hello_lines = write_lines("hello", [("/", "")])
                scenarios: list[tuple[str, Any, Path, str]] = [
                    ("hello world (ceiling)", hello, hello_lines, "pages.lua"),
                    ("anchor page", anchor, anchor_lines, "pages.lua"),
                    (
                        "order tracking page (guest)",
                        portal_server,
                        write_lines("order", sessions["guests"]),
                        "pages.lua",
                    ),
                    (
                        "order tracking page, page cache off (guest)",
                        uncached,
                        write_lines("order", sessions["guests"]),
                        "pages.lua",
                    ),
                    (
                        "shopper's order list",
                        portal_server,
                        write_lines("list", sessions["shoppers"]),
                        "pages.lua",
                    ),
                ]
                token, cookie = sessions["lookup"]
                lookup_lines = [(token, cookie)] + [tuple(pair) for pair in plan["showcase"][:2000]]
                scenarios.append(
                    ("guest lookup POST", portal_server, write_lines("lookup", lookup_lines), "lookup.lua")
                )
                extra = sessions["optional"]
                for name, lines in extra:
                    scenarios.append((name, portal_server, write_lines(name.split()[0], lines), "pages.lua"))
                if args.pages:  # the references always run; of the portal's pages only those asked for
                    scenarios = [
                        s
                        for s in scenarios
                        if s[1] not in (portal_server, uncached)
                        or any(p in s[0] for p in args.pages.split(","))
                    ]
                quiet_waits: dict[str, float] = {}
                for name, server, lines_path, script in scenarios:
                    if server is portal_server and script == "pages.lua":
                        # Each page once first, as its visitors saw it lately: a stored page expires after
                        # PAGE_CACHE_SECONDS, longer ago than the start of the run. (What a page costs when
                        # nothing is stored is the "page cache off" row.)
                        pages = [line.split("\t", 1) for line in lines_path.read_text().splitlines()]
                        served += drive(server.port, [(path, cookie) for path, cookie in pages], len(pages))
                    wrk_results[name] = {}
                    for connections in CONNECTIONS:
                        waited = quiet_waits[f"{name} @{connections}"] = round(wait_quiet(), 1)
                        result = run_wrk(server.base, "/", script, lines_path, connections, args.seconds)
                        wrk_results[name][connections] = result
                        if server is portal_server:
                            served += result.requests
                        wait_drained(server.port, server.ready_path)
                        print(
                            f"  {name} @{connections}: {result.rps:,.0f} req/s, p99 {result.p99_ms:.1f} ms, "
                            f"unexpected {result.unexpected}, socket errors {result.socket_errors}, "
                            f"waited {waited:.1f} s for a quiet machine",
                            flush=True,
                        )
                rss_late = portal_server.worker_rss_kb()
                report.details["quiet_waits_seconds"] = quiet_waits
                _web_rows(report, wrk_results)
                _missing_page_rows(report, sessions)
                report.details["wrk"] = {
                    name: {c: r.as_dict() for c, r in results.items()}
                    for name, results in wrk_results.items()
                }
                report.add(
                    memory_row(
                        f"web worker RSS after {served:,} requests",
                        max(rss_1k, default=0),
                        max(rss_late, default=0),
                        "after 1,000",
                        values={"rss_1k_kb": rss_1k, "rss_late_kb": rss_late, "requests": served},
                        note="largest of the gunicorn workers; requests across both workers",
                    )
                )

        if "api" in selected:
            with phase(report, "API ingestion", 240):
                from bench.servers import run_wrk, wait_drained

                core = inprocess.core_insert_rate(app, plan["ingest_targets"])
                portal_server = next((s for s in servers if s.name == "portal"), None)
                if portal_server is None:  # the web phase was not run
                    from bench.servers import Server

                    portal_server = Server("portal", "wsgi:app", env, "/healthz")
                    servers.append(portal_server)
                    portal_server.wait_ready()
                targets = [tuple(t) for t in plan["ingest_targets"]]
                # A short run first: the memory row compares a worker that has ingested before with itself
                # after many more batches (growth, not the first allocations of a code path it had not run).
                warm_path = write_lines("ingest-warm", [(plan["api_token"], uuid.uuid4().hex[:8]), *targets])
                run_wrk(portal_server.base, "/", "ingest.lua", warm_path, 8, INGEST_WARM_UP_SECONDS)
                ingest_path = write_lines("ingest", [(plan["api_token"], uuid.uuid4().hex[:8]), *targets])
                wait_drained(portal_server.port, portal_server.ready_path)
                rss_before = portal_server.worker_rss_kb()
                result = run_wrk(portal_server.base, "/", "ingest.lua", ingest_path, 8, args.seconds)
                rss_after = portal_server.worker_rss_kb()
                # batches still in flight land first
                wait_drained(portal_server.port, portal_server.ready_path)
                removed = inprocess.remove_ingested(app)
                events_per_second = result.rps * 100
                share = ratio(events_per_second, core["events_per_second"])
                report.details["ingestion"] = {"core": core, "api": result.as_dict(), "removed": removed}
                report.add(
                    Row(
                        "API ingestion, batches of 100 (8 conn.)",
                        f"{events_per_second:,.0f} events/s",
                        reference=f"{core['events_per_second']:,.0f} events/s Core executemany",
                        ratio=share,
                        target="≥ 0.25",
                        passed=share is not None and share >= 0.25 and result.unexpected == 0,
                        note=f"p99 {result.p99_ms:.0f} ms; unexpected answers {result.unexpected}",
                    )
                )
                report.add(
                    memory_row(
                        f"web worker RSS over {result.requests:,} ingestion batches",
                        max(rss_before, default=0),
                        max(rss_after, default=0),
                        f"after a {INGEST_WARM_UP_SECONDS} s warm-up",
                        values={"before_kb": rss_before, "after_kb": rss_after},
                    )
                )
        for server in servers:
            server.stop()
        servers = []

        if "dispatcher" in selected:
            with phase(report, "dispatcher", 180):
                explain = inprocess.explain_due_selection(app)
                report.details["dispatcher_explain"] = explain
                print("  EXPLAIN:\n    " + "\n    ".join(explain["plan"]), flush=True)
                report.add(
                    Row(
                        f"due selection, {explain['outbox_rows']:,} outbox rows",
                        "index scan" if explain["uses_index"] else "no index",
                        reference="ix_messages_status_due",
                        target="by index",
                        passed=explain["uses_index"],
                        note=" / ".join(explain["plan"])[:300],
                    )
                )
                reset = inprocess.reset_due_messages(app)
                dispatch = inprocess.time_dispatch(app)
                report.details["dispatch"] = {**dispatch, "reset": reset}
                report.add(
                    Row(
                        f"dispatcher: {dispatch['queued']:,} due messages queued",
                        f"{dispatch['per_second']:,.0f} msg/s",
                        target="≥ 1,000/s",
                        passed=dispatch["per_second"] >= 1000,
                    )
                )

        if "messages" in selected:
            with phase(report, "messages to SMTP", 600):
                _message_rows(app, report, env, smtp, args.messages)

        if "labels" in selected:
            with phase(report, "labels", 420):
                _label_rows(app, report, env, plan.get("label_returns", []))

        if "lighthouse" in selected:
            with phase(report, "Lighthouse", 1200):
                from bench import lighthouse

                lighthouse.measure(report, env, sessions)
    finally:
        for server in servers:
            server.stop()
        smtp.__exit__(None, None, None)

    meta = {
        "database": kind,
        "database_version": db_version,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds_per_wrk_run": args.seconds,
        "gunicorn": " ".join(environment.GUNICORN_ARGS),
        "machine": machine(),
        "run_seconds": round(time.perf_counter() - run_started, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    report.write(args.output, meta)
    if args.output == RESULTS:
        report.write(RESULTS.with_name(f"latest-{kind}.json"), meta)
    print(
        f"\nDoorstep benchmark on {kind} ({db_version.split(',')[0]}), {meta['machine']['cores']} cores "
        f"({meta['machine']['cpu']}), load {', '.join(f'{x:.1f}' for x in meta['machine']['load_average'])}, "
        f"wrk {args.seconds} s per run, gunicorn {meta['gunicorn']}; run took {meta['run_seconds']:.0f} s\n"
    )
    print(report.table())
    print(f"\nwritten: {args.output}")
    return 0


# --- rows ---------------------------------------------------------------------------------------------------


def _web_rows(report: Report, results: dict[str, dict[int, Any]]) -> None:
    hello = results.get("hello world (ceiling)", {})
    anchor = results.get("anchor page", {})
    for connections in CONNECTIONS:
        if connections in hello:
            report.add(
                Row(
                    f"hello world @{connections}",
                    f"{hello[connections].rps:,.0f} req/s",
                    target="ceiling",
                    note=f"p99 {hello[connections].p99_ms:.1f} ms",
                )
            )
    for connections in CONNECTIONS:
        if connections in anchor and connections in hello:
            a = anchor[connections]
            report.add(
                Row(
                    f"anchor page @{connections}",
                    f"{a.rps:,.0f} req/s",
                    reference=f"{hello[connections].rps:,.0f} hello",
                    ratio=ratio(a.rps, hello[connections].rps),
                    target="(≈ 0.2 expected)",
                    note=f"p99 {a.p99_ms:.1f} ms; unexpected {a.unexpected}",
                )
            )
    targets = {
        "order tracking page (guest)": 0.6,
        "order tracking page, page cache off (guest)": None,
        "shopper's order list": 0.5,
        "guest lookup POST": None,
        "loyalty page": 0.5,
        "back-office search": 0.5,
        "back-office dashboard": 0.5,
    }
    for name, share in targets.items():
        if name not in results:
            continue
        for connections in CONNECTIONS:
            r, a = results[name][connections], anchor.get(connections)
            if a is None:
                continue
            value = ratio(r.rps, a.rps)
            ok = None if share is None else (value is not None and value >= share and r.unexpected == 0)
            report.add(
                Row(
                    f"{name} @{connections}",
                    f"{r.rps:,.0f} req/s",
                    reference=f"{a.rps:,.0f} anchor",
                    ratio=value,
                    target=f"≥ {share:.2f}" if share is not None else "(report)",
                    passed=ok,
                    note=f"p99 {r.p99_ms:.1f} ms; unexpected answers {r.unexpected}; "
                    f"socket errors {r.socket_errors}",
                )
            )
            if name == "order tracking page (guest)":
                p99 = ratio(r.p99_ms, a.p99_ms)
                report.add(
                    Row(
                        f"{name} p99 @{connections}",
                        f"{r.p99_ms:.1f} ms",
                        reference=f"{a.p99_ms:.1f} ms anchor",
                        ratio=p99,
                        target="≤ 2.00",
                        passed=p99 is not None and p99 <= 2.0,
                    )
                )


def _statement_rows(app: Any, report: Report, sessions: dict[str, Any]) -> None:
    # Counted with the page cache off: what rendering a page costs. A page served from the cache runs one
    # statement (the access check) or two (with the signed-in user).
    page_cache = app.config["PAGE_CACHE_SECONDS"]
    app.config["PAGE_CACHE_SECONDS"] = 0
    try:
        _count_statement_rows(app, report, sessions)
    finally:
        app.config["PAGE_CACHE_SECONDS"] = page_cache


def _count_statement_rows(app: Any, report: Report, sessions: dict[str, Any]) -> None:
    from bench.inprocess import count_statements

    pairs = [("order page", sessions["small"][0], sessions["guests"][0])]
    shoppers = sessions["shoppers"]
    half = len(shoppers) // 2
    pairs.append(("order list", shoppers[half], shoppers[0]))  # light customer, heavy customer
    if "loyalty page" in sessions["available"]:
        pairs.append(("loyalty page", ("/loyalty", shoppers[half][1]), ("/loyalty", shoppers[0][1])))
    for name, small, large in pairs:
        small_count, small_status = count_statements(app, small[1], small[0])
        large_count, large_status = count_statements(app, large[1], large[0])
        report.add(
            Row(
                f"SQL statements: {name}",
                f"{small_count} / {large_count}",
                reference="small / large object",
                target="equal",
                passed=small_count == large_count and small_status == large_status == 200,
                note=f"statuses {small_status}/{large_status}",
            )
        )
    if "back-office search" in sessions["available"]:
        small_count, small_status = count_statements(app, sessions["admin"], "/backoffice/?q=100999")
        large_count, large_status = count_statements(app, sessions["admin"], "/backoffice/?q=Customer")
        report.add(
            Row(
                "SQL statements: back-office search",
                f"{small_count} / {large_count}",
                reference="1 hit / many hits",
                target="equal",
                passed=small_count == large_count and small_status == large_status == 200,
                note=f"statuses {small_status}/{large_status}",
            )
        )
    if "back-office dashboard" in sessions["available"]:
        count, status = count_statements(app, sessions["admin"], "/backoffice/dashboard")
        report.add(
            Row(
                "SQL statements: back-office dashboard",
                str(count),
                target="(report)",
                note=f"status {status}",
            )
        )


def _page_weight_rows(app: Any, report: Report, sessions: dict[str, Any]) -> None:
    from bench.inprocess import page_weight

    pages = [("start page /", "", "/"), ("order page", sessions["guests"][0][1], sessions["guests"][0][0])]
    if "loyalty page" in sessions["available"]:
        pages.append(("loyalty page", sessions["shoppers"][0][1], "/loyalty"))
    else:
        report.not_built(
            "page weight: loyalty page", "≤ 30 KB", sessions["missing"].get("loyalty page", "not built")
        )
    for name, cookie, path in pages:
        weight = page_weight(app, cookie, path)
        report.details.setdefault("page_weight", {})[name] = weight
        report.add(
            Row(
                f"page weight: {name}",
                f"{weight['bytes'] / 1024:.1f} KB gzip",
                reference="HTML + CSS + JS",
                target="≤ 30 KB",
                passed=weight["bytes"] <= 30 * 1024 and weight["status"] == 200,
                note=", ".join(f"{k} {v}" for k, v in weight["parts"].items()),
            )
        )


def _optional_page_scenarios(app: Any, sessions: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Pages of areas that may not be built yet: (scenario name, wrk lines) for those that answer 200 now.

    Those that do not are listed in sessions["missing"] with the reason (e.g. "not built: 404").
    """
    from bench.inprocess import fetch

    admin = sessions["admin"]
    searches = (
        "100123",
        "customer42@example.com",
        "Customer 17",
        "DHL0000001234",
        "100999",
        "guest77",
        "RMA",
    )
    candidates = {
        "loyalty page": [("/loyalty", cookie) for _path, cookie in sessions["shoppers"]],
        "back-office search": [(f"/backoffice/?q={quote(q)}", admin) for q in searches],
        "back-office dashboard": [("/backoffice/dashboard", admin)],
    }
    scenarios: list[tuple[str, list[tuple[str, str]]]] = []
    missing = sessions.setdefault("missing", {})
    for name, lines in candidates.items():
        status = fetch(app, lines[0][1], lines[0][0]).status_code
        if status == 200:
            scenarios.append((name, lines))
        else:
            missing[name] = f"not built: {status}"
    return scenarios


def _missing_page_rows(report: Report, sessions: dict[str, Any]) -> None:
    for name, why in sessions.get("missing", {}).items():
        report.not_built(name, "≥ 0.50 of anchor", why)


def _message_rows(app: Any, report: Report, env: dict[str, str], smtp: Any, count: int) -> None:
    from bench import inprocess
    from bench.queues import enqueue_noops, finished_job_ids, job_rate, messages_sent, run_burst_workers
    from portal.messaging.tasks import MESSAGES_PER_JOB
    from portal.queue import redis_connection

    workers = 2
    with app.app_context():
        from sqlalchemy import select

        from portal.extensions import db
        from portal.messaging.models import Message

        connection = redis_connection()
        connection.flushdb()
        # The dispatcher phase queued the due rows; queue them again if that phase did not run.
        inprocess.reset_due_messages(app)
        ids = list(
            db.session.scalars(select(Message.id).where(Message.scope == "bench").order_by(Message.id))
        )[:count]
        db.session.rollback()
    from bench.inprocess import time_dispatch

    time_dispatch(app)
    before = smtp.received
    # Bounded: on a busy machine 5,000 sends can take longer than the run may; the rate comes from the jobs
    # finished within the window (RQ's timestamps), the rest are dropped with the queue.
    run = run_burst_workers(env, workers, ["messages"], timeout=MESSAGE_WINDOW_SECONDS)
    with app.app_context():
        # Every send the workers finished: the dispatcher queues due rows by due time, so other due messages
        # of the data set (e.g. the at-risk notices) may come before the benchmark's own.
        # Messages go MESSAGES_PER_JOB to a job: the rate counts e-mails sent, not jobs.
        sent = job_rate(redis_connection(), finished_job_ids(redis_connection()), units=messages_sent)
        redis_connection().flushdb()
        noop_ids = enqueue_noops(redis_connection(), len(ids))
    noop_run = run_burst_workers(env, workers, ["messages"], timeout=MESSAGE_WINDOW_SECONDS * 2 // 3)
    with app.app_context():
        noop = job_rate(redis_connection(), noop_ids)
        redis_connection().flushdb()
    received = smtp.received - before
    per_worker, noop_per_worker = sent["per_worker"], noop["per_worker"]
    share = ratio(per_worker, noop_per_worker)
    report.details["messages"] = {
        "sent": sent,
        "noop": noop,
        "smtp_received": received,
        "workers": workers,
        "wall_seconds": run["seconds"],
        "noop_wall_seconds": noop_run["seconds"],
    }
    report.add(
        Row(
            f"messages through the queue to SMTP ({received:,} of {len(ids):,} received"
            + (f" in {MESSAGE_WINDOW_SECONDS} s)" if run["timed_out"] else ")"),
            f"{per_worker:,.1f} msg/s per worker",
            reference=f"{noop_per_worker:,.1f} no-op jobs/s per worker",
            ratio=share,
            target="≥ 0.50",
            passed=share is not None and share >= 0.5 and received >= sent["units"] * 0.95,
            note=(
                f"{workers} workers (python worker.py --burst); {sent['units']:,} sent by {sent['jobs']:,} "
                f"jobs (up to {MESSAGES_PER_JOB} messages each); {sent['failed']} failed jobs"
            ),
        )
    )


def _label_rows(app: Any, report: Report, env: dict[str, str], return_ids: list[int]) -> None:
    from bench import labels

    if not labels.available() or not return_ids:
        report.not_built("label through the queue (500)", "≥ 0.80 of in-process")
        report.not_built("one label vs minimal WeasyPrint page", "≤ 1.30")
        report.not_built("label worker RSS 50 → 500 labels", "≤ 1.10×")
        return
    labels.measure(app, report, env, return_ids)


if __name__ == "__main__":
    raise SystemExit(main())
