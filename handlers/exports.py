"""The class's files behind 导出's signed link: the CSV of raw rows and the .xlsx grade sheet (handlers/gradesheet.py)."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app

from bot.database import reading
from handlers.gradesheet import export_csv, export_xlsx
from models import Classroom

bp = Blueprint("exports", __name__)
KINDS = {"csv": (export_csv, "text/csv"),
         "xlsx": (export_xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}


@bp.get("/export/<token>.<kind>")
def class_export(token: str, kind: str):
    """Serve a class's attendance and scores when the link is valid and unexpired."""
    if kind not in KINDS:
        abort(404)
    kt = current_app.extensions["ketang"]
    now = kt.clock()
    # "<class id>:<lang>[:<section id>]" (links made before: the id alone); the section is signed in, so the link
    # of one section's assistant cannot be edited into the class's
    class_id, lang, section = ((kt.links.value("export", token, now) or "").split(":") + ["", ""])[:3]
    if (not class_id.isdigit() or lang not in ("", "zh", "en") or not (section == "" or section.isdigit())
            or Classroom.get_or_none(Classroom.id == int(class_id)) is None):
        abort(403)
    build, mimetype = KINDS[kind]
    with reading():  # one consistent snapshot, and no writer lock while the file is built
        name, data = build(int(class_id), kt.settings.school.tz, now, lang or "zh", int(section) if section else None)
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}", "Cache-Control": "no-store",
               "Referrer-Policy": "no-referrer"}
    return Response(data, mimetype=mimetype, headers=headers)
