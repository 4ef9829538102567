"""Load and crash test of the web form (run by hand, not a test).

Starts uvicorn on a loopback port over a fresh database, then ``--clients`` concurrent
respondents each fill the intake form through a public link (intro, start, 3 pages, submit:
7 requests) until ``--responses`` are submitted. Partway through, the server is killed with
SIGKILL and restarted on the same database: every submission acknowledged before the kill
(a 303 to /thanks) must be stored, submitted, exactly once, and the database must open clean.
Prints submissions/s and p50/p99 latencies of the submit POST next to /healthz on the same server.

    .venv/bin/python benchmarks/web_load.py                       # SQLite, 50 clients, 10,000 responses
    .venv/bin/python benchmarks/web_load.py --database postgresql+psycopg://USER:PW@127.0.0.1/DB
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from rctscale.bank import load_form
from rctscale.store import Repository, hash_token, make_engine, upgrade_database
from rctscale.store.models import Response

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ITEM = re.compile(r'type="radio" id="[^"]+" name="([a-z]{3}\d\d)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(database_url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "RCTSCALE_DATABASE_URL": database_url, "RCTSCALE_INSECURE_COOKIES": "1"}
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "rctscale.web.app:create_app", "--factory",
                                "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
                                "--log-level", "warning"], env=env)
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit("the server did not start")


class Load:
    def __init__(self, base: str, link: str, target: int) -> None:
        self.base, self.link, self.target = base, link, target
        self.started = 0
        self.acknowledged: list[str] = []   # respondent keys whose submit was acknowledged
        self.submit_latencies: list[float] = []
        self.failures = 0

    async def respondent(self, client: httpx.AsyncClient) -> None:
        client.cookies.clear()
        intro = await client.get(self.link)
        started = await client.post(f"{self.link}/start", data={"csrf_token": CSRF.search(intro.text).group(1),
                                                                 "consent": "yes"})
        page = await client.get(started.headers["location"])
        nonce = CSRF.search(page.text).group(1)
        for number in (1, 2, 3):
            if number > 1:
                page = await client.get(f"{self.link}/page/{number}")
            ids = dict.fromkeys(ITEM.findall(page.text))
            saved = await client.post(f"{self.link}/page/{number}",
                                      data={"csrf_token": nonce, "action": "next", **{i: "3" for i in ids}})
            assert saved.status_code == 303, saved.status_code
        key = client.cookies.get("rctscale_respondent")
        began = time.perf_counter()
        submitted = await client.post(f"{self.link}/submit", data={"csrf_token": nonce})
        if submitted.status_code == 303 and submitted.headers["location"] == "/thanks":
            self.submit_latencies.append(time.perf_counter() - began)
            self.acknowledged.append(key)
        else:
            self.failures += 1

    async def worker(self) -> None:
        async with httpx.AsyncClient(base_url=self.base, timeout=30) as client:
            while self.started < self.target:
                self.started += 1
                try:
                    await self.respondent(client)
                except (httpx.HTTPError, AttributeError, AssertionError, KeyError):
                    self.failures += 1  # the server was killed under this request: not acknowledged


async def run_load(base: str, link: str, target: int, clients: int) -> tuple[Load, float]:
    load = Load(base, link, target)
    began = time.perf_counter()
    await asyncio.gather(*(load.worker() for _ in range(clients)))
    return load, time.perf_counter() - began


async def bare_latencies(base: str, clients: int, requests: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    remaining = [requests]

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            while remaining[0] > 0:
                remaining[0] -= 1
                began = time.perf_counter()
                (await client.get("/healthz")).raise_for_status()
                latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, time.perf_counter() - began


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def verify(database_url: str, keys: list[str]) -> tuple[int, int]:
    """(acknowledged responses found submitted exactly once, all submitted responses)."""
    store = Repository(make_engine(database_url))
    with store.engine.connect() as connection:
        rows = connection.execute(select(Response.respondent_key_hash, Response.status)).all()
        if store.engine.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    store.engine.dispose()
    submitted = [h for h, status in rows if status == "submitted"]
    found = set(submitted)
    assert len(found) == len(submitted), "a respondent key holds two submitted responses"
    return sum(hash_token(k) in found for k in keys), len(submitted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", help="database URL (default: a fresh SQLite file in a temp dir)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--responses", type=int, default=10_000)
    parser.add_argument("--kill-after", type=float, default=0.3, help="share of responses before the SIGKILL")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="rctscale-load-"))
    database_url = args.database or f"sqlite:///{workdir / 'load.db'}"
    upgrade_database(database_url)
    store = Repository(make_engine(database_url))
    form = load_form("intake")
    administration = store.create_administration(form_id="intake", form_hash=form.content_hash, title="Load",
                                                 referent=None, mode="public")
    store.engine.dispose()
    link = f"/r/{administration.public_key}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    before_kill = max(1, int(args.responses * args.kill_after))

    server = start_server(database_url, port)
    print(f"database: {database_url.split('@')[-1]}; {args.clients} clients; {args.responses} responses")
    async def load_then_kill() -> Load:
        load = Load(base, link, args.responses)
        workers = [asyncio.create_task(load.worker()) for _ in range(args.clients)]
        while len(load.acknowledged) < before_kill:
            await asyncio.sleep(0.01)
        server.send_signal(signal.SIGKILL)  # mid-load, requests in flight
        await asyncio.gather(*workers)
        return load

    killed_load = asyncio.run(load_then_kill())
    server.wait()
    acknowledged = list(killed_load.acknowledged)
    server = start_server(database_url, port)  # restart on the same database
    found, _total = verify(database_url, acknowledged)
    print(f"kill -9 after {len(acknowledged)} acknowledged submissions "
          f"({killed_load.failures} respondents cut off or refused while it was down): "
          f"{found} of {len(acknowledged)} found submitted after restart, database opens clean")
    assert found == len(acknowledged), "an acknowledged response was lost"

    remaining = args.responses - len(acknowledged)
    load, seconds = asyncio.run(run_load(base, link, remaining, args.clients))
    all_keys = acknowledged + load.acknowledged
    found, total = verify(database_url, all_keys)
    assert found == len(all_keys) == total, (found, len(all_keys), total)
    bare, bare_seconds = asyncio.run(bare_latencies(base, args.clients, 20_000))
    server.terminate()
    server.wait()
    print(f"after restart: {len(load.acknowledged)} responses in {seconds:.1f} s = "
          f"{len(load.acknowledged) / seconds:.1f} submissions/s (7 requests each, "
          f"{7 * len(load.acknowledged) / seconds:.0f} requests/s); failures {load.failures}")
    print(f"submit POST latency: p50 {statistics.median(load.submit_latencies) * 1000:.1f} ms, "
          f"p99 {percentile(load.submit_latencies, 0.99):.1f} ms")
    print(f"/healthz: {len(bare) / bare_seconds:.0f} requests/s, p50 {statistics.median(bare) * 1000:.1f} ms, "
          f"p99 {percentile(bare, 0.99):.1f} ms")
    print(f"stored: {total} submitted responses, every acknowledged one exactly once")


if __name__ == "__main__":
    main()
