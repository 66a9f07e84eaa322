"""QR codes drawn as inline SVG: no image file, no inline style or script (the CSP allows
neither), scaled by CSS through the class the caller gives."""
from __future__ import annotations

import re

import qrcode
import qrcode.image.svg
from markupsafe import Markup, escape


def qr_svg(data: str, label: str, css_class: str | None = None) -> Markup:
    """An inline <svg> QR code of `data`, announced to screen readers as `label`."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4,
                         image_factory=qrcode.image.svg.SvgPathImage)
    code.add_data(data)
    code.make(fit=True)
    svg = code.make_image().to_string(encoding="unicode")
    svg = re.sub(r'\s(width|height)="[^"]*"', "", svg, count=2)
    css = f' class="{escape(css_class)}"' if css_class else ""
    return Markup(svg.replace("<svg ", f'<svg{css} role="img" aria-label="{escape(label)}" ', 1))
