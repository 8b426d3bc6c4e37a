"""The moderators' dashboard in the admin (`/admin/dashboard/`): messages per day for the last 30 days
as an SVG drawn here (no chart library, nothing from a CDN), users online now, and the push outbox.

It lives in the wiring because it reads the chat app, its state layer and the notifications app.
Cost: the daily counts group the last 30 days' messages (a scan of those rows; about a quarter of a
second at a million on PostgreSQL, tests/admin/test_admin_million.py), so they are cached for a
minute; the other figures are one indexed query each and a presence lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from asgiref.sync import async_to_sync
from django.contrib import admin
from django.core.cache import cache
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.template.response import TemplateResponse
from django.utils import timezone

from chat.models import ChatMessage
from chat.state.store import get_state
from notifications.models import Push, PushState

DAYS = 30
CACHE_SECONDS = 60
# The chart's drawing area, in SVG user units.
WIDTH, HEIGHT, MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP = 720, 220, 48, 28, 12


@dataclass(frozen=True)
class Bar:
    day: date
    count: int
    x: float
    y: float
    width: float
    height: float
    label: bool  # whether the day is written under its bar


def messages_per_day(today: date) -> list[tuple[date, int]]:
    """(day, messages sent that day, deleted ones included) for the DAYS days up to today, oldest first."""
    first = today - timedelta(days=DAYS - 1)
    key = f"chat:dashboard:per-day:{today.isoformat()}"
    counts = cache.get(key)
    if counts is None:
        rows = (
            ChatMessage.objects.filter(creation_time__gte=timezone.make_aware(datetime.combine(first, time.min)))
            .annotate(day=TruncDate("creation_time"))
            .values("day")
            .annotate(n=Count("id"))
            .order_by()
        )
        counts = {row["day"]: row["n"] for row in rows}
        cache.set(key, counts, CACHE_SECONDS)
    return [(first + timedelta(days=i), counts.get(first + timedelta(days=i), 0)) for i in range(DAYS)]


def chart(days: list[tuple[date, int]]) -> dict:
    """Bars and a scale for the template's <svg>."""
    peak = max((n for _, n in days), default=0)
    top = _nice_ceiling(peak)
    plot_w, plot_h = WIDTH - MARGIN_LEFT, HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    slot = plot_w / len(days)
    bars = []
    for index, (day, n) in enumerate(days):
        h = plot_h * n / top if top else 0
        bars.append(
            Bar(
                day=day,
                count=n,
                x=round(MARGIN_LEFT + index * slot + slot * 0.15, 1),
                y=round(MARGIN_TOP + plot_h - h, 1),
                width=round(slot * 0.7, 1),
                height=round(h, 1),
                label=index % 5 == 0 or index == len(days) - 1,
            )
        )
    ticks = (
        [{"value": top * i // 4, "y": round(MARGIN_TOP + plot_h - plot_h * i / 4, 1)} for i in range(5)]
        if top
        else [{"value": 0, "y": MARGIN_TOP + plot_h}]
    )
    return {
        "bars": bars,
        "ticks": ticks,
        "width": WIDTH,
        "height": HEIGHT,
        "left": MARGIN_LEFT,
        "right": WIDTH,
        "baseline": MARGIN_TOP + plot_h,
        "label_y": HEIGHT - 8,
        "total": sum(n for _, n in days),
        "peak": peak,
    }


def _nice_ceiling(value: int) -> int:
    """The smallest 4 * (1, 2 or 5) * 10**n at or above `value`: a scale with four even, round ticks."""
    if value <= 0:
        return 0
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude * 4 >= value:
                return step * magnitude * 4
        magnitude *= 10


def users_online() -> int:
    """Users with a verified socket now, on every worker when presence is in Redis (chat.state)."""
    return async_to_sync(get_state().presence.online_user_count)()


def push_counts() -> dict[str, int]:
    by_state = dict(Push.objects.values_list("state").annotate(n=Count("id")).order_by())
    return {
        "sent": by_state.get(PushState.SENT, 0),
        "failed": by_state.get(PushState.FAILED, 0),
        "waiting": by_state.get(PushState.PENDING, 0) + by_state.get(PushState.SENDING, 0),
        "dropped": by_state.get(PushState.DROPPED, 0),
    }


def dashboard(request):
    today = timezone.localdate()
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "chart": chart(messages_per_day(today)),
        "days": DAYS,
        "online": users_online(),
        "pushes": push_counts(),
    }
    return TemplateResponse(request, "admin/dashboard.html", context)
