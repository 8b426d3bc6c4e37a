"""CONTRACT §10: `manage.py import_users FILE`, JSON lines or CSV, in batches, bad lines reported by number."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
import uuid

import pytest
from django.core.management import CommandError, call_command

from chat.models import User
from chat.services.user_import import users_import
from tests.conftest import REPO_DIR

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str, CommandError | None]:
    out, err = io.StringIO(), io.StringIO()
    failure = None
    try:
        call_command("import_users", *map(str, args), stdout=out, stderr=err)
    except CommandError as exc:
        failure = exc
    return out.getvalue(), err.getvalue(), failure


def test_json_lines(tmp_path, make_user):
    alice = make_user("Alice")
    new = uuid.uuid4()
    path = tmp_path / "users.jsonl"
    path.write_text(
        json.dumps({"userId": str(alice.pk), "name": "Alice B", "avatar": "https://cdn.example/a.png"})
        + "\n\n"
        + json.dumps({"userId": str(new), "name": "New", "avatar": "javascript:alert(3)"})
        + "\n"
    )
    out, err, failure = run(path)
    assert failure is None and err == ""
    assert "3 line(s) read: 1 user(s) created, 1 updated, 0 bad line(s) skipped." in out
    assert (User.objects.get(pk=alice.pk).name, User.objects.get(pk=alice.pk).avatar) == (
        "Alice B",
        "https://cdn.example/a.png",
    )
    assert (User.objects.get(pk=new).name, User.objects.get(pk=new).avatar) == ("New", "")


def test_csv_with_a_header_and_bad_lines_reported_by_number(tmp_path):
    ids = [uuid.uuid4() for _ in range(3)]
    path = tmp_path / "users.csv"
    path.write_text(
        "userId,name,avatar\n"
        f"{ids[0]},Ann,https://cdn.example/ann.png\n"
        "not-a-guid,Bad,\n"
        f'{ids[1]},"Smith, Bob",\n'
        f"{ids[2]},{'N' * 201},\n"
        f"{ids[2]},Carol,,extra\n"
        f"{ids[2]},Carol\n"
    )
    out, err, failure = run(path)
    assert "line 3: userId: must be a GUID." in err
    assert "line 5: name: at most 200 characters." in err
    assert "line 6: expected at most 3 columns" in err
    assert "7 line(s) read: 3 user(s) created, 0 updated, 3 bad line(s) skipped." in out
    assert failure is not None and failure.returncode == 1  # an exit status scripts can check
    assert {u.name for u in User.objects.all()} == {"Ann", "Smith, Bob", "Carol"}


def test_headerless_csv_and_detection_by_content(tmp_path):
    uid = uuid.uuid4()
    path = tmp_path / "users.txt"
    path.write_text(f"{uid},Dee,https://cdn.example/d.png\n")
    out, _, failure = run(path)
    assert failure is None and "1 user(s) created" in out
    path.write_text(json.dumps({"userId": str(uid), "name": "Dee 2", "avatar": None}) + "\n")
    out, _, failure = run(path)
    assert failure is None and "1 updated" in out
    assert User.objects.get(pk=uid).name == "Dee 2"


def test_bad_json_lines_do_not_stop_the_import(tmp_path):
    good = [uuid.uuid4(), uuid.uuid4()]
    path = tmp_path / "users.jsonl"
    lines = [
        json.dumps({"userId": str(good[0]), "name": "A", "avatar": None}),
        "{not json",
        "[1, 2]",
        json.dumps({"userId": str(uuid.uuid4()), "name": 5}),
        json.dumps({"userId": str(uuid.uuid4()), "name": "x\x00y"}),
        json.dumps({"userId": str(good[1]), "name": "B"}),
    ]
    path.write_bytes(("\n".join(lines) + "\n").encode() + b'{"userId": "\xff"}\n')
    out, err, failure = run(path)
    for number, why in ((2, "not JSON"), (3, "JSON object"), (4, "name: must be a string"), (5, "NUL"), (7, "UTF-8")):
        assert f"line {number}: " in err and why in err, err
    assert "2 user(s) created" in out and "5 bad line(s)" in out
    assert failure is not None
    assert set(User.objects.values_list("pk", flat=True)) == set(good)


def test_batches_and_a_user_named_twice(tmp_path, django_assert_max_num_queries):
    """250 users in batches of 100: a few queries per batch, not per user; the last line of a user wins."""
    ids = [uuid.uuid4() for _ in range(250)]
    path = tmp_path / "users.jsonl"
    rows = [{"userId": str(uid), "name": f"U{i}", "avatar": None} for i, uid in enumerate(ids)]
    rows.append({"userId": str(ids[0]), "name": "Renamed", "avatar": None})  # in an earlier batch
    rows.append({"userId": str(ids[249]), "name": "Last", "avatar": None})  # in this batch: flushed first
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    seen = []
    with django_assert_max_num_queries(25):
        report = users_import(path=path, on_line=seen.append)
    assert (report.created, report.updated, report.bad) == (250, 2, [])
    assert seen == [100, 100, 52]  # lines read per flush: every line counted once
    assert User.objects.count() == 250
    assert (User.objects.get(pk=ids[0]).name, User.objects.get(pk=ids[249]).name) == ("Renamed", "Last")


def test_arguments(tmp_path):
    assert "no such file" in str(run(tmp_path / "missing.jsonl")[2])
    path = tmp_path / "u.jsonl"
    path.write_text("")
    assert "--batch-size" in str(run(path, "--batch-size", "0")[2])
    assert run(path)[2] is None


@pytest.mark.own_sqlite
def test_a_progress_bar_on_a_terminal_and_none_in_a_pipe(tmp_path):
    """Run as an operator would, in a pseudo-terminal: rich draws its bar there; in a pipe, only the summary."""
    path = tmp_path / "users.jsonl"
    path.write_text("".join(json.dumps({"userId": str(uuid.uuid4()), "name": f"U{i}"}) + "\n" for i in range(300)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", TERM="xterm-256color", COLUMNS="100")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=REPO_DIR, env=env, check=True,
                   capture_output=True)  # fmt: skip
    command = [sys.executable, "manage.py", "import_users", str(path), "--batch-size", "10"]

    piped = subprocess.run(command, cwd=REPO_DIR, env=env, capture_output=True, text=True, check=True)
    assert "300 line(s) read: 300 user(s) created" in piped.stdout
    assert "importing" not in piped.stderr and "━" not in piped.stderr

    path.write_text(path.read_text().replace('"U', '"V'))
    leader, follower = pty.openpty()
    proc = subprocess.Popen(command, cwd=REPO_DIR, env=env, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    output = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    proc.wait(30)
    os.close(leader)
    text = output.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "importing users.jsonl" in text and "━" in text, text
    assert "300 line(s) read: 0 user(s) created, 300 updated" in text
