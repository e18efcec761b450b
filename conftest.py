"""Root pytest configuration: every test session gets the shared infrastructure fixtures, and a test that
hangs (pytest-timeout, ``timeout`` in pyproject.toml) shows where each of its asyncio tasks waits."""

from __future__ import annotations

import asyncio
import io
import signal
from collections.abc import Generator
from typing import Any

import pytest

pytest_plugins = [
    "shared.testing.plugin",
]


@pytest.hookimpl(wrapper=True, optionalhook=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> Generator[None, Any, Any]:
    """pytest-timeout's SIGALRM handler prints the threads' stacks; an async test's threads all wait in the
    event loop, so the handler is wrapped to print every task's stack first."""
    result = yield
    timed_out = signal.getsignal(signal.SIGALRM)
    if callable(timed_out):

        def print_tasks_first(signum: int, frame: Any) -> None:
            __tracebackhide__ = True
            _print_tasks(item)
            timed_out(signum, frame)

        signal.signal(signal.SIGALRM, print_tasks_first)
    return result


def _print_tasks(item: pytest.Item) -> None:
    try:
        tasks = asyncio.all_tasks(asyncio.get_running_loop())
    except RuntimeError:  # no loop runs here: a synchronous test
        return
    out = io.StringIO()
    for task in tasks:
        out.write(f"--- {task!r}\n")
        task.print_stack(file=out)
    terminal = item.config.get_terminal_writer()
    terminal.sep("+", title=f"Timeout: {len(tasks)} asyncio tasks")
    terminal.write(out.getvalue())
