"""Deliver queued pushes as a process of its own (set PUSH_WORKER_IN_PROCESS=false on the servers)."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from notifications.worker import PRUNE_EVERY, idle_seconds, prune, run_step_in_thread


class Command(BaseCommand):
    help = "Deliver pushes from the outbox until stopped (SIGINT/SIGTERM finish the current batch first)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Deliver what is due now, then exit.")
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="Seconds between polls when idle (default 1; other processes cannot wake this one).",
        )

    def handle(self, *args, once: bool = False, interval: float = 1.0, **options):
        stop = threading.Event()
        if not once:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            self.stdout.write(f"push worker started ({settings.PUSH_BACKEND})")
        totals = {"sent": 0, "retried": 0, "failed": 0, "dropped": 0}
        last_prune = None
        while True:
            report = run_step_in_thread()
            for key in totals:
                totals[key] += getattr(report, key)
            if report.claimed:
                self.stdout.write(
                    f"sent {report.sent}, retry later {report.retried}, failed {report.failed}, "
                    f"dropped {report.dropped}"
                )
            if once:
                if report.claimed >= settings.PUSH_BATCH_SIZE:
                    continue
                break
            now = timezone.now()
            if last_prune is None or (now - last_prune).total_seconds() > PRUNE_EVERY:
                last_prune = now
                prune(now=now)
            if report.claimed >= settings.PUSH_BATCH_SIZE:
                continue
            if stop.wait(idle_seconds(report, poll=interval, now=now)):
                break
        self.stdout.write(
            f"push worker stopped: sent {totals['sent']}, retry later {totals['retried']}, "
            f"failed {totals['failed']}, dropped {totals['dropped']}"
        )
