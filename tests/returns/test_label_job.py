"""The label job: run by a real RQ worker on real Redis, idempotent, and recovered when its job is lost."""

from __future__ import annotations

import importlib.util
import io
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from portal import clock
from portal.audit import Actor
from portal.extensions import db
from portal.queue import get_queue
from portal.returns.models import Return, ReturnLabel
from portal.returns.service import LABEL_JOB, LineRequest, ReturnRequest, request_return
from portal.returns.tasks import render_return_label, sweep_labels
from tests.conftest import ROOT, worker_env
from tests.returns.conftest import delivered_order, item_id


def approved_return(api: Any, number: str = "1001", **order: Any) -> Return:
    placed = delivered_order(api, number, **order)
    line = LineRequest(item_id(number, "TEE-BLK-M"), 1, "too_small")
    item, _ = request_return(
        placed, ReturnRequest([line], "refund", "label", f"key-{number}-0000000000"), Actor.system("test")
    )
    db.session.commit()
    assert item.status == "approved"
    return item


def labels() -> list[ReturnLabel]:
    db.session.expire_all()
    return list(db.session.scalars(select(ReturnLabel)))


def pdf_text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_a_real_worker_stores_exactly_one_label(api: Any, run_worker: Any, today: datetime) -> None:
    item = approved_return(api)
    assert get_queue("labels").job_ids == [f"label-{item.id}-1"]  # queued once the request committed
    result = run_worker("labels")
    assert result.returncode == 0, result.stderr
    [label] = labels()
    assert label.state == "ready" and label.attempts == 1
    assert label.pdf is not None and len(label.pdf) == label.size
    import hashlib

    assert hashlib.sha256(label.pdf).hexdigest() == label.sha256
    assert label.generated_at is not None
    assert item.rma in pdf_text(label.pdf)
    assert db.session.get(Return, item.id).status == "label_ready"  # type: ignore[union-attr]


def test_label_jobs_run_in_the_worker_process_not_a_forked_one(
    api: Any, today: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # worker.py's own worker class, run here: a label job that forked would hit the patched os.fork.
    spec = importlib.util.spec_from_file_location("worker_module", ROOT / "worker.py")
    assert spec is not None and spec.loader is not None
    worker_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(worker_module)
    approved_return(api, "1001")
    approved_return(api, "1002")

    def no_fork() -> int:
        raise AssertionError("a label job was run in a forked work horse")

    monkeypatch.setattr(os, "fork", no_fork)
    queue = get_queue("labels")
    worker = worker_module.PortalWorker([queue], connection=queue.connection)
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker.work(burst=True)
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)

    assert [(label.state, label.attempts) for label in labels()] == [("ready", 1), ("ready", 1)]
    assert queue.finished_job_registry.count == 2


def test_running_the_job_again_leaves_the_one_label(api: Any, today: datetime) -> None:
    item = approved_return(api)
    assert render_return_label(item.id) == "stored"
    first = labels()[0]
    sha, generated = first.sha256, first.generated_at
    assert render_return_label(item.id) == "not claimed"
    [again] = labels()
    assert (again.sha256, again.generated_at, again.attempts) == (sha, generated, 1)
    events = [e.status for e in db.session.get(Return, item.id).events]  # type: ignore[union-attr]
    assert events.count("label_ready") == 1


def test_two_workers_at_once_leave_one_label(api: Any, app_config: dict[str, Any], today: datetime) -> None:
    item = approved_return(api)
    # The same work asked for twice under different job ids (say, the sweeper and a retry).
    queue = get_queue("labels")
    queue.enqueue(LABEL_JOB, item.id, job_id=f"label-{item.id}-duplicate")
    assert queue.count == 2
    env = worker_env(app_config)
    command = [sys.executable, str(ROOT / "worker.py"), "--burst", "--queues", "labels"]
    workers = [
        subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for worker in workers:
        _, stderr = worker.communicate(timeout=120)
        assert worker.returncode == 0, stderr
    [label] = labels()
    assert label.state == "ready" and label.attempts == 1
    assert db.session.scalar(select(func.count()).select_from(ReturnLabel)) == 1


def test_the_sweeper_queues_a_label_whose_worker_died(api: Any, run_worker: Any, today: datetime) -> None:
    item = approved_return(api)
    get_queue("labels").empty()  # the job is lost
    label = labels()[0]
    label.state, label.claimed_at, label.claim_token, label.attempts = "rendering", today, "dead-worker", 1
    db.session.commit()
    assert sweep_labels() == 0  # the claim is still within its lease
    with clock.freeze(today + timedelta(seconds=46)):
        assert sweep_labels() == 1
        assert sweep_labels() == 0  # queued once
    assert get_queue("labels").job_ids == [f"label-{item.id}-2"]
    assert run_worker("labels").returncode == 0
    [label] = labels()
    assert label.state == "ready" and label.attempts == 2


def test_a_label_that_keeps_failing_is_marked_failed(api: Any, app: Any, today: datetime) -> None:
    item = approved_return(api)
    label = labels()[0]
    label.state, label.claimed_at, label.attempts = "rendering", today - timedelta(hours=1), 5
    db.session.commit()
    assert render_return_label(item.id) == "not claimed"
    sweep_labels()
    [label] = labels()
    assert label.state == "failed"


def test_awkward_addresses_still_make_a_label(api: Any, today: datetime) -> None:
    long_line = "Straße " * 70
    address = {
        "name": "<b>Ada</b> & \u05e9\u05dc\u05d5\u05dd \u05e2\u05dc\u05d9\u05db\u05dd",
        "line1": long_line[:200],
        "line2": "<script>alert(1)</script>",
        "city": "\u0627\u0644\u0642\u0627\u0647\u0631\u0629",
        "postal_code": "10115",
        "country": "DE",
    }
    item = approved_return(api, shipping_address=address, customer_name="<i>Ada</i>")
    assert render_return_label(item.id) == "stored"
    [label] = labels()
    assert label.pdf is not None
    reader = PdfReader(io.BytesIO(label.pdf))
    assert len(reader.pages) == 1
    text = pdf_text(label.pdf)
    assert item.rma in text and "<b>Ada</b>" in text


def test_staff_can_have_a_failed_label_made_again(api: Any, run_worker: Any, today: datetime) -> None:
    from portal.returns.service import failed_labels, retry_label

    item = approved_return(api)
    get_queue("labels").empty()
    label = labels()[0]
    label.state, label.attempts, label.last_error = "failed", 5, "LabelRenderError: boom"
    db.session.commit()
    assert [r.rma for r in failed_labels()] == [item.rma]
    retry_label(db.session.get(Return, item.id), Actor.system("agent"))  # type: ignore[arg-type]
    db.session.commit()
    assert failed_labels() == []
    assert run_worker("labels").returncode == 0
    [label] = labels()
    assert label.state == "ready" and label.attempts == 1
