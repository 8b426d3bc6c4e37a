"""`make bench`: our server against the bare relay (its ceiling), in one run, under the official socket.io-client.

A benchmark, never a timed test: it prints a results table, writes bench-results/latest.json and a plot of
the latency distributions (bench-results/latency.png), and fails only when something breaks (a server that
does not start, a phase that errors out), never on a figure.

One run, on loopback, bounded in time (about four minutes with the defaults):
  - the ceiling: bench/relay.py, a bare python-socketio relay (ack + emit to the room, nothing stored),
    under uvicorn as our server runs;
  - then our server (uvicorn, per-message deflate off, CHAT_RATE_LIMIT=0) in each chosen set-up:
      sqlite          one worker on a fresh SQLite database (WAL);
      postgres        one worker on a fresh PostgreSQL database (127.0.0.1:5432, user postgres), dropped after;
      postgres-redis  two workers (`uvicorn --workers 2`) on a fresh PostgreSQL database and Redis
                      (a database of its own, flushed before and after, and a Socket.IO channel of its own);
  - each seeded through the real services (bench/seed.py): N users in pairs with their one-to-one chats,
    and a group of the first 100;
  - bench/load.mjs drives each the same way over N WebSocket clients: (a) closed-loop createMessage
    throughput at 100 sockets, (b) open-loop latency from emit to the partner's `message` at fixed offered
    rates over all N sockets, (c) server RSS per idle connected socket, (e) fan-out from one sender to the
    group, in deliveries/s, (d) findAllMessages page latency (not on the relay: it has no history).
Every throughput figure is shown with its ratio to the relay in the same run, and the figures of issue 9's
targets are checked (reported, never failed on). Figures are noisy, the load generator sharing the 2 cores:
compare ratios within one run (shared/PERFORMANCE.md), never absolute figures across runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.processes import free_port, port_open, start_and_wait, start_postgres  # noqa: E402 - repo on the path

BENCH = REPO / "bench"
RESULTS = REPO / "bench-results"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Setup:
    key: str
    title: str
    workers: int
    database: str  # "sqlite" | "postgres"
    redis: bool


SETUPS = {
    s.key: s
    for s in (
        Setup("sqlite", "SQLite, 1 worker", 1, "sqlite", False),
        Setup("postgres", "PostgreSQL, 1 worker", 1, "postgres", False),
        Setup("postgres-redis", "PostgreSQL + Redis, 2 workers", 2, "postgres", True),
    )
}
RELAY_TITLE = "bare relay (ceiling)"


class Skip(Exception):
    """A set-up that cannot run here (no PostgreSQL, no Redis): reported, and the others run."""


# --- processes ----------------------------------------------------------------------------------------


class Server:
    """An ASGI app under uvicorn on a free loopback port, as `make run` serves it (per-message deflate off),
    with `workers` processes; its output in `log_path`. Its own process group, so that stopping it stops
    its workers too."""

    def __init__(self, app: str, env: dict, log_path: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.workers = workers
        self.log_path = log_path
        command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(self.port),
                   "--ws-per-message-deflate", "false", "--log-level", "warning"]  # fmt: skip
        if workers > 1:
            command += ["--workers", str(workers)]
        with log_path.open("w") as log:
            self.proc = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        """The server's processes: uvicorn and, with several workers, every process below it."""
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            with contextlib.suppress(OSError):
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
        return found

    def _workers_up(self) -> bool:
        if self.workers == 1:
            return True
        spawned = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                spawned += b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        return spawned >= self.workers

    def _cpu_ticks(self) -> int:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total

    def wait_ready(self, seconds: float = 60) -> None:
        """Until `/healthz` answers, every worker runs and the processes have gone idle (start-up done:
        a worker that is still importing would leave every connection to the other)."""
        deadline = time.monotonic() + seconds
        healthy = False
        while time.monotonic() < deadline and self.proc.poll() is None:
            if not healthy:
                with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as r:
                    healthy = r.status == 200
            if healthy and self._workers_up():
                before = self._cpu_ticks()
                time.sleep(1)
                if self._cpu_ticks() - before <= 5 * self.workers:  # under 5% of a core each
                    return
            else:
                time.sleep(0.1)
        raise RuntimeError(f"the server on port {self.port} did not start; its log:\n{self.tail()}")

    def tail(self) -> str:
        return self.log_path.read_text()[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def ensure_node_modules() -> None:
    lock = BENCH / "package-lock.json"
    stamp = BENCH / "node_modules" / ".package-lock.json"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    subprocess.run(
        ["npm", "ci", "--prefix", str(BENCH), "--no-audit", "--no-fund", "--loglevel=error"], check=True, cwd=REPO
    )


def ensure_redis(url: str) -> None:
    command = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379", "--save", ""]
    if not port_open("127.0.0.1", 6379) and not start_and_wait([*command, "--appendonly", "no"], "127.0.0.1", 6379):
        raise Skip("Redis is not reachable on 127.0.0.1:6379 and could not be started")
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


def flush_redis(url: str) -> None:
    import redis

    with contextlib.suppress(redis.RedisError):
        client = redis.Redis.from_url(url)
        client.flushdb()
        client.close()


@contextlib.contextmanager
def postgres_database():
    """A new PostgreSQL database for one set-up (bench/seed.py migrates it), dropped after."""
    if not start_postgres():
        raise Skip("PostgreSQL is not reachable on 127.0.0.1:5432 and could not be started")
    import psycopg

    name = f"chat_bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise Skip(f"PostgreSQL on 127.0.0.1:5432 does not accept postgres@postgres: {exc}") from None
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


# --- one measured server ------------------------------------------------------------------------------


def drive(server: Server, users: list[dict], group: dict | None, args, work: Path, *, history: bool) -> tuple:
    """Runs bench/load.mjs against `server`; (results, raw latency samples)."""
    server.wait_ready()
    config = {
        "url": server.url,
        "pids": server.pids(),
        "users": users,
        "group": group,
        "out": str(work / "load.json"),
        "samplesOut": str(work / "samples.json"),
        "closedSockets": args.closed_sockets,
        "closedSeconds": args.closed_seconds,
        "openRates": args.open_rates,
        "openSeconds": args.open_seconds,
        "fanoutSeconds": args.fanout_seconds,
        "pageCalls": args.page_calls if history else 0,
    }
    (work / "config.json").write_text(json.dumps(config))
    bound = 120 + 3 * args.closed_seconds + len(args.open_rates) * (args.open_seconds + 8) + args.fanout_seconds
    try:
        subprocess.run(
            ["node", str(BENCH / "load.mjs"), str(work / "config.json")], cwd=REPO, check=True, timeout=bound
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"the load generator failed ({exc}); server log:\n{server.tail()}") from None
    return json.loads((work / "load.json").read_text()), json.loads((work / "samples.json").read_text())


def run_relay(base_env: dict, args, work: Path) -> tuple:
    """The ceiling: bench/relay.py with made-up users (it checks nothing), the same pairs and group."""
    users = []
    for k in range(args.sockets // 2):
        users += [{"id": str(uuid.uuid4()), "token": "-", "chatHeaderId": k + 1} for _ in range(2)]
    group = {"chatHeaderId": 10**9, "members": args.fanout_members} if args.fanout_members else None
    server = Server("bench.relay:application", base_env, args.logs / "relay.log")
    try:
        return drive(server, users, group, args, work, history=False)
    finally:
        server.stop()


def run_setup(setup: Setup, base_env: dict, args, work: Path) -> tuple:
    """One set-up of our server: a fresh database (and Redis), seeded, served, driven; (results, samples,
    seconds spent seeding)."""
    with contextlib.ExitStack() as stack:
        env = dict(base_env)
        if setup.database == "postgres":
            env["DATABASE_URL"] = stack.enter_context(postgres_database())
        else:
            env["DATABASE_URL"] = f"sqlite:///{work / f'{setup.key}.sqlite3'}"
        if setup.redis:
            ensure_redis(args.redis_url)
            stack.callback(flush_redis, args.redis_url)
            env["REDIS_URL"] = args.redis_url
            env["SOCKETIO_CHANNEL"] = f"chat-bench-{os.getpid()}"  # pub/sub channels ignore the database number
        seeded = work / f"{setup.key}-users.json"
        done = subprocess.run(
            [sys.executable, str(BENCH / "seed.py"), "--pairs", str(args.sockets // 2),
             "--group", str(args.fanout_members), "--out", str(seeded)],
            cwd=REPO, env=env, capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"seeding failed:\n{done.stderr[-4000:]}")
        seed = json.loads(seeded.read_text())
        log = args.logs / f"{setup.key}.log"
        server = Server("chat_project.asgi:application", env, log, workers=setup.workers)
        stack.callback(server.stop)
        results, samples = drive(server, seed["users"], seed["group"], args, work, history=True)
        return results, samples, seed["seconds"]


# --- figures --------------------------------------------------------------------------------------------


def ratio(value, ceiling) -> float | None:
    if value is None or not ceiling:
        return None
    return round(value / ceiling, 2)


def ratios(results: dict, relay: dict) -> dict:
    out = {
        "closed_loop_messages_per_second": ratio(
            results["closed_loop"]["messages_per_second"], relay["closed_loop"]["messages_per_second"]
        ),
        "memory_per_socket": ratio(results["memory"]["per_socket_kb"], relay["memory"]["per_socket_kb"]),
        "open_loop_p99": {
            _rate_key(o["offered_per_second"]): ratio(o["latency"]["p99_ms"], r["latency"]["p99_ms"])
            for o, r in zip(results["open_loop"], relay["open_loop"], strict=True)
        },
    }
    if "fanout" in results and "fanout" in relay:
        out["fanout_deliveries_per_second"] = ratio(
            results["fanout"]["deliveries_per_second"], relay["fanout"]["deliveries_per_second"]
        )
    return out


# Issue 9's targets: (label, set-ups it applies to, check(results, ratios, all set-ups) -> (figure, met)).
def _open_p99(rate: float, limit: float):
    def check(results, _ratios, _all):
        entry = next((o for o in results["open_loop"] if o["offered_per_second"] == rate), None)
        if entry is None or entry["latency"]["p99_ms"] is None:
            return None
        return f"{_num(entry['latency']['p99_ms'])} ms", entry["latency"]["p99_ms"] <= limit and not entry["lost"]

    return check


def _closed_ratio(minimum: float):
    def check(results, ratios_, _all):
        r = ratios_["closed_loop_messages_per_second"]
        errors = results["closed_loop"]["errors"]
        return f"{_times(r) if r is not None else '-'}, {errors} errors", r is not None and r >= minimum and errors == 0

    return check


def _two_workers(results, _ratios, everything):
    one = everything.get("postgres", {}).get("results")
    if not one:
        return None
    a, b = results["closed_loop"]["messages_per_second"], one["closed_loop"]["messages_per_second"]
    return f"{a:,} vs {b:,} msg/s", a >= b


def _fanout(results, ratios_, _all):
    r = ratios_.get("fanout_deliveries_per_second")
    return (_times(r), r >= 1.5) if r is not None else None


def _memory(results, _ratios, _all):
    kb = results["memory"]["per_socket_kb"]
    return f"{kb:g} KB", kb <= 50


TARGETS = [
    ("closed loop ≥ 0.5x relay (aim 0.75x), zero errors", {"sqlite"}, _closed_ratio(0.5)),
    ("closed loop ≥ 0.4x relay", {"postgres"}, _closed_ratio(0.4)),
    ("2 workers ≥ 1 worker's msg/s (PostgreSQL)", {"postgres-redis"}, _two_workers),
    ("open loop p99 ≤ 20 ms at 300 msg/s, nothing lost", set(SETUPS), _open_p99(300, 20)),
    ("open loop p99 ≤ 40 ms at 500 msg/s, nothing lost", set(SETUPS), _open_p99(500, 40)),
    ("fan-out ≥ 1.5x relay's deliveries/s", set(SETUPS), _fanout),
    ("idle socket ≤ 50 KB", set(SETUPS), _memory),
]


def targets(key: str, entry: dict, everything: dict) -> dict:
    out = {}
    for label, applies, check in TARGETS:
        if key in applies:
            got = check(entry["results"], entry["ratios"], everything)
            if got is not None:
                out[label] = {"figure": got[0], "met": got[1]}
    return out


def _num(value: float) -> str:
    """Three significant figures or so: 0.437, 8.77, 91.6, 157, 4,085."""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}" if value >= 0.1 else f"{value:.3f}"


def _ms(summary: dict) -> str:
    return f"{_num(summary['p50_ms'])} / {_num(summary['p99_ms'])}" if summary["count"] else "-"


def _times(r: float) -> str:
    """A ratio: 0.08x, 0.45x, 1.85x, 28x."""
    return f"{r:.0f}x" if r >= 10 else f"{r:.2f}x"


def _errors(phase: dict) -> str:
    kinds = phase.get("errors_by_kind") or {}
    return str(phase["errors"]) + (f" ({', '.join(f'{k} {n}' for k, n in kinds.items())})" if kinds else "")


def _rate_key(rate: float) -> str:
    return f"{rate:g}"  # the key of an offered rate in the ratios and samples: "300", not "300.0"


def table(report: dict) -> str:
    columns = [("relay", RELAY_TITLE)] + [(k, SETUPS[k].title) for k in report["setups"] if k != "relay"]
    entries = report["setups"]
    rows: list[tuple[str, list[str]]] = []

    def row(label, cell):
        cells = []
        for key, _ in columns:
            entry = entries[key]
            if "skipped" in entry or "failed" in entry:
                cells.append("skipped" if "skipped" in entry else "FAILED")
                continue
            try:
                cells.append(cell(entry["results"], entry.get("ratios"), key == "relay"))
            except (KeyError, TypeError):
                cells.append("-")
        rows.append((label, cells))

    def versus(value: str, r, sep: str = "  ") -> str:
        return value if r is None else f"{value}{sep}{_times(r)}"

    def closed_rate(r, q, relay):
        value = f"{r['closed_loop']['messages_per_second']:,}"
        return value if relay else versus(value, q["closed_loop_messages_per_second"])

    def open_latency(i):
        def cell(r, q, relay):
            entry = r["open_loop"][i]
            value = _ms(entry["latency"])
            p99_ratio = None if relay else q["open_loop_p99"][_rate_key(entry["offered_per_second"])]
            return value if relay else versus(value, p99_ratio, sep=", p99 ")

        return cell

    def open_counts(i):
        def cell(r, q, relay):
            entry = r["open_loop"][i]
            return f"{entry['delivered']}/{entry['sent']}, {entry['lost']}, {entry['errors']}"

        return cell

    def fanout(r, q, relay):
        value = f"{r['fanout']['deliveries_per_second']:,}"
        return value if relay else versus(value, q.get("fanout_deliveries_per_second"))

    def cpu(phase):
        def cell(r, q, relay):
            c = r[phase].get("cpu")
            return f"{c['server_percent']} / {c['load_generator_percent']} / {c['machine_percent']}" if c else "-"

        return cell

    def fanout_counts(r, q, relay):
        return f"{r['fanout']['delivered']}/{r['fanout']['expected']}, {_errors(r['fanout'])}"

    def memory(r, q, relay):
        value = f"{r['memory']['per_socket_kb']:g}"
        return value if relay else versus(value, q["memory_per_socket"])

    def pages(which):
        return lambda r, q, relay: "-" if relay else _ms(r["history_pages"][which])

    row(f"(a) closed loop, {report['config']['closed_sockets']} sockets, msg/s", closed_rate)
    row("    ack p50 / p99, ms", lambda r, q, relay: _ms(r["closed_loop"]["ack_latency"]))
    row("    errors", lambda r, q, relay: _errors(r["closed_loop"]))
    row("    CPU % of a core: server / load gen / machine", cpu("closed_loop"))
    for i, rate in enumerate(report["config"]["open_rates"]):
        row(f"(b) open loop {rate:g} msg/s, p50 / p99 ms", open_latency(i))
        row("    delivered/sent, lost, errors", open_counts(i))
    row(f"(e) fan-out to {report['config']['fanout_members']}, deliveries/s", fanout)
    row("    delivered/expected, errors", fanout_counts)
    row("    CPU % of a core: server / load gen / machine", cpu("fanout"))
    row("(c) RSS per idle socket, KB", memory)
    row("(d) findAllMessages 50 rows, p50 / p99 ms", pages("newest_page"))
    row("    keyset page, p50 / p99 ms", pages("keyset_page"))

    header = ["measure"] + [title for _, title in columns]
    lines_in = [header] + [[label, *cells] for label, cells in rows]
    width = [max(len(line[i]) for line in lines_in) for i in range(len(header))]

    def fmt(line):
        return "  ".join(cell.ljust(width[i]) for i, cell in enumerate(line)).rstrip()

    out = [fmt(header), "-" * (sum(width) + 2 * (len(width) - 1))] + [fmt(line) for line in lines_in[1:]]
    out.append("(ratios: our figure / the relay's in this run; for latency and memory lower is better)")
    for entry in entries.values():
        if "skipped" in entry:
            out.append(f"{entry['title']}: skipped: {entry['skipped']}")
        elif "failed" in entry:
            out.append(f"{entry['title']}: FAILED: {entry['failed'].splitlines()[0]} (the server's log above)")

    checked = [(key, entries[key].get("targets") or {}) for key, _ in columns[1:]]
    labels = [label for label, _, _ in TARGETS if any(label in t for _, t in checked)]
    if labels:
        out += ["", "issue 9's targets, this run (reported, not enforced):"]
        for label in labels:
            cells = [
                f"{SETUPS[key].title}: {t[label]['figure']} {'met' if t[label]['met'] else 'NOT met'}"
                for key, t in checked
                if label in t
            ]
            out.append(f"  {label}: " + "; ".join(cells))
    return "\n".join(out)


def plot(report: dict, samples: dict, path: Path) -> str | None:
    """Complementary CDFs of the latencies (the fraction of messages slower than x), one panel per measure
    and a line per set-up: the tail reads off the right-hand end. None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (bench/requirements.txt): no plot"

    rates = report["config"]["open_rates"]
    panels = [("(a) closed loop, ack latency", "closed", None)]
    limits = {300: 20, 500: 40}
    panels += [(f"(b) open loop at {r:g} msg/s, emit → partner's message", _rate_key(r), limits.get(r)) for r in rates]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 6), squeeze=False)
    colours = {"relay": "black", "sqlite": "tab:blue", "postgres": "tab:green", "postgres-redis": "tab:red"}
    for ax, (title, key, limit) in zip(axes[0], panels, strict=True):
        for setup, data in samples.items():
            values = data["closed_ack_ms"] if key == "closed" else data["open_ms"].get(key, [])
            if not values:
                continue
            values = sorted(values)
            n = len(values)
            survival = [1 - i / n for i in range(n)]
            p50, p99 = (values[min(n - 1, max(0, -(-p * n // 100) - 1))] for p in (50, 99))
            name = RELAY_TITLE if setup == "relay" else SETUPS[setup].title
            label = f"{name}: p50 {_num(p50)}, p99 {_num(p99)} ms"
            ax.step(values, survival, where="post", color=colours.get(setup), label=label)
        for level, text in ((0.5, "p50"), (0.01, "p99"), (0.001, "p99.9")):
            ax.axhline(level, color="grey", linewidth=0.6, linestyle=":")
            ax.annotate(text, (1, level), xycoords=("axes fraction", "data"), ha="right", va="bottom", fontsize=8)
        if limit:
            ax.axvline(limit, color="tab:orange", linewidth=1, linestyle="--", label=f"target p99 ≤ {limit} ms")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(1e-4, 1.05)
        ax.set_xlabel("latency, ms (log)")
        ax.set_ylabel("fraction of messages slower (log)")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="major", linewidth=0.3)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    fig.suptitle(
        f"make bench at {report['commit']}, {report['when']}: {report['sockets']} sockets, "
        f"{report['config']['closed_sockets']} in the closed loop ({report['machine']['cpus']} cores, "
        "load generator on the same machine)",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_sync_bench(chosen: list[str]) -> dict:
    """bench/sync.py (issue 12: a client catching up on 10,000 changes across 200 chats, and
    createMessage's write with and without the change log) on SQLite, and on PostgreSQL when a set-up
    of this run used it; {database: figures, or {"failed": why}}."""
    runs = {"sqlite": []}
    if any(SETUPS[key].database == "postgres" for key in chosen):
        runs["postgres"] = ["--database-url", "postgres://postgres@127.0.0.1:5432/postgres"]
    out = {}
    for database, extra in runs.items():
        print(f"bench: sync.py on {database}", flush=True)
        command = [sys.executable, str(BENCH / "sync.py"), "--write-cost", "--json", *extra]
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900)
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            out[database] = {"failed": (done.stderr or done.stdout)[-2000:]}
            continue
        out[database] = json.loads(lines[-1])
    return out


def sync_table(sync: dict) -> str:
    lines = ["bench/sync.py (issue 12), per database:"]
    for database, figures in sync.items():
        if "failed" in figures:
            lines.append(f"  {database}: FAILED: {figures['failed'].strip().splitlines()[-1:]}")
            continue
        for what, row in figures["sync"].items():
            if what.startswith("write_batch_"):
                cost = (row["with_ms"] / row["without_ms"] - 1) * 100
                lines.append(
                    f"  {database}: createMessage write, batch of {what.rsplit('_', 1)[1]}: "
                    f"{row['without_ms']} ms without the change log, {row['with_ms']} ms with it (+{cost:.0f}%)"
                )
            else:
                lines.append(
                    f"  {database}: sync {what.replace('_', ' ')}: {row['pages']} pages of {figures['limit']}, "
                    f"{row['pages_per_s']:,} pages/s, {row['changes_per_s']:,} changes/s, "
                    f"page median {row['median_ms']} ms, p99 {row['p99_ms']} ms"
                )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--setups",
        default=",".join(SETUPS),
        help=f"comma-separated, from {', '.join(SETUPS)} (default: all); the relay always runs",
    )
    parser.add_argument("--sockets", type=int, default=1000, help="connected sockets (even; pairs share a chat)")
    parser.add_argument("--closed-sockets", type=int, default=100)
    parser.add_argument("--closed-seconds", type=float, default=10)
    parser.add_argument(
        "--open-rates", default="300,500", help="offered messages per second, one open-loop run per rate"
    )
    parser.add_argument("--open-seconds", type=float, default=10)
    parser.add_argument("--fanout-members", type=int, default=100, help="members of the fan-out group (0: none)")
    parser.add_argument("--fanout-seconds", type=float, default=5)
    parser.add_argument("--page-calls", type=int, default=200)
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11"),
        help="a Redis database of the bench's own: flushed before and after (BENCH_REDIS_URL)",
    )
    parser.add_argument(
        "--no-sync", action="store_true", help="leave out bench/sync.py (issue 12: catching up with `sync`)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--plot", type=Path, default=RESULTS / "latency.png")
    args = parser.parse_args()
    chosen = [s.strip() for s in args.setups.split(",") if s.strip()]
    if unknown := [s for s in chosen if s not in SETUPS]:
        parser.error(f"unknown set-up {', '.join(unknown)}; choose from {', '.join(SETUPS)}")
    args.open_rates = [float(rate) for rate in args.open_rates.split(",")]
    args.fanout_members = min(args.fanout_members, args.sockets)
    args.logs = args.out.parent / "logs"  # each server's output, kept for the errors the table counts
    args.logs.mkdir(parents=True, exist_ok=True)

    if not shutil.which("node") or not shutil.which("npm"):
        print("bench: SKIPPED: node and npm are needed for the socket.io-client load generator")
        return 0
    ensure_node_modules()

    t0 = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    base_env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_DEBUG", "DATABASE_URL"}}
    base_env.update(
        DJANGO_SETTINGS_MODULE="chat_project.settings",
        MEDIA_ROOT=str(work / "media"),
        PUSH_FILE_PATH=str(work / "pushes.jsonl"),
        CHAT_RATE_LIMIT="0",
        LOG_LEVEL="WARNING",
    )
    setups: dict[str, dict] = {}
    samples: dict[str, dict] = {}
    failed = False
    try:
        print(f"bench: {RELAY_TITLE}", flush=True)
        relay, samples["relay"] = run_relay(base_env, args, work)
        setups["relay"] = {"title": RELAY_TITLE, "server": "bench/relay.py, uvicorn, 1 process", "results": relay}
        for key in chosen:
            setup = SETUPS[key]
            print(f"bench: {setup.title}", flush=True)
            try:
                results, samples[key], seed_seconds = run_setup(setup, base_env, args, work)
            except Skip as exc:
                print(f"bench: {setup.title}: SKIPPED: {exc}")
                setups[key] = {"title": setup.title, "skipped": str(exc)}
                continue
            except RuntimeError as exc:
                print(f"bench: {setup.title}: FAILED: {exc}")
                setups[key] = {"title": setup.title, "failed": str(exc)[:2000]}
                failed = True
                continue
            setups[key] = {
                "title": setup.title,
                "server": f"uvicorn, {setup.workers} process(es), ws per-message deflate off, CHAT_RATE_LIMIT=0, "
                + ("PostgreSQL" if setup.database == "postgres" else "SQLite (WAL)")
                + (", Redis (AsyncRedisManager, presence and limits)" if setup.redis else ""),
                "seed_seconds": seed_seconds,
                "results": results,
                "ratios": ratios(results, relay),
            }
        for key, entry in setups.items():
            if key != "relay" and "results" in entry:
                entry["targets"] = targets(key, entry, setups)
    except RuntimeError as exc:
        print(f"bench: the relay failed: {exc}")
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)

    sync = {} if args.no_sync else run_sync_bench(chosen)
    node_version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    config = {k: getattr(args, k) for k in ("closed_sockets", "closed_seconds", "open_rates", "open_seconds",
                                              "fanout_members", "fanout_seconds", "page_calls")}  # fmt: skip
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "commit": git_commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "node": node_version},
        "sockets": args.sockets,
        "config": config,
        "setups": setups,
        "sync": sync,
        "seconds": round(time.monotonic() - t0, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    problem = plot(report, samples, args.plot)
    print()
    print(table(report))
    if sync:
        print()
        print(sync_table(sync))

    def shown(path: Path):
        return path.relative_to(REPO) if path.is_relative_to(REPO) else path

    print(f"\nbench: {report['seconds']} s in all; wrote {shown(args.out)}" + (f" ({problem})" if problem else ""))
    if not problem:
        print(f"bench: latency plot {shown(args.plot)}")
    print(f"bench: the servers' logs in {shown(args.logs)}/")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
