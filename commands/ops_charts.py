"""``/ops``' history charts: per bot, sent / failed / retried / inbound as server-rendered SVG.

No scripts, no chart library: one ``<svg>`` per bot and scale (``workers.history.SCALES``) with
one line per outcome. Every word is HTML around the drawing, not SVG text, so it stays
readable when the drawing shrinks to a 375 px screen: the caption (totals and the busiest
bucket, in the project's zone), the legend and the axis' first and last times. The drawing has
``role="img"`` with a ``<title>`` and a ``<desc>`` that says the same as the caption.
"""

from __future__ import annotations

import datetime as dt
from html import escape

from store.clock import from_timestamp, local, zone_label
from workers.history import OUTCOMES, Series

WIDTH, HEIGHT = 600, 120  # the drawing's own units; it scales to the box's width
COLOURS = {"sent": "#1d6b35", "failed": "#b00020", "retried": "#b35c00", "inbound": "#1f4e99"}


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _clock(start_s: int, zone: dt.tzinfo, *, seconds: bool) -> str:
    moment = local(from_timestamp(start_s), zone)
    return f"{moment.strftime('%H:%M:%S' if seconds else '%H:%M')} {zone_label(moment)}"


def _path(values: list[int], top: int) -> str:
    """The line's ``d``: points only where the line bends (a flat run is one segment), so a
    day of mostly quiet minutes stays a short path."""
    n = len(values)
    step = WIDTH / max(1, n - 1)

    def point(i: int) -> str:
        return f"{i * step:.1f} {HEIGHT - values[i] * HEIGHT / top:.1f}"

    kept = [
        i for i in range(n) if i in (0, n - 1) or not (values[i - 1] == values[i] == values[i + 1])
    ]
    return "M" + " L".join(point(i) for i in kept)


def busiest(series: Series) -> tuple[int, dict[str, int]] | None:
    """The bucket with the most of all outcomes together (the latest of equals): its start and
    counts; None when the whole span is empty."""
    sums = [sum(series.counts[o][i] for o in OUTCOMES) for i in range(series.scale.slots)]
    peak = max(sums, default=0)
    if peak == 0:
        return None
    i = len(sums) - 1 - sums[::-1].index(peak)
    return series.starts()[i], {o: series.counts[o][i] for o in OUTCOMES}


def summary(bot: str, series: Series, zone: dt.tzinfo) -> str:
    """One sentence: the totals over the span and the busiest bucket."""
    seconds = series.scale.step_s < 60
    totals = ", ".join(f"{series.total(o)} {o}" for o in OUTCOMES)
    text = f"{bot}, {series.scale.name}: {totals}."
    peak = busiest(series)
    if peak is None:
        return text + " Nothing happened."
    start, counts = peak
    unit = "10 s from" if seconds else "minute"
    figures = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
    return text + f" Busiest {unit} {_clock(start, zone, seconds=seconds)}: {figures}."


def chart(bot: str, series: Series, zone: dt.tzinfo, chart_id: str) -> str:
    """A ``<figure>``: caption, the drawing, its first and last times, the legend."""
    top = max([1] + [max(series.counts[o]) for o in OUTCOMES])
    lines = "".join(
        f'<path d="{_path(series.counts[o], top)}" stroke="{COLOURS[o]}" fill="none" '
        f'stroke-width="2" vector-effect="non-scaling-stroke" data-outcome="{o}"/>'
        for o in OUTCOMES
        if any(series.counts[o])
    )
    text = summary(bot, series, zone)
    seconds = series.scale.step_s < 60
    first = _clock(series.first, zone, seconds=seconds)
    last = _clock(series.starts()[-1], zone, seconds=seconds)
    legend = " ".join(
        f'<span style="color:{COLOURS[o]}">■ {_e(o)}</span> {series.total(o)}' for o in OUTCOMES
    )
    return (
        f'<figure class="chart" id="{_e(chart_id)}">'
        f"<figcaption>{_e(text)}</figcaption>"
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" preserveAspectRatio="none" role="img" '
        f'aria-labelledby="{_e(chart_id)}-t {_e(chart_id)}-d">'
        f'<title id="{_e(chart_id)}-t">{_e(bot)}: {_e(series.scale.name)}, peak {top}</title>'
        f'<desc id="{_e(chart_id)}-d">{_e(text)}</desc>'
        f'<line x1="0" y1="{HEIGHT}" x2="{WIDTH}" y2="{HEIGHT}" stroke="#999"/>{lines}</svg>'
        f'<div class="axis"><span>{_e(first)}</span><span>peak {top}</span>'
        f"<span>{_e(last)}</span></div>"
        f'<div class="legend">{legend}</div></figure>'
    )


def charts(history: dict[str, list[Series]], zone: dt.tzinfo) -> str:
    """Every bot's charts, one scale beside the other where the screen is wide enough."""
    if not history:
        return '<p id="history" class="muted">No bots configured.</p>'
    blocks = []
    for bot, scales in history.items():
        figures = "".join(chart(bot, s, zone, f"chart-{bot}-{s.scale.step_s}") for s in scales)
        blocks.append(f'<h3>{_e(bot)}</h3><div class="charts">{figures}</div>')
    return f'<div id="history">{"".join(blocks)}</div>'
