"""Benchmark: the deadline sweep with real workers vs a raw SQL UPDATE of the same rows.

Seeds N delivered orders whose inspection window has ended (each funded by a real ledger
posting), starts `trustdesk worker` processes on Redis, runs one sweep, and waits until every
order is released through the escrow service (state + ledger posting + audit entry + outbox
event per order). Then puts the same rows back and times one raw
`UPDATE td_order SET state='released' …` of them.

    .venv/bin/python bench/sweep.py --n 100000 --database-url postgres://postgres@127.0.0.1:5432/trustdesk_bench

Prints `sweep_transitions_per_s: X` and `sweep_vs_raw_update: R` (how many times slower) last.
The database named in --database-url is dropped and recreated. Redis db --redis-db is flushed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100_000, help="overdue orders to seed (100,000)")
    p.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/trustdesk_bench")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379")
    p.add_argument("--redis-db", type=int, default=10)
    p.add_argument("--processes", type=int, default=2, help="worker processes (2 cores here)")
    p.add_argument("--threads", type=int, default=8, help="threads per worker process")
    p.add_argument("--profile", type=int, default=1000,
                   help="also profile this many releases in-process (0: skip)")
    return p.parse_args()


def recreate_database(url: str) -> None:
    import asyncpg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")

    async def go() -> None:
        conn = await asyncpg.connect(host=parsed.hostname, port=parsed.port or 5432,
                                     user=parsed.username or "postgres", database="postgres")
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(go())


SEED_ORDERS = """
INSERT INTO td_order (token, seller, buyer, title, description, amount_minor, shipping_minor,
    currency, inspection_days, state, source, cancel_reason, version, created_at, updated_at,
    funded_at, shipped_at, carrier, tracking_number, delivered_at, inspect_until)
SELECT md5(random()::text || g::text), $1, $2, 'Bench order ' || g, '', 10000, 0, 'PKR', 3,
    'delivered', 'link', '', 5, now() - interval '5 days', now() - interval '4 days',
    now() - interval '5 days', now() - interval '4 days', 'TCS', 'T' || g,
    now() - interval '4 days', now() - interval '1 minute'
FROM generate_series(1, $3) AS g
"""
SEED_LEDGER = """
INSERT INTO td_ledger_entry (posting_id, kind, account, amount_minor, currency, "order", created_at)
SELECT 'fund-' || o.id, 'fund', a.account, a.amount, 'PKR', o.id, o.funded_at
FROM td_order o
CROSS JOIN LATERAL (VALUES ('external:buyer:' || o.buyer, -10000),
                           ('escrow:order:' || o.id, 10000)) AS a(account, amount)
"""
RAW_UPDATE = """
UPDATE td_order SET state = 'released', version = version + 1, closed_at = now(),
    updated_at = now()
WHERE state = 'delivered' AND inspect_until <= now()
"""


async def seed(n: int) -> tuple[int, int]:
    from trustdesk.accounts.services import register_user
    from trustdesk.db import get_engine

    seller = await register_user(email="bench-seller@example.test", password="bench-pass-123456",
                                 role="seller", store_name="Bench Store", via="cli")
    buyer = await register_user(email="bench-buyer@example.test", password="bench-pass-123456",
                                role="buyer", via="cli")
    engine = get_engine()
    async with engine.pool.acquire() as conn:  # type: ignore[union-attr]
        await conn.execute(SEED_ORDERS, seller.id, buyer.id, n)
        await conn.execute(SEED_LEDGER)
        await conn.execute("ANALYZE")
    return seller.id, buyer.id


async def count(state: str) -> int:
    from trustdesk.escrow.tables import Order

    return await Order.count().where(Order.state == state)


async def raw_update_seconds() -> tuple[float, int]:
    """Put the released rows back to delivered (untimed), then time one raw UPDATE of them."""
    from trustdesk.db import get_engine

    async with get_engine().pool.acquire() as conn:  # type: ignore[union-attr]
        await conn.execute("UPDATE td_order SET state = 'delivered', closed_at = NULL "
                           "WHERE state = 'released'")
        await conn.execute("VACUUM ANALYZE td_order")
        started = time.perf_counter()
        result = await conn.execute(RAW_UPDATE)
        elapsed = time.perf_counter() - started
    return elapsed, int(result.split()[-1])


async def profile_releases(k: int) -> str:
    """cProfile k releases through the job function in this process (one at a time)."""
    from trustdesk.escrow import tasks as escrow_tasks
    from trustdesk.escrow.tables import Order

    async with __import__("trustdesk.db", fromlist=["get_engine"]).get_engine().pool.acquire() as c:
        await c.execute("UPDATE td_order SET state = 'delivered' WHERE id IN "
                        f"(SELECT id FROM td_order ORDER BY id LIMIT {k})")
    ids = [r["id"] for r in await Order.select(Order.id).order_by(Order.id).limit(k)]
    prof = cProfile.Profile()
    started = time.perf_counter()
    prof.enable()
    for order_id in ids:
        await escrow_tasks.apply_deadline("order.inspect_until", order_id)
    prof.disable()
    elapsed = time.perf_counter() - started
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).sort_stats("cumulative")
    stats.print_stats(r"trustdesk|asyncpg/connection|piccolo/query/base", 25)
    stats.sort_stats("tottime").print_stats(15)
    return (f"single connection, sequential: {k / elapsed:.0f} releases/s "
            f"({elapsed / k * 1000:.2f} ms each)\n" + out.getvalue())


def main() -> int:
    args = parse_args()
    broker_url = f"{args.redis_url.rstrip('/')}/{args.redis_db}"
    os.environ.update({"TRUSTDESK_DATABASE_URL": args.database_url, "TRUSTDESK_ENV": "test",
                       "TRUSTDESK_BROKER_URL": broker_url})
    import redis

    redis.Redis.from_url(broker_url).flushdb()
    print(f"database {args.database_url} (recreated); broker {broker_url} (flushed)", flush=True)
    recreate_database(args.database_url)
    subprocess.run([sys.executable, "-m", "trustdesk.cli", "migrate"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)

    from trustdesk.db import close_pool, start_pool
    from trustdesk.worker import import_tasks

    import_tasks()
    from trustdesk.core import tasks

    async def run() -> dict[str, float]:
        await start_pool()
        try:
            t = time.perf_counter()
            await seed(args.n)
            print(f"seeded {args.n} overdue orders in {time.perf_counter() - t:.1f}s", flush=True)
            log_path = Path(os.environ.get("TMPDIR", "/tmp")) / "trustdesk-bench-worker.log"
            log = open(log_path, "wb")  # noqa: SIM115, ASYNC230 - a benchmark driver
            worker = subprocess.Popen(  # noqa: ASYNC220
                [sys.executable, "-m", "trustdesk.cli", "worker", "--processes",
                 str(args.processes), "--threads", str(args.threads)],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                while b"Worker process is ready" not in log_path.read_bytes():  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
                started = time.perf_counter()
                report = await tasks.sweep_once()
                enqueued = time.perf_counter() - started
                print(f"sweep found {report.total} lapsed deadlines, enqueued them in "
                      f"{enqueued:.2f}s", flush=True)
                last_print = started
                while (done := await count("released")) < args.n:
                    if time.perf_counter() - last_print > 10:
                        rate = done / (time.perf_counter() - started)
                        print(f"  {done} released ({rate:.0f}/s)", flush=True)
                        last_print = time.perf_counter()
                    await asyncio.sleep(0.25)
                sweep_s = time.perf_counter() - started
            finally:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)
                log.close()
            from trustdesk.escrow.tables import LedgerEntry

            postings = await LedgerEntry.count().where(LedgerEntry.kind == "release")
            print(f"all {args.n} released in {sweep_s:.1f}s; release ledger rows {postings} "
                  f"(2 per order: escrow -> seller payable)", flush=True)
            raw_s, raw_rows = await raw_update_seconds()
            print(f"raw UPDATE of the same {raw_rows} rows: {raw_s:.3f}s", flush=True)
            if args.profile:
                print("\nprofile:", await profile_releases(min(args.profile, args.n)), flush=True)
            return {"sweep_s": sweep_s, "raw_s": raw_s}
        finally:
            await close_pool()

    result = asyncio.run(run())
    rate = args.n / result["sweep_s"]
    print(f"sweep_transitions_per_s: {rate:.0f}")
    print(f"sweep_vs_raw_update: {result['sweep_s'] / result['raw_s']:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
