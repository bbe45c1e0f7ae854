"""A web worker (`wsgi.py`) starts warm: every template compiled before its first request."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from tests.conftest import ROOT, worker_env

# What a gunicorn worker does when it imports the entry point, then which templates its Jinja has compiled.
PROBE = """
import wsgi
env = wsgi.app.jinja_env
names = env.list_templates(extensions=("html", "txt"))
compiled = {key[1] for key in env.cache.keys()} if env.cache is not None else set()
print(len(names), len(set(names) - compiled))
"""


def test_a_web_worker_starts_with_every_template_compiled(app_config: dict[str, Any]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=worker_env(app_config),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    templates, not_compiled = (int(number) for number in result.stdout.split()[-2:])
    assert templates > 50 and not_compiled == 0
