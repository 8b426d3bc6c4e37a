"""`manage.py import_users FILE [--format jsonl|csv] [--batch-size N]`: upsert users from a file (CONTRACT §10)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from chat.errors import Invalid
from chat.services.user_import import FORMATS, count_lines, users_import
from chat.services.users import BULK_MAX_USERS


class Command(BaseCommand):
    help = (
        "Create or update users from a file of JSON lines ({userId, name, avatar}) or CSV (userId,name,avatar, "
        "an optional header row). Bad lines are reported by number and skipped; the exit status is 1 when "
        "there were any."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", choices=FORMATS, help="default: from the extension, else the first line")
        parser.add_argument(
            "--batch-size", type=int, default=BULK_MAX_USERS, help=f"users per transaction (1..{BULK_MAX_USERS})"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")

    def handle(self, *args, **options):
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        batch_size = options["batch_size"]
        if not 1 <= batch_size <= BULK_MAX_USERS:
            raise CommandError(f"--batch-size must be 1..{BULK_MAX_USERS}")
        # The bar only on a terminal: in a pipe or a log it would be noise.
        show_progress = not options["no_progress"] and self.stderr.isatty()
        console = Console(stderr=True) if show_progress else None

        def on_bad(number: int, why: str) -> None:
            if console is not None:
                console.print(f"line {number}: {why}", style="yellow", markup=False, highlight=False)
            else:
                self.stderr.write(f"line {number}: {why}")

        progress = (
            Progress(
                TextColumn("importing {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("lines"),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            if console is not None
            else None
        )
        with progress if progress is not None else contextlib.nullcontext():
            task = progress.add_task(path.name, total=count_lines(path)) if progress is not None else None
            try:
                report = users_import(
                    path=path,
                    fmt=options["format"],
                    batch_size=batch_size,
                    on_line=(lambda n: progress.advance(task, n)) if progress is not None else None,
                    on_bad=on_bad,
                )
            except Invalid as exc:
                raise CommandError(exc.message) from exc
        self.stdout.write(
            f"{report.lines} line(s) read: {report.created} user(s) created, {report.updated} updated, "
            f"{len(report.bad)} bad line(s) skipped."
        )
        if report.bad:
            raise CommandError(f"{len(report.bad)} bad line(s): see the messages above", returncode=1)
