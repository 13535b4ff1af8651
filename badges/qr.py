"""QR codes as inline SVG (segno), for the portal's badge pages: no image requests, no inline script or style."""

from __future__ import annotations

import segno


def qr_svg(value: str, *, title: str = "Badge QR code") -> str:
    """An SVG element (sized by CSS through its viewBox) encoding ``value``; medium error correction."""
    return segno.make(value, error="m", micro=False).svg_inline(
        scale=1, border=2, dark="#111111", light="#ffffff", title=title, svgclass="qr__svg", omitsize=True
    )
