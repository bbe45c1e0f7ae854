"""A worker killed with SIGKILL in the middle of rendering a label: a restarted worker finishes the job, and
there is exactly one label in the end, well within two minutes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from portal.extensions import db
from portal.returns.models import Return, ReturnLabel
from portal.returns.tasks import TEST_DELAY_ENV
from tests.conftest import ROOT, worker_env
from tests.returns.test_label_job import approved_return


def start_worker(app_config: dict[str, Any], **extra_env: str) -> subprocess.Popen[bytes]:
    env = {
        **worker_env(app_config),
        # A short lease and a quick periodic sweep, so the test does not wait for the production minute.
        "LABEL_RENDER_LEASE_SECONDS": "8",
        "LABEL_JOB_TIMEOUT_SECONDS": "6",
        "MESSAGE_DISPATCH_INTERVAL_SECONDS": "2",
        **extra_env,
    }
    command = [sys.executable, str(ROOT / "worker.py"), "--queues", "labels"]
    # A session of its own, so the kill reaches the work horse RQ forked as well as the worker.
    return subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def label_state() -> tuple[str, int] | None:
    db.session.expire_all()
    row = db.session.execute(select(ReturnLabel.state, ReturnLabel.attempts)).first()
    db.session.rollback()
    return (row[0], row[1]) if row else None


def wait_for(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


def kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def test_a_worker_killed_mid_render_is_recovered(
    api: Any, app_config: dict[str, Any], today: datetime
) -> None:
    item = approved_return(api)
    # The first worker renders slowly (a test-only pause inside the job) and is killed in the middle.
    first = start_worker(app_config, **{TEST_DELAY_ENV: "30"})
    try:
        assert wait_for(lambda: label_state() == ("rendering", 1), timeout=60), label_state()
        time.sleep(0.5)
    finally:
        kill(first)
    killed_at = time.monotonic()
    assert label_state() == ("rendering", 1)

    second = start_worker(app_config)
    try:
        recovered = wait_for(lambda: (label_state() or ("", 0))[0] == "ready", timeout=120)
        took = time.monotonic() - killed_at
    finally:
        kill(second)
    assert recovered, f"no label within two minutes: {label_state()}"
    assert took < 120
    assert db.session.scalar(select(func.count()).select_from(ReturnLabel)) == 1
    state = label_state()
    assert state is not None and state[0] == "ready" and state[1] == 2
    db.session.expire_all()
    assert db.session.get(Return, item.id).status == "label_ready"  # type: ignore[union-attr]


def test_sigterm_lets_the_worker_finish_the_label_it_is_rendering(
    api: Any, app_config: dict[str, Any], today: datetime
) -> None:
    # Label jobs run in the worker process itself: a warm shutdown must still wait for the current one.
    item = approved_return(api)
    worker = start_worker(app_config, **{TEST_DELAY_ENV: "3"})
    try:
        assert wait_for(lambda: label_state() == ("rendering", 1), timeout=60), label_state()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
    finally:
        kill(worker)
    assert label_state() == ("ready", 1)
    db.session.expire_all()
    assert db.session.get(Return, item.id).status == "label_ready"  # type: ignore[union-attr]
