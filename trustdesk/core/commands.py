"""`trustdesk scheduler` (the periodic sweep in production) and `trustdesk sweep` (one pass)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any


def _print_report(report: Any) -> None:
    parts = [f"{k}={v}" for k, v in sorted(report.deadlines.items())]
    print(f"{report.at.isoformat(timespec='seconds')} sweep: deadlines {report.total}"
          f"{' (' + ', '.join(parts) + ')' if parts else ''}, reminders {report.reminders}, "
          f"events {report.events}, emails {report.emails}", flush=True)


async def _scheduler(quiet: bool) -> None:
    from trustdesk.core import tasks
    from trustdesk.db import close_pool, start_pool
    from trustdesk.worker import import_tasks

    import_tasks()
    await start_pool()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await tasks.run_scheduler(stop, on_sweep=None if quiet else _print_report)
    finally:
        await close_pool()


def cmd_scheduler(args: argparse.Namespace) -> int:
    from trustdesk.settings import get_settings

    settings = get_settings()
    if not settings.broker_url:
        print("error: TRUSTDESK_BROKER_URL is empty: `trustdesk run` sweeps in-process. Set it to "
              "redis://… or amqp://… to run a separate scheduler.", file=sys.stderr)
        return 2
    print(f"TrustDesk scheduler: sweeping every {settings.sweep_interval.total_seconds():g}s "
          f"(broker {settings.broker_url}). Ctrl-C to stop.", flush=True)
    asyncio.run(_scheduler(args.quiet))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    async def once() -> None:
        from trustdesk.core import tasks
        from trustdesk.db import close_pool, start_pool

        await start_pool()
        try:
            _print_report(await tasks.sweep_once())
        finally:
            await close_pool()

    asyncio.run(once())
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("scheduler", help="run the periodic deadline sweep (production; one "
                                         "lease-holder at a time)")
    p.add_argument("--quiet", action="store_true", help="do not print a line per sweep")
    p.set_defaults(func=cmd_scheduler)
    sub.add_parser("sweep", help="enqueue jobs for every lapsed deadline once, then exit"
                   ).set_defaults(func=cmd_sweep)
