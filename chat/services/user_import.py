"""Importing users from a file (CONTRACT §10, `manage.py import_users FILE`).

JSON lines (`{"userId": ..., "name": ..., "avatar": ...}` per line) or CSV (`userId,name,avatar`, an
optional header row). Valid lines are upserted in batches through `users_upsert_bulk`, the service of
`POST /api/users/bulk`, so a file and the API follow one set of rules. A bad line is reported with
its number and skipped; the import goes on.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from chat.errors import Invalid
from chat.services.users import BULK_MAX_USERS, MAX_NAME_LENGTH, UserRecord, users_upsert_bulk

FORMATS = ("jsonl", "csv")
CSV_COLUMNS = ("userId", "name", "avatar")


@dataclass
class ImportReport:
    lines: int = 0  # lines read, blank ones included
    created: int = 0
    updated: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)


def detect_format(path: Path) -> str:
    """By extension (.csv; .jsonl, .ndjson, .json), else by the first non-blank character."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    with path.open("rb") as f:
        for line in f:
            if line.strip():
                return "jsonl" if line.lstrip(b"\xef\xbb\xbf \t").startswith(b"{") else "csv"
    return "jsonl"


def count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def _text(value, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{name}: must be a string or null.")
    if "\x00" in value:
        raise Invalid(f"{name}: must not contain NUL characters.")
    return value


def record_from_row(row: dict) -> UserRecord:
    """A UserRecord from one parsed line, or `Invalid` saying what is wrong with it."""
    raw_id = row.get("userId")
    try:
        user_id = uuid.UUID(raw_id) if isinstance(raw_id, str) else None
    except ValueError:
        user_id = None
    if user_id is None:
        raise Invalid("userId: must be a GUID.")
    name = _text(row.get("name"), "name")
    if name is not None and len(name) > MAX_NAME_LENGTH:
        raise Invalid(f"name: at most {MAX_NAME_LENGTH} characters.")
    return UserRecord(user_id=user_id, name=name or None, avatar=_text(row.get("avatar"), "avatar") or None)


def _jsonl_rows(lines: Iterable[str]) -> Iterator[tuple[int, dict | Invalid | None]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            yield number, None
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield number, Invalid(f"not JSON: {exc}")
            continue
        yield number, row if isinstance(row, dict) else Invalid("a line must be a JSON object.")


def _csv_rows(lines: Iterable[str]) -> Iterator[tuple[int, dict | Invalid | None]]:
    # csv.reader counts physical lines (a quoted cell may span several); report the first line of a row.
    reader = csv.reader(lines)
    start = 1
    for cells in reader:
        number, start = start, reader.line_num + 1
        if not cells or all(not cell.strip() for cell in cells):
            yield number, None
            continue
        if number == 1 and cells[0].strip().lower() == "userid":
            yield number, None  # the header row
            continue
        if len(cells) > len(CSV_COLUMNS):
            yield (
                number,
                Invalid(f"expected at most {len(CSV_COLUMNS)} columns (userId,name,avatar), got {len(cells)}."),
            )
            continue
        yield number, dict(zip(CSV_COLUMNS, [cell.strip() for cell in cells], strict=False))


def users_import(
    *,
    path: Path,
    fmt: str | None = None,
    batch_size: int = BULK_MAX_USERS,
    on_line: Callable[[int], None] | None = None,
    on_bad: Callable[[int, str], None] | None = None,
) -> ImportReport:
    """Upsert every valid line of the file, `batch_size` users per transaction.

    A user named twice in the file ends as its last line says: a batch never holds one user twice.
    `on_line(n)` is called after each batch with the number of lines it covered (a progress bar);
    `on_bad(number, why)` for each bad line as it is found.
    """
    if not 1 <= batch_size <= BULK_MAX_USERS:
        raise ValueError(f"batch_size must be 1..{BULK_MAX_USERS}")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    report = ImportReport()
    batch: dict[uuid.UUID, UserRecord] = {}
    pending_lines = 0

    def flush() -> None:
        nonlocal batch, pending_lines
        if batch:
            result = users_upsert_bulk(records=list(batch.values()))
            report.created += result.created
            report.updated += result.updated
        if on_line and pending_lines:
            on_line(pending_lines)
        batch, pending_lines = {}, 0

    def bad(number: int, why: str) -> None:
        report.bad.append((number, why))
        if on_bad:
            on_bad(number, why)

    with path.open("rb") as f:
        lines = _decoded_lines(f, bad)
        rows = _csv_rows(lines) if fmt == "csv" else _jsonl_rows(lines)
        try:
            for number, row in rows:
                pending_lines += number - report.lines
                report.lines = number
                if row is None:
                    continue
                try:
                    if isinstance(row, Invalid):
                        raise row
                    record = record_from_row(row)
                except Invalid as exc:
                    bad(number, exc.message)
                    continue
                if record.user_id in batch:
                    flush()
                batch[record.user_id] = record
                if len(batch) >= batch_size:
                    flush()
        except csv.Error as exc:
            # A NUL byte or an unclosed quote: the rest of the file cannot be read as CSV.
            bad(report.lines + 1, f"{exc}; the lines after it were not read")
    flush()
    return report


def _decoded_lines(f, bad: Callable[[int, str], None]) -> Iterator[str]:
    """The file's lines as text. A line that is not UTF-8 is reported and read as blank, so that the
    line numbers of the others stay right."""
    for number, raw in enumerate(f, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a byte-order mark, as spreadsheet programs write
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad(number, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
            yield "\n"
