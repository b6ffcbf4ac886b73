"""The CSV export behind a signed, expiring link."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app

from bot.database import reading
from handlers.records import export_csv
from models import Classroom

bp = Blueprint("exports", __name__)


@bp.get("/export/<token>.csv")
def class_export(token: str):
    """Serve a class's attendance and scores when the link is valid and unexpired."""
    kt = current_app.extensions["ketang"]
    value = kt.links.value("export", token, kt.clock()) or ""
    class_id, _, lang = value.partition(":")  # "<class id>:<lang>" (links made before: the id alone, Chinese)
    if not class_id.isdigit() or lang not in ("", "zh", "en") or Classroom.get_or_none(Classroom.id == int(class_id)) is None:
        abort(403)
    with reading():  # one consistent snapshot, and no writer lock while the file is built
        name, data = export_csv(int(class_id), kt.settings.school.tz, lang or "zh")
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}", "Cache-Control": "no-store"}
    return Response(data, mimetype="text/csv", headers=headers)
