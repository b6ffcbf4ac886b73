"""The class join QR code: a PNG behind a signed link, and the page it points to."""

from __future__ import annotations

import io

import qrcode
from flask import Blueprint, Response, abort, current_app, render_template
from qrcode.image.pure import PyPNGImage

from handlers.official_qr import ready_qr
from models import Classroom

bp = Blueprint("qr", __name__, template_folder="templates")


def png(data: str) -> bytes:
    """Render *data* as a QR code PNG (pure Python via pypng)."""
    image = qrcode.make(data, box_size=8, border=2, image_factory=PyPNGImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


@bp.get("/qr/<token>.png")
def class_qr(token: str):
    """Serve a class's join QR code when the signed link is valid and unexpired."""
    kt = current_app.extensions["ketang"]
    code = kt.links.value("qr", token, kt.clock())
    if code is None:
        abort(403)
    return Response(png(qr_content(kt, code)), mimetype="image/png", headers={"Cache-Control": "private, max-age=3600"})


def qr_content(kt, code: str) -> str:
    """The class's official-account QR link when the scheduler made one, else our join page."""
    classroom = Classroom.get_or_none(Classroom.code == code)
    official = ready_qr(classroom.id, kt.clock()) if classroom else None
    return official.url if official else kt.links.url(f"/join/{code}")


@bp.get("/join/<code>")
def join_page(code: str):
    """What a phone shows after scanning the class QR code: how to join in the official account."""
    if not (code.isdigit() and len(code) == 6):
        abort(404)
    return Response(render_template("join.html", code=code), mimetype="text/html")
