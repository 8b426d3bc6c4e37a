"""`make bench`: start a real server, load it with the official socket.io-client, report numbers.

A benchmark, never a timed test: it prints a results table and writes bench-results/latest.json, and fails
only when something breaks (a server that does not start, a phase that errors out), never on a figure.

What it runs, on loopback and bounded in time (about a minute in all):
  - uvicorn, one process, per-message deflate off, CHAT_RATE_LIMIT=0, a fresh SQLite database;
  - N users in pairs, each pair with its one-to-one chat, seeded through the real services;
  - bench/load.mjs: N WebSocket clients that connect with their token and join their chat, then
    (a) closed-loop createMessage throughput at 100 sockets, (b) open-loop latency from emit to the
    partner's `message` at fixed offered rates (100 and 200 msg/s) over all N sockets, (c) server RSS per idle connected
    socket, (d) findAllMessages page latency.
Figures are noisy (the load generator shares the machine): compare within one run (shared/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.processes import ServerProcess  # noqa: E402 - the repository is on the path from here

BENCH = REPO / "bench"
RESULTS = REPO / "bench-results"


def ensure_node_modules() -> None:
    lock = BENCH / "package-lock.json"
    stamp = BENCH / "node_modules" / ".package-lock.json"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    subprocess.run(
        ["npm", "ci", "--prefix", str(BENCH), "--no-audit", "--no-fund", "--loglevel=error"], check=True, cwd=REPO
    )


def seed(pairs: int) -> list[dict]:
    """Users in pairs, each pair with its one-to-one chat, made through the real services."""
    import django

    django.setup()
    from django.core.management import call_command

    from chat.models import User
    from chat.services.chats import chat_direct_get_or_create
    from chat.tokens import issue_token

    call_command("migrate", "--noinput", verbosity=0)
    users = User.objects.bulk_create([User(name=f"bench-{i:05d}") for i in range(pairs * 2)])
    out = []
    for k in range(pairs):
        a, b = users[2 * k], users[2 * k + 1]
        chat, _ = chat_direct_get_or_create(user=a, other=b)
        for user in (a, b):
            out.append({"id": str(user.pk), "token": issue_token(user.pk, ttl=3600), "chatHeaderId": chat.pk})
    return out


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def table(results: dict) -> str:
    c, m, h = results["closed_loop"], results["memory"], results["history_pages"]
    open_rows = [
        (
            f"(b) open loop at {o['offered_per_second']:g} msg/s",
            f"p50 {o['latency']['p50_ms']} ms / p99 {o['latency']['p99_ms']} ms",
            f"emit -> partner's message over {o['sockets']} sockets, {o['delivered']}/{o['sent']} delivered, "
            f"lost {o['lost']}, errors {o['errors']}",
        )
        for o in results["open_loop"]
    ]
    rows = [
        (
            "(a) closed loop, createMessage",
            f"{c['messages_per_second']} msg/s",
            f"{c['sockets']} sockets, "
            f"{c['acks']} acks in {c['seconds']} s, ack p50 {c['ack_latency']['p50_ms']} ms "
            f"p99 {c['ack_latency']['p99_ms']} ms, errors {c['errors']}",
        ),
        (
            "(c) RSS per idle socket",
            f"{m['per_socket_kb']} KB",
            f"{m['rss_before_kb']} -> {m['rss_after_kb']} kB for {results['sockets']} sockets "
            f"(connected in {m['connect_seconds']} s)",
        ),
        (
            "(d) findAllMessages, 50 rows",
            f"p50 {h['newest_page']['p50_ms']} ms / p99 {h['newest_page']['p99_ms']} ms",
            f"newest page; keyset page p50 {h['keyset_page']['p50_ms']} ms p99 {h['keyset_page']['p99_ms']} ms; "
            f"~{h['messages_per_chat']} messages per chat, errors {h['errors']}",
        ),
    ]
    rows[1:1] = open_rows
    width = [max(len(r[i]) for r in rows) for i in range(2)]
    lines = [f"{'measure'.ljust(width[0])}  {'result'.ljust(width[1])}  detail"]
    lines.append("-" * (width[0] + width[1] + 40))
    lines += [f"{a.ljust(width[0])}  {b.ljust(width[1])}  {d}" for a, b, d in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000, help="connected sockets (even; pairs share a chat)")
    parser.add_argument("--closed-sockets", type=int, default=100)
    parser.add_argument("--closed-seconds", type=float, default=10)
    parser.add_argument(
        "--open-rates",
        default="100,200",
        help="offered messages per second, one open-loop run per comma-separated rate",
    )
    parser.add_argument("--open-seconds", type=float, default=10)
    parser.add_argument("--page-calls", type=int, default=200)
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args()

    if not shutil.which("node") or not shutil.which("npm"):
        print("bench: SKIPPED: node and npm are needed for the socket.io-client load generator")
        return 0
    ensure_node_modules()

    work = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_DEBUG"}}
    env.update(
        DJANGO_SETTINGS_MODULE="chat_project.settings",
        DATABASE_URL=f"sqlite:///{work / 'db.sqlite3'}",
        MEDIA_ROOT=str(work / "media"),
        PUSH_FILE_PATH=str(work / "pushes.jsonl"),
        CHAT_RATE_LIMIT="0",
        LOG_LEVEL="WARNING",
    )
    os.environ.update(env)
    os.environ.pop("REDIS_URL", None)
    server = None
    try:
        t0 = time.monotonic()
        users = seed(args.sockets // 2)
        print(f"bench: seeded {len(users)} users and {len(users) // 2} chats in {time.monotonic() - t0:.1f} s")
        server = ServerProcess(env, work / "server.log")
        try:
            server.wait_healthy()
        except RuntimeError as exc:
            raise SystemExit(f"bench: {exc}") from None
        config = {
            "url": server.url,
            "pid": server.proc.pid,
            "users": users,
            "out": str(work / "load.json"),
            "closedSockets": args.closed_sockets,
            "closedSeconds": args.closed_seconds,
            "openRates": [float(rate) for rate in args.open_rates.split(",")],
            "openSeconds": args.open_seconds,
            "pageCalls": args.page_calls,
        }
        (work / "config.json").write_text(json.dumps(config))
        try:
            subprocess.run(
                ["node", str(BENCH / "load.mjs"), str(work / "config.json")], cwd=REPO, check=True, timeout=150
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            print(f"bench: the load generator failed ({exc}); server log:\n{server.log_path.read_text()[-4000:]}")
            return 1
        results = json.loads((work / "load.json").read_text())
        node_version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        report = {
            "when": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "commit": git_commit(),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "node": node_version},
            "server": "uvicorn, 1 process, ws per-message deflate off, SQLite (WAL), CHAT_RATE_LIMIT=0",
            "config": {k: v for k, v in config.items() if k not in {"users", "pid", "url", "out"}},
            "results": results,
            "seconds": round(time.monotonic() - t0, 1),
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print()
        print(table(results))
        shown = args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out
        print(f"\nbench: {report['seconds']} s in all; wrote {shown}")
        return 0
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
