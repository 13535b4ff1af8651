"""Floor plans: an SVG drawing uploaded by staff, kept only after it is rebuilt from an allow-list.

A plan is shown to every member, so the uploaded file is untrusted markup. :func:`sanitise_svg` parses it (no DTD, so
no entities, internal or external), keeps only drawing elements and presentation attributes, and writes a new
document: no ``<script>``, ``<foreignObject>``, ``<style>``, ``style=`` or ``on*=`` attribute, no link or reference
that leaves the document (``href`` only to ``#fragment``), no ``url()`` other than ``url(#id)``. The portal also
shows it only as an image (``<image href>`` to :func:`portal.views_bookings.floor_plan_svg`), where a browser runs
no script whatever the file says.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
MAX_BYTES = 2 * 1024 * 1024
MAX_ELEMENTS = 20_000

ELEMENTS = {
    "svg", "g", "defs", "title", "desc", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "text",
    "tspan", "linearGradient", "radialGradient", "stop", "clipPath", "mask", "pattern", "symbol", "use", "marker",
}  # fmt: skip
ATTRIBUTES = {
    "id", "class", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "width", "height", "d", "points",
    "viewBox", "preserveAspectRatio", "transform", "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width",
    "stroke-opacity", "stroke-linecap", "stroke-linejoin", "stroke-dasharray", "stroke-dashoffset",
    "stroke-miterlimit", "opacity", "font-family", "font-size", "font-weight", "font-style", "text-anchor",
    "dominant-baseline", "letter-spacing", "offset", "stop-color", "stop-opacity", "gradientUnits",
    "gradientTransform", "x-spread", "spreadMethod", "fx", "fy", "clip-path", "clip-rule", "clipPathUnits", "mask",
    "maskUnits", "patternUnits", "patternContentUnits", "patternTransform", "markerWidth", "markerHeight", "refX",
    "refY", "orient", "marker-start", "marker-mid", "marker-end", "visibility", "display", "vector-effect",
    "dx", "dy", "rotate", "textLength", "lengthAdjust", "version",
}  # fmt: skip
_URL = re.compile(r"url\s*\(", re.IGNORECASE)
_LOCAL_URL = re.compile(r"^\s*url\(\s*#[\w.-]+\s*\)\s*$")
_VIEWBOX = re.compile(r"^\s*(-?[\d.]+)[\s,]+(-?[\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)\s*$")


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _sep, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def _clean_attributes(element: ET.Element) -> dict[str, str]:
    kept = {}
    for key, value in element.attrib.items():
        namespace, name = _local(key)
        if namespace == XLINK_NS and name == "href" or namespace == "" and name == "href":
            if value.strip().startswith("#"):
                kept["href"] = value.strip()
            continue
        if namespace or name not in ATTRIBUTES:
            continue  # on*, style, xml:base, anything unknown
        if _URL.search(value) and not _LOCAL_URL.match(value):
            continue
        kept[name] = value
    return kept


def _copy(source: ET.Element, counter: list[int]) -> ET.Element | None:
    namespace, name = _local(source.tag)
    if namespace not in {SVG_NS, ""} or name not in ELEMENTS:
        return None
    counter[0] += 1
    if counter[0] > MAX_ELEMENTS:
        raise ValidationError(_("The plan has too many elements."), code="svg_too_large")
    target = ET.Element(name, _clean_attributes(source))
    target.text = source.text if name in {"text", "tspan", "title", "desc"} else None
    for child in source:
        copied = _copy(child, counter)
        if copied is not None:
            copied.tail = child.tail if name in {"text", "tspan"} else None
            target.append(copied)
    return target


def viewbox(svg: str) -> tuple[float, float, float, float] | None:
    """The (x, y, width, height) of a sanitised plan's viewBox."""
    attribute = re.search(r'viewBox="([^"]*)"', svg or "")
    match = _VIEWBOX.match(attribute.group(1)) if attribute else None
    if not match:
        return None
    x, y, width, height = (float(v) for v in match.groups())
    return (x, y, width, height) if width > 0 and height > 0 else None


def sanitise_svg(data: bytes | str) -> str:
    """An SVG plan rebuilt from the allow-list; ValidationError when it is not an SVG drawing we can use."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_BYTES:
        raise ValidationError(_("A plan is at most 2 MB."), code="svg_too_large")
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise ValidationError(_("The plan may not have a DOCTYPE or entities."), code="svg_doctype")
    try:
        root = ET.fromstring(raw)  # noqa: S314 -- no DTD reaches here (refused above), so no entity of any kind
    except ET.ParseError:
        raise ValidationError(_("This is not a readable SVG file."), code="svg_invalid") from None
    if _local(root.tag) != (SVG_NS, "svg"):
        raise ValidationError(_("This is not an SVG drawing."), code="svg_invalid")
    clean = _copy(root, [0])
    clean.set("xmlns", SVG_NS)
    if "viewBox" not in clean.attrib:
        try:
            width = float(re.sub(r"[a-z%]+$", "", clean.get("width", "")))
            height = float(re.sub(r"[a-z%]+$", "", clean.get("height", "")))
        except ValueError:
            raise ValidationError(_("The plan needs a viewBox (or a width and height)."), code="svg_size") from None
        clean.set("viewBox", f"0 0 {width:g} {height:g}")
    svg = ET.tostring(clean, encoding="unicode", short_empty_elements=True)
    if viewbox(svg) is None:
        raise ValidationError(_("The plan's viewBox is not usable."), code="svg_size")
    return svg
