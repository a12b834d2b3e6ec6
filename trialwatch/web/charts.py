"""Geometry of the trial page's two inline SVG charts, computed here so templates only place
shapes: status periods as bands across a time axis, and the primary completion date stated
by each version as points joined by lines (a moved date's line is a slip)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from trialwatch.diffing.changes import period_start
from trialwatch.diffing.render import MINUS
from trialwatch.web.models import Timeline

WIDTH = 800
NARROW = 360  # the copy a phone shows
LEFT, RIGHT = 24, 24  # margins of the status axis: room for a year label's half
BAND_Y, BAND_HEIGHT = 10, 40
TICKS_Y = BAND_Y + BAND_HEIGHT + 14  # year labels under the bands
LABELS_Y = TICKS_Y + 18  # labels of bands too narrow to hold them, two rows
CHAR_WIDTH = 7  # roughly, at the chart's font size
PCD_HEIGHT, PCD_TOP, PCD_BOTTOM, PCD_LEFT, PCD_RIGHT = 240, 20, 30, 60, 20


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Band:
    x: float
    width: float
    status: str
    valid_from: str
    valid_until: str
    label: str
    title: str
    label_x: float
    label_y: float
    inside: bool  # the label fits in the band; else it sits below the axis


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    version_id: int
    date: str
    title: str


@dataclass(frozen=True)
class Segment:
    x1: float
    y1: float
    x2: float
    y2: float
    moved: bool
    delta_days: int
    label: str
    title: str

    @property
    def label_x(self) -> float:
        return round((self.x1 + self.x2) / 2 + 6, 1)

    @property
    def label_y(self) -> float:
        return round((self.y1 + self.y2) / 2, 1)


@dataclass(frozen=True)
class Charts:
    width: int
    band_height: int
    bands: list[Band]
    band_ticks: list[Tick]
    pcd_height: int
    points: list[Point]
    segments: list[Segment]
    pcd_ticks: list[Tick]


def _day(text: str) -> date:
    return period_start({"date": text})


def _span(days: list[date]) -> tuple[date, date]:
    """Whole years around ``days``: from the first one's 1 January to the next year's."""
    return date(min(days).year, 1, 1), date(max(days).year + 1, 1, 1)


def _years(start: date, end: date) -> list[date]:
    step = max(1, math.ceil((end.year - start.year) / 12))
    return [date(y, 1, 1) for y in range(start.year, end.year + 1, step)]


def _signed(days: int) -> str:
    return f"+{days}" if days >= 0 else f"{MINUS}{-days}"


def charts(timeline: Timeline, width: int = WIDTH) -> Charts:
    """Both charts drawn ``width`` units wide (a phone's copy is drawn narrower, so its
    labels keep their size instead of shrinking with the whole picture)."""
    bands, band_ticks = _bands(timeline, width)
    points, segments, pcd_ticks = _pcd(timeline, width)
    return Charts(
        width,
        LABELS_Y + 20,
        bands,
        band_ticks,
        PCD_HEIGHT,
        points,
        segments,
        pcd_ticks,
    )


def _bands(timeline: Timeline, width: int) -> tuple[list[Band], list[Tick]]:
    periods = timeline.status_periods
    if not periods:
        return [], []
    start, end = _span([_day(p.valid_from) for p in periods])
    scale = (width - LEFT - RIGHT) / max(1, (end - start).days)

    def x(day: date) -> float:
        return round(LEFT + (day - start).days * scale, 1)

    bands = []
    below = 0
    for p in periods:
        status = p.status or ""
        shown = status.replace("_", " ").lower() if status else "(not stated)"
        left, right = x(_day(p.valid_from)), x(_day(p.valid_until) if p.valid_until else end)
        until = p.valid_until or "now"
        wide = max(1.0, round(right - left, 1))
        inside = wide >= CHAR_WIDTH * len(shown) + 8
        if not inside:
            below += 1
        bands.append(
            Band(
                x=left,
                width=wide,
                status=status,
                valid_from=p.valid_from,
                valid_until=p.valid_until or "",
                label=shown,
                title=f"{shown}: {p.valid_from} to {until}",
                label_x=round(left + 4, 1),
                label_y=BAND_Y + BAND_HEIGHT / 2 + 4 if inside else LABELS_Y + 14 * (below % 2),
                inside=inside,
            )
        )
    return bands, [Tick(x(d), str(d.year)) for d in _years(start, end)]


def _pcd(timeline: Timeline, width: int) -> tuple[list[Point], list[Segment], list[Tick]]:
    stated = timeline.primary_completion
    if not stated:
        return [], [], []
    start, end = _span([_day(p.date) for p in stated])
    inner = PCD_HEIGHT - PCD_TOP - PCD_BOTTOM
    scale = inner / max(1, (end - start).days)
    step = (width - PCD_LEFT - PCD_RIGHT) / max(1, len(stated) - 1)

    def y(day: date) -> float:
        return round(PCD_TOP + inner - (day - start).days * scale, 1)

    points = [
        Point(
            x=round(PCD_LEFT + i * step if len(stated) > 1 else width / 2, 1),
            y=y(_day(p.date)),
            version_id=p.version_id,
            date=p.date,
            title=f"version {p.version_id} ({p.valid_from}): {p.date}"
            + (f" ({p.type})" if p.type else ""),
        )
        for i, p in enumerate(stated)
    ]
    slips = {(s.from_version_id, s.to_version_id): s.delta_days for s in timeline.slips}
    segments = []
    for a, b in zip(points, points[1:], strict=False):
        delta = slips.get((a.version_id, b.version_id))
        moved = delta is not None
        label = f"{_signed(delta)} days" if delta is not None else ""
        segments.append(
            Segment(
                a.x,
                a.y,
                b.x,
                b.y,
                moved,
                delta or 0,
                label,
                f"{a.date} \u2192 {b.date}: {label}" if moved else f"{b.date} kept",
            )
        )
    ticks = [Tick(y(d), str(d.year)) for d in _years(start, end)]
    return points, segments, ticks
