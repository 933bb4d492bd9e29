"""Badge benchmark (not a test): how close is a warm badge to a bare hello-world route?

Starts `trustdesk run` on a throwaway PostgreSQL database with N sellers (each with a verified
domain), then alternates wrk load between:
  hello      GET /badge/_bench_hello            (TRUSTDESK_BENCH_HELLO=1 adds it)
  badge      GET /badge/<slug>.svg, warm          (random seller per request, verified Referer)
  badge304   the same with If-None-Match          (304 Not Modified)
and finally runs the badge load again while other clients hammer POST /login (argon2id).

Prints:
  badge_vs_hello: R1            requests/s of badge / hello            (target >= 0.8)
  badge304_vs_hello: R2         requests/s of badge304 / hello         (target >= 0.9)
  badge_p99_ms: X               99th percentile latency of the badge run
  badge_during_logins_vs_alone: R3                                     (target >= 0.8)

Usage: .venv/bin/python bench/badge.py [--sellers 200] [--duration 8] [--rounds 3]
       [--connections 32] [--login-clients 4]
Needs: PostgreSQL at 127.0.0.1:5432 (user postgres) and `wrk` (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
PASSWORD = "bench-password-123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- database ---------------------------------------------------------------------------------

async def _admin_sql(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG + "/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def seed(env: dict[str, str], sellers: int, buyers: int) -> None:
    """Migrate and create sellers (+ verified domain, a few ratings) in a child process."""
    code = f"""
import asyncio
from trustdesk.cli import migrate_quietly
migrate_quietly()
from datetime import timedelta
from trustdesk.accounts.tables import User
from trustdesk.accounts.passwords import hash_password
from trustdesk.accounts.services import register_user
from trustdesk.core.clock import now
from trustdesk.db import start_pool
from trustdesk.ratings.tables import SellerDomain, SellerRecord

async def main():
    await start_pool()
    hashed = await hash_password({PASSWORD!r})
    stamp = now()
    users = [User(username=f"seller{{i}}@bench.example", email=f"seller{{i}}@bench.example",
                  password=hashed, role="seller", display_name=f"Seller {{i}}",
                  store_name=f"Bench Store {{i}}", slug=f"bench-store-{{i}}", active=True,
                  admin=False, superuser=False, created_at=stamp) for i in range({sellers})]
    for chunk in range(0, len(users), 500):
        await User.insert(*users[chunk:chunk + 500])
    rows = await User.select(User.id, User.slug).where(User.role == "seller")
    await SellerDomain.insert(*[SellerDomain(seller=r["id"], domain=r["slug"] + ".bench.example",
                                             token="t", created_at=stamp, verified_at=stamp,
                                             verified_how="bench") for r in rows])
    await SellerRecord.insert(*[SellerRecord(seller_id=r["id"], version=1, updated_at=stamp)
                                for r in rows])
    for i in range({buyers}):
        await register_user(email=f"buyer{{i}}@bench.example", password={PASSWORD!r},
                            role="buyer", via="cli")

asyncio.run(main())
"""
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)


# -- wrk ----------------------------------------------------------------------------------------

def lua_script(path: Path, sellers: int, etags: dict[int, str] | None, hello: bool = False) -> None:
    """Each request: a random seller's badge, with its own verified Referer (and ETag).

    The hello run uses the same script shape (random path, same headers) so that wrk's own
    per-request cost is identical and the ratio compares the server, not the client.
    """
    lines = ["local etags = {}"]
    if etags:
        for i, tag in etags.items():
            lines.append(f"etags[{i}] = '{tag}'")
    lines.append(f"""
math.randomseed(os.time())
request = function()
  local i = math.random(0, {sellers - 1})
  local headers = {{}}
  headers["Referer"] = "https://bench-store-" .. i .. ".bench.example/shop"
  if etags[i] then headers["If-None-Match"] = etags[i] end
  return wrk.format("GET", {'"/badge/_bench_hello?i=" .. i' if hello else '"/badge/bench-store-" .. i .. ".svg"'}, headers)
end
""")
    path.write_text("\n".join(lines))


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def run_wrk(url: str, duration: int, connections: int, script: Path | None = None) -> dict[str, float]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"rps": rps, "p99_ms": float(p99.group(1)) * UNITS[p99.group(2)] if p99 else float("nan"),
            "non_2xx": float(bad.group(1)) if bad else 0.0,
            "socket_errors": 1.0 if errors else 0.0}


# -- logins hammer --------------------------------------------------------------------------------

async def hammer_logins(base: str, clients: int, stop_after: float) -> int:
    """`clients` browsers signing in again and again (each login verifies an argon2id hash)."""
    import httpx

    done = 0
    deadline = time.monotonic() + stop_after

    async def one(i: int) -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            page = await client.get("/login")
            token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            while time.monotonic() < deadline:
                r = await client.post("/login", data={"email": f"buyer{i}@bench.example",
                                                      "password": PASSWORD, "_csrf_token": token},
                                      follow_redirects=False)
                if r.status_code != 303:
                    raise RuntimeError(f"login failed: {r.status_code} {r.text[:200]}")
                done += 1

    await asyncio.gather(*(one(i) for i in range(clients)))
    return done


# -- main -------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sellers", type=int, default=200)
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each kind")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--login-clients", type=int, default=4)
    parser.add_argument("--login-hammer", nargs=3, metavar=("BASE", "CLIENTS", "SECONDS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.login_hammer:
        base, clients, seconds = args.login_hammer
        n = asyncio.run(hammer_logins(base, int(clients), float(seconds)))
        print(n, flush=True)
        return 0
    if not shutil.which("wrk"):
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2

    db = f"trustdesk_bench_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_admin_sql(f'CREATE DATABASE "{db}"'))
    tmp = Path(tempfile.mkdtemp(prefix="trustdesk-bench-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TRUSTDESK_DATABASE_URL": f"{PG}/{db}", "TRUSTDESK_ENV": "test",
           "TRUSTDESK_SECRET_KEY": secrets.token_urlsafe(40), "TRUSTDESK_BENCH_HELLO": "1",
           "TRUSTDESK_BROKER_URL": "", "TRUSTDESK_DEMO_DATA": "false", "TRUSTDESK_PORT": str(port),
           "TRUSTDESK_HOST": "127.0.0.1", "TRUSTDESK_DATA_DIR": str(tmp / "data"),
           "TRUSTDESK_BASE_URL": base}
    env.pop("_TRUSTDESK_TEST_ENV_READY", None)
    server = None
    try:
        print(f"seeding {args.sellers} sellers on {PG}/{db} …", flush=True)
        seed(env, args.sellers, args.login_clients)
        log = open(tmp / "server.log", "wb")  # noqa: SIM115
        server = subprocess.Popen([sys.executable, "-m", "trustdesk.cli", "run", "--no-migrate",
                                   "--no-demo", "--log-level", "warning"], cwd=ROOT, env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        import httpx

        for _ in range(200):
            try:
                if httpx.get(base + "/badge/_bench_hello", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError((tmp / "server.log").read_text()[-2000:])

        # warm every seller's badge and collect its ETag
        etags: dict[int, str] = {}
        with httpx.Client(base_url=base) as client:
            for i in range(args.sellers):
                r = client.get(f"/badge/bench-store-{i}.svg",
                               headers={"Referer": f"https://bench-store-{i}.bench.example/"})
                assert r.status_code == 200 and "Not verified" not in r.text, r.text[:300]
                etags[i] = r.headers["etag"]
        badge_lua, badge304_lua, hello_lua = tmp / "badge.lua", tmp / "badge304.lua", tmp / "hello.lua"
        lua_script(hello_lua, args.sellers, None, hello=True)
        lua_script(badge_lua, args.sellers, None)
        lua_script(badge304_lua, args.sellers, etags)

        runs: dict[str, list[dict[str, float]]] = {"hello": [], "badge": [], "badge304": []}
        targets = {"hello": (base + "/", hello_lua), "badge": (base + "/", badge_lua),
                   "badge304": (base + "/", badge304_lua)}
        run_wrk(base + "/", 2, args.connections, hello_lua)  # warm-up
        run_wrk(base + "/", 2, args.connections, badge_lua)
        for r in range(args.rounds):
            for kind in ("hello", "badge", "badge304"):
                url, script = targets[kind]
                result = run_wrk(url, args.duration, args.connections, script)
                runs[kind].append(result)
                print(f"  round {r + 1} {kind:<9} {result['rps']:>9.0f} req/s  "
                      f"p99 {result['p99_ms']:.2f} ms  non-2xx/3xx {result['non_2xx']:.0f}", flush=True)

        # badge under a login storm (argon2id verification on every login)
        hammer = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--login-hammer",
                                   base, str(args.login_clients), str(args.duration + 3)],
                                  cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        time.sleep(2)  # let the storm build up
        during = run_wrk(base + "/", args.duration, args.connections, badge_lua)
        logins = int((hammer.communicate(timeout=120)[0] or "0").strip().splitlines()[-1])
        alone = run_wrk(base + "/", args.duration, args.connections, badge_lua)
        print(f"  badge during logins {during['rps']:.0f} req/s (p99 {during['p99_ms']:.2f} ms), "
              f"logins completed {logins} ({logins / (args.duration + 3):.1f}/s); "
              f"badge alone right after {alone['rps']:.0f} req/s", flush=True)

        def med(kind: str, key: str = "rps") -> float:
            return statistics.median(x[key] for x in runs[kind])

        hello, badge, badge304 = med("hello"), med("badge"), med("badge304")
        alone_rps = statistics.median([badge, alone["rps"]])
        print(f"hello_rps: {hello:.0f}")
        print(f"badge_rps: {badge:.0f}")
        print(f"badge304_rps: {badge304:.0f}")
        print(f"badge_vs_hello: {badge / hello:.2f}")
        print(f"badge304_vs_hello: {badge304 / hello:.2f}")
        print(f"badge_p99_ms: {med('badge', 'p99_ms'):.2f}")
        print(f"badge_during_logins_vs_alone: {during['rps'] / alone_rps:.2f}")
        print(f"(sellers={args.sellers}, connections={args.connections}, wrk -t1, "
              f"{os.cpu_count()} CPUs shared by wrk, the app, PostgreSQL and the login clients)")
        return 0
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        asyncio.run(_admin_sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
