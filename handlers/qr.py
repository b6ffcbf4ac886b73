"""The class join QR code: a PNG behind a signed link, and the page it points to."""

from __future__ import annotations

import io

import qrcode
from flask import Blueprint, Response, abort, current_app, render_template, request
from qrcode.image.pure import PyPNGImage

from bot.catalogue import t
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
    """The class's official-account QR link when the scheduler made one, else our signed join page."""
    classroom = Classroom.get_or_none(Classroom.code == code)
    official = ready_qr(classroom.id, kt.clock()) if classroom else None
    return official.url if official else kt.links.url(f"/join/{code}?k={kt.links.sign('join', code)}")


@bp.get("/join/<code>")
def join_page(code: str):
    """What a phone shows after scanning the class QR code: how to join in the official account.

    Only a link from a class QR code (signed, ?k=) says whether the class exists: 200 with the join
    steps, or 404 "no such class" once it is gone. Any other /join/<code> answers 404 with the steps
    and no verdict, so this page can never be used to test class codes without the chat's guess limit.
    """
    if not (code.isdigit() and len(code) == 6):
        abort(404)
    kt = current_app.extensions["ketang"]
    signed = kt.links.unsign("join", request.args.get("k", "")) == code
    if signed and Classroom.get_or_none(Classroom.code == code) is None:
        return _page(code, t("class_not_found", "zh", code=code), steps=False), 404
    if not signed:
        return _page(code, t("join_page_unconfirmed", "zh", code=code)), 404
    return _page(code)


def _page(code: str, note: str = "", steps: bool = True) -> Response:
    """The join page (templates/join.html): *note* above the join steps, or instead of them."""
    return Response(render_template("join.html", code=code, note=note, steps=steps), mimetype="text/html")
