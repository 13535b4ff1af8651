"""Server-rendered SVG charts for the analytics dashboard: no JavaScript, nothing inline that the strict CSP would
block (presentation attributes, not ``style``), and readable without colour: every value is also written as text,
series differ by pattern (solid, stripes, dots) as well as by shade, and suppressed cells are hatched and say so."""

from __future__ import annotations

from django.utils import formats
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

WEEKDAYS = [WEEKDAYS_ABBR[day] for day in range(7)]  # Monday first, in the active language (Django's catalogue)
PATTERNS = """<defs>
  <pattern id="p-stripes" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
    <rect width="6" height="6" fill="#ffffff"/><rect width="3" height="6" fill="#b45309"/></pattern>
  <pattern id="p-dots" width="6" height="6" patternUnits="userSpaceOnUse">
    <rect width="6" height="6" fill="#ffffff"/><circle cx="3" cy="3" r="1.6" fill="#6b21a8"/></pattern>
  <pattern id="p-hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)">
    <rect width="8" height="8" fill="#f3f4f6"/><rect width="1.5" height="8" fill="#9ca3af"/></pattern>
</defs>"""


def _shade(value: float) -> str:
    """A blue from pale (0) to deep (1)."""
    value = min(max(value, 0.0), 1.0)
    light, dark = (239, 246, 255), (30, 64, 175)
    rgb = [round(a + (b - a) * value) for a, b in zip(light, dark, strict=True)]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def heatmap(cells: list[dict]) -> SafeString:
    """Utilisation per weekday (rows) and local hour (columns), each cell labelled with its percentage."""
    if not cells:
        return mark_safe("")  # noqa: S308 - empty
    hours = sorted({c["hour"] for c in cells})
    by_key = {(c["weekday"], c["hour"]): c for c in cells}
    cell_w, cell_h, left, top = 44, 30, 48, 26
    width, height = left + cell_w * len(hours) + 4, top + cell_h * 7 + 4
    parts = [
        format_html(
            '<svg class="chart chart--heatmap" viewBox="0 0 {} {}" role="img" aria-labelledby="heatmap-title '
            'heatmap-desc" xmlns="http://www.w3.org/2000/svg">',
            width,
            height,
        ),
        format_html('<title id="heatmap-title">{}</title>', _("Room utilisation by weekday and hour")),
        format_html(
            '<desc id="heatmap-desc">{}</desc>',
            _(
                "Each cell is the share of bookable room time that was booked; darker is busier. "
                "Hatched cells concern fewer than five people and are not shown."
            ),
        ),
        mark_safe(PATTERNS),  # noqa: S308 - constant markup
    ]
    for i, hour in enumerate(hours):
        parts.append(
            format_html(
                '<text x="{}" y="{}" class="chart__axis" text-anchor="middle">{}</text>',
                left + i * cell_w + cell_w / 2,
                top - 8,
                f"{hour:02d}",
            )
        )
    for weekday in range(7):
        y = top + weekday * cell_h
        parts.append(
            format_html(
                '<text x="{}" y="{}" class="chart__axis" text-anchor="end">{}</text>',
                left - 8,
                y + cell_h / 2 + 4,
                WEEKDAYS[weekday],
            )
        )
        for i, hour in enumerate(hours):
            x = left + i * cell_w
            cell = by_key.get((weekday, hour))
            if cell is None:
                continue
            if cell["suppressed"]:
                fill, label, ink = "url(#p-hatch)", "n<5", "#374151"
            else:
                value = cell["utilisation"] or 0.0
                fill, label, ink = _shade(value), _pct(value), "#ffffff" if value >= 0.45 else "#111827"
            parts.append(
                format_html(
                    '<g class="heatmap__cell" data-weekday="{}" data-hour="{}"><title>{} {}:00 {}</title>'
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="#ffffff"/>'
                    '<text x="{}" y="{}" text-anchor="middle" class="chart__value" fill="{}">{}</text></g>',
                    weekday,
                    hour,
                    WEEKDAYS[weekday],
                    f"{hour:02d}",
                    _("suppressed (fewer than 5 people)")
                    if cell["suppressed"]
                    else _("%(share)s booked") % {"share": _pct(cell["utilisation"])},
                    x,
                    y,
                    cell_w,
                    cell_h,
                    fill,
                    x + cell_w / 2,
                    y + cell_h / 2 + 4,
                    ink,
                    label,
                )
            )
    parts.append(mark_safe("</svg>"))  # noqa: S308
    return mark_safe("".join(str(p) for p in parts))  # noqa: S308 - every part above is escaped


SERIES = [
    ("booked_h", gettext_lazy("Booked"), "#1e40af"),
    ("occupied_h", gettext_lazy("Occupied"), "url(#p-stripes)"),
    ("ghost_h", gettext_lazy("Ghost (booked, never used)"), "url(#p-dots)"),
]


def room_bars(rooms: list[dict]) -> SafeString:
    """Per room, three bars: booked, occupied and ghost hours, each labelled with its hours."""
    shown = [r for r in rooms if not r["suppressed"]]
    if not shown:
        return mark_safe("")  # noqa: S308
    top_value = max([r["booked_h"] or 0 for r in shown] + [r["ghost_h"] or 0 for r in shown] + [1])
    bar_h, gap, left, chart_w = 12, 14, 110, 420
    group_h = bar_h * 3 + gap
    height = 34 + group_h * len(shown)
    width = left + chart_w + 70
    parts = [
        format_html(
            '<svg class="chart chart--bars" viewBox="0 0 {} {}" role="img" aria-labelledby="bars-title" '
            'xmlns="http://www.w3.org/2000/svg">',
            width,
            height,
        ),
        format_html('<title id="bars-title">{}</title>', _("Booked, occupied and ghost hours per room")),
        mark_safe(PATTERNS),  # noqa: S308
    ]
    x = left
    for _key, label, fill in SERIES:  # the legend
        parts.append(
            format_html(
                '<rect x="{}" y="4" width="14" height="12" fill="{}" stroke="#374151"/>'
                '<text x="{}" y="14" class="chart__axis">{}</text>',
                x,
                fill,
                x + 18,
                label,
            )
        )
        x += 18 + 9 * len(label) + 16
    for index, room in enumerate(shown):
        y0 = 30 + index * group_h
        parts.append(
            format_html(
                '<text x="{}" y="{}" class="chart__axis" text-anchor="end">{}</text>',
                left - 8,
                y0 + bar_h * 1.5 + 4,
                room["name"],
            )
        )
        for offset, (key, label, fill) in enumerate(SERIES):
            value = room[key] or 0.0
            length = max(1.0, chart_w * value / top_value)
            y = y0 + offset * bar_h
            parts.append(
                format_html(
                    '<g class="bars__bar" data-series="{}"><title>{}: {} {} h</title>'
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="#374151" stroke-width="0.5"/>'
                    '<text x="{}" y="{}" class="chart__value">{} h</text></g>',
                    key,
                    room["name"],
                    label.lower(),
                    formats.number_format(value, 1),
                    left,
                    y,
                    f"{length:.1f}",
                    bar_h - 2,
                    fill,
                    left + length + 4,
                    y + bar_h - 3,
                    formats.number_format(value, 1),
                )
            )
    parts.append(mark_safe("</svg>"))  # noqa: S308
    return mark_safe("".join(str(p) for p in parts))  # noqa: S308 - every part above is escaped


def trend(weeks: list[dict]) -> SafeString:
    """Utilisation (solid line, round points) and occupancy (dashed line, square points) per week, labelled."""
    if not weeks:
        return mark_safe("")  # noqa: S308
    left, top, chart_w, chart_h = 40, 20, 560, 160
    step = chart_w / max(1, len(weeks) - 1)
    top_value = max([w["utilisation"] or 0 for w in weeks] + [w["occupancy"] or 0 for w in weeks] + [0.1])
    parts = [
        format_html(
            '<svg class="chart chart--trend" viewBox="0 0 {} {}" role="img" aria-labelledby="trend-title" '
            'xmlns="http://www.w3.org/2000/svg">',
            left + chart_w + 40,
            top + chart_h + 50,
        ),
        format_html('<title id="trend-title">{}</title>', _("Utilisation and occupancy per week")),
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#9ca3af"/>',
            left,
            top + chart_h,
            left + chart_w,
            top + chart_h,
        ),
    ]

    def point(i: int, value: float) -> tuple[float, float]:
        return left + i * step, top + chart_h - chart_h * value / top_value

    for key, dash, shape in (("utilisation", "", "circle"), ("occupancy", "6 4", "square")):
        points = [(i, w[key]) for i, w in enumerate(weeks) if w[key] is not None]
        if not points:
            continue
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, v) for i, v in points))
        parts.append(
            format_html(
                '<polyline points="{}" fill="none" stroke="#1e3a8a" stroke-width="2" stroke-dasharray="{}"/>',
                path,
                dash or "none",
            )
        )
        for i, value in points:
            x, y = point(i, value)
            marker = (
                format_html('<circle cx="{}" cy="{}" r="3.5" fill="#1e3a8a"/>', f"{x:.1f}", f"{y:.1f}")
                if shape == "circle"
                else format_html(
                    '<rect x="{}" y="{}" width="7" height="7" fill="#ffffff" stroke="#1e3a8a"/>',
                    f"{x - 3.5:.1f}",
                    f"{y - 3.5:.1f}",
                )
            )
            parts.append(marker)
            if key == "utilisation":
                parts.append(
                    format_html(
                        '<text x="{}" y="{}" text-anchor="middle" class="chart__value">{}</text>',
                        f"{x:.1f}",
                        f"{y - 8:.1f}",
                        _pct(value),
                    )
                )
    for i, week in enumerate(weeks):
        x, _y = point(i, 0)
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="middle" class="chart__axis">{}</text>',
                f"{x:.1f}",
                top + chart_h + 16,
                _("W%(week)s") % {"week": week["week"][-2:]},  # the ISO week's number ("2026-W37")
            )
        )
    parts.append(
        format_html(
            '<text x="{}" y="{}" class="chart__axis">{}</text>',
            left,
            top + chart_h + 38,
            _("— utilisation (labelled)   - - occupancy"),
        )
    )
    parts.append(mark_safe("</svg>"))  # noqa: S308
    return mark_safe("".join(str(p) for p in parts))  # noqa: S308 - every part above is escaped
