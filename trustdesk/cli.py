"""The `trustdesk` command: run, worker, scheduler, migrate, demo, create-user, create-api-key, …"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {}
EXTRA_COMMAND_MODULES = (
    "trustdesk.escrow.commands",
    "trustdesk.disputes.commands",
    "trustdesk.ratings.commands",
    "trustdesk.partners.commands",
    "trustdesk.core.commands",
)


def fail(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


async def _migrate(quiet: bool = False) -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from trustdesk.db import close_pool, start_pool

    await start_pool()
    try:
        response = await run_forwards(app_name="all", fake=False)
        if not response.success:
            raise RuntimeError(response.message)
    finally:
        await close_pool()


def migrate_quietly() -> None:
    """Apply every migration (Piccolo prints progress; we keep stdout for our own lines)."""
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        asyncio.run(_migrate())


def cmd_migrate(args: argparse.Namespace) -> int:
    from trustdesk.settings import get_settings

    try:
        migrate_quietly()
    except Exception as exc:  # noqa: BLE001
        return fail(f"migrations failed: {exc}", 1)
    print(f"Migrations applied to {get_settings().database_url}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from trustdesk.demo import load_demo, print_logins

    created = asyncio.run(load_demo())
    print("Demo data loaded." if created else "Demo data already present; nothing changed.")
    print_logins()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import uvicorn

    from trustdesk.settings import SettingsError, get_settings

    if args.port:
        os.environ["TRUSTDESK_PORT"] = str(args.port)
    if args.host:
        os.environ["TRUSTDESK_HOST"] = args.host
    from trustdesk.settings import reset_settings_cache

    reset_settings_cache()
    try:
        settings = get_settings()
    except SettingsError as exc:
        return fail(str(exc))
    if not args.no_migrate:
        try:
            migrate_quietly()
        except Exception as exc:  # noqa: BLE001
            return fail(f"migrations failed: {exc}", 1)
    if settings.demo_data and not settings.is_production and not args.no_demo:
        from trustdesk.demo import load_demo_if_empty

        asyncio.run(load_demo_if_empty())
    from trustdesk.app import create_app
    from trustdesk.demo import print_logins

    app = create_app(settings)
    url = settings.public_url
    jobs = "in-process worker" if not settings.broker_url else f"broker {settings.broker_url}"
    print(f"\nTrustDesk is running at {url}  (database: {settings.database_url}; jobs: {jobs})")
    if not settings.is_production:
        print_logins()
        print(f"  Mediators' admin panel: {url}/admin/   Dev mailbox: {url}/dev/mailbox")
    print("Press Ctrl-C to stop.\n", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level,
                proxy_headers=settings.is_production, workers=None)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from trustdesk.settings import get_settings

    settings = get_settings()
    if not settings.broker_url:
        return fail("TRUSTDESK_BROKER_URL is empty: jobs run inside `trustdesk run`. "
                    "Set it to redis://… or amqp://… to run separate workers.")
    from dramatiq.cli import main as dramatiq_main

    processes = args.processes or settings.worker_processes
    threads = args.threads or settings.worker_threads
    sys.argv = ["dramatiq", "trustdesk.worker:BROKER", "trustdesk.worker_entry",
                "--processes", str(processes), "--threads", str(threads)]
    return int(dramatiq_main() or 0)


def cmd_create_user(args: argparse.Namespace) -> int:
    from trustdesk.accounts.services import register_user
    from trustdesk.core.errors import ValidationFailed

    if args.role not in {"buyer", "seller", "mediator"}:
        return fail(f"unknown role {args.role!r}; use buyer, seller or mediator")
    try:
        user = asyncio.run(register_user(email=args.email, password=args.password, role=args.role,
                                         store_name=args.store_name or "",
                                         display_name=args.name or "", via="cli"))
    except ValidationFailed as exc:
        return fail(f"{exc.field or 'input'}: {exc.message}")
    extra = f", store /sellers/{user.slug}" if user.slug else ""
    print(f"Created {user.role} {user.email} (id {user.id}{extra})")
    return 0


def cmd_verify_audit(args: argparse.Namespace) -> int:
    from trustdesk.core.audit import verify_chain

    report = asyncio.run(verify_chain())
    if report.ok:
        print(f"Audit chain intact: {report.checked} entries verified.")
        return 0
    print(f"Audit chain BROKEN at entry {report.broken_at}: {report.reason} "
          f"({report.checked} entries verified before it).")
    return 1


def cmd_config(args: argparse.Namespace) -> int:
    from trustdesk.settings import get_settings

    for name, value in get_settings().describe():
        print(f"{name}={value}")
    return 0


def register(name: str, help_text: str) -> Callable[[Callable[[argparse.Namespace], int]], Any]:
    def deco(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = (fn, help_text)
        return fn
    return deco


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trustdesk", description="TrustDesk: escrow and disputes.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("run", help="migrate, load demo data if empty, serve the app (+ jobs)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--no-migrate", action="store_true")
    p.add_argument("--no-demo", action="store_true")
    p.add_argument("--log-level", default="info")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("worker", help="run Dramatiq worker processes (needs TRUSTDESK_BROKER_URL)")
    p.add_argument("--processes", type=int)
    p.add_argument("--threads", type=int)
    p.set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="apply all database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("demo", help="load demo users and data (idempotent)").set_defaults(func=cmd_demo)
    p = sub.add_parser("create-user", help="create a buyer, seller or mediator")
    p.add_argument("--email", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--role", required=True)
    p.add_argument("--store-name")
    p.add_argument("--name")
    p.set_defaults(func=cmd_create_user)
    sub.add_parser("verify-audit", help="check the audit log's hash chain").set_defaults(
        func=cmd_verify_audit)
    sub.add_parser("config", help="print the effective TRUSTDESK_* settings").set_defaults(
        func=cmd_config)
    for module_name in EXTRA_COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        module.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from trustdesk.settings import SettingsError

    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
