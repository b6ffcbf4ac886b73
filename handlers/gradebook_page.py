"""The grade book page behind 成绩's signed link: one class, expiring, nothing guessable; served with no build
step and no CDN (a template, one stylesheet, one script). Everything a student controls is data (Jinja escapes)."""

from __future__ import annotations

from datetime import timezone

import flask
from flask import Blueprint, abort, current_app, jsonify, render_template

from bot.catalogue import t
from bot.database import reading
from handlers import sections
from handlers.gradebook import CELLS, PARTS, Book, book, histogram, rounded, shown
from handlers.grading import shown_answer, shown_key
from models import ABSENT, CHECKIN, EXCUSED, LATE, PRESENT, QUIZ, Activity, Classroom, Lesson, Membership, Post, Response

bp = Blueprint("gradebook", __name__, template_folder="templates", static_folder="static",
               static_url_path="/gradebook-static")

# Every page of a signed link: never cached, never indexed, the token never leaves in a Referer.
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex",
           "X-Content-Type-Options": "nosniff",
           "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                                      "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"}


def token_class(token: str) -> tuple[Classroom, str, int | None] | None:
    """The class, language and section (None: the whole class) a grade-book token was signed for, or None
    (forged, expired, another purpose). The section is signed in: editing the link cannot widen it."""
    kt = current_app.extensions["ketang"]
    value = kt.links.value("gradebook", token, kt.clock())
    class_id, lang, section = ((value or "").split(":") + ["", ""])[:3]
    if not class_id.isdigit() or lang not in ("zh", "en") or not (section == "" or section.isdigit()):
        return None
    classroom = Classroom.get_or_none(Classroom.id == int(class_id))
    return (classroom, lang, int(section) if section else None) if classroom else None


def gone() -> flask.Response:
    """The page an expired, forged or mistyped link gets: what happened and what to do, in both languages."""
    hours = current_app.extensions["ketang"].settings.gradebook.link_hours
    html = render_template("gradebook/gone.html", zh=t("gb_gone", "zh", hours=hours), en=t("gb_gone", "en", hours=hours))
    return flask.Response(html, status=404, headers=HEADERS)


@bp.get("/gradebook/<token>")
def page(token: str):
    found = token_class(token)
    if found is None:
        return gone()
    classroom, lang, section = found
    kt = current_app.extensions["ketang"]
    now = kt.clock()
    with reading():  # one snapshot, outside the write lock (check-ins going on are not slowed)
        data = book(classroom, now, section=section)
        shown_view = view(data, lang, kt.settings.school.tz, now)
        shown_view["name"] += sections.note(lang, section)  # one section's rows: the title says so (autoescaped)
        html = render_template("gradebook/page.html", **shown_view)
    return flask.Response(html, headers=HEADERS)


def streak(cells: list) -> int:
    """The longest run of absences in a row over the lessons the student was counted in."""
    best = run = 0
    for cell in cells:
        if cell is None:
            continue
        run = run + 1 if cell.status == ABSENT else 0
        best = max(best, run)
    return best


def view(data: Book, lang: str, tz, now) -> dict:
    """What the template shows: rows with their grid cells, the lesson line, quiz rates, labels."""
    def local(moment):
        return moment.replace(tzinfo=timezone.utc).astimezone(tz)

    def label(key, **params):
        return t(key, lang, **params)

    letters = {cell: cell_view(cell, label) for cell in CELLS}
    rows = []
    for row in data.rows:
        cells = [data.grid.get((lesson.id, row.user.id)) for lesson in data.lessons]
        rows.append({
            "id": row.user.id, "no": row.user.student_no or "", "name": row.user.display_name, "current": row.current,
            "total": shown(row.total), "total_sort": rounded(row.total) if row.total is not None else -1,
            "parts": [(shown(row.parts[p]), rounded(row.parts[p]) if row.parts[p] is not None else -1) for p in PARTS],
            "counts": [row.standing.counts[s] for s in (PRESENT, LATE, EXCUSED, ABSENT)] + [row.standing.made_up],
            "cells": [letters[cell] if cell else None for cell in cells], "streak": streak(cells),
            "below": row.total is not None and rounded(row.total) < 60,
        })
    lessons = []
    for number, lesson in enumerate(data.lessons, 1):
        counted = [c for c in (data.grid.get((lesson.id, r.user.id)) for r in data.rows) if c is not None]
        came = sum(1 for c in counted if c.status in (PRESENT, LATE))
        lessons.append({"n": number, "day": local(lesson.started_at).strftime("%m-%d"),
                        "rate": came / len(counted) if counted else 0, "came": came, "of": len(counted)})
    scaled = data.scaled()  # the class's view: a part nobody has had yet is "—" for all
    labels = {key: label(key) for key in PAGE_LABELS}
    labels["gb_shown"] = label("gb_shown", n="{n}", total="{total}")  # filled in by the page's script
    return {"lang": lang, "name": data.classroom.name, "rows": rows, "lessons": lessons, "L": labels,
            "quizzes": [{"n": n, "question": a.question, "counted": counted, "right": right,
                         "rate": right / counted if counted else 0} for a, n, counted, right in data.quizzes],
            "parts": [(label(f"part_{p}"), data.rule.weight(p), (scaled or {}).get(p)) for p in PARTS],
            "missing": data.missing_note(lang), "rule": data.rule, "activities": data.activities,
            "asof": local(now).strftime("%Y-%m-%d %H:%M"),
            "header": label("gb_header", lessons=len(data.lessons), quizzes=len(data.quizzes), activities=data.activities,
                            students=len([r for r in data.rows if r.current]), at=local(now).strftime("%Y-%m-%d %H:%M")),
            "rule_text": label("grading_rule", attendance=data.rule.attendance, quizzes=data.rule.quizzes,
                               participation=data.rule.participation, late=data.rule.late,
                               excused=label(f"grading_excused_{data.rule.excused}"),
                               ranks=label("grading_on" if data.rule.ranks else "grading_off")),
            "stats": stats(data, label), "legend": [(k, label(v), label("gb_made_up" if s == "made_up" else f"status_{s}"))
                                                       for s, (k, v) in LEGEND.items()]}


LEGEND = {PRESENT: ("p", "cell_present"), LATE: ("l", "cell_late"), EXCUSED: ("e", "cell_excused"),
          ABSENT: ("a", "cell_absent"), "made_up": ("m", "cell_made_up")}
PAGE_LABELS = ("gb_title", "gb_filter", "gb_all", "gb_below", "gb_streak", "gb_grid", "gb_line", "gb_quiz_rates",
               "csv_student_no", "csv_name", "gb_total", "gb_counts", "gb_expand", "gb_print", "gb_sort",
               "gb_none", "status_present", "status_late", "status_excused", "status_absent", "gb_made_up",
               "gb_left_mark", "gb_loading")


def cell_view(cell, label) -> tuple[str, str] | None:
    """(css class, letter) of a grid cell; None when the student was not counted for that lesson."""
    if cell is None:
        return None
    if cell.made_up:
        return "m", label("cell_made_up")
    key, letter = LEGEND[cell.status]
    return key, label(letter)


def stats(data: Book, label) -> dict:
    scores = [rounded(r.total) for r in data.counted]
    if not scores:
        return {}
    mean = rounded(sum((r.total for r in data.counted), 0) / len(scores))
    counts = histogram(scores)
    most = max(counts.values()) or 1
    return {"mean": label("gradebook_mean", mean=mean, below=sum(1 for s in scores if s < 60)),
            "bands": [(band, n, round(100 * n / most)) for band, n in counts.items()]}


@bp.get("/gradebook/<token>/student/<int:user_id>")
def student(token: str, user_id: int):
    """One student's lessons and answers (a row of the page expanded): only a student who was ever a member."""
    found = token_class(token)
    if found is None:
        abort(404)
    classroom, lang, section = found
    kt = current_app.extensions["ketang"]
    now = kt.clock()
    with reading():
        if not Membership.select().where((Membership.classroom == classroom.id) & (Membership.user == user_id)).exists():
            abort(404)
        if section is not None and user_id not in sections.students_in(classroom.id, section):
            abort(404)  # a section's link shows its students only
        out = []
        mine = {r.activity_id: r for r in Response.select().join(Activity).join(Lesson)
                .where((Lesson.classroom == classroom.id) & (Response.user == user_id))}
        posts = {a for (a,) in Post.select(Post.activity).join(Activity).join(Lesson)
                 .where((Lesson.classroom == classroom.id) & (Post.user == user_id)).tuples()}
        numbers = {}
        for activity in (Activity.select(Activity, Lesson).join(Lesson).where(Lesson.classroom == classroom.id)
                         .order_by(Lesson.started_at, Lesson.id, Activity.opened_at, Activity.id)):
            n = numbers.setdefault(activity.lesson_id, len(numbers) + 1)
            response = mine.get(activity.id)
            if activity.kind == CHECKIN:
                answer = t(f"status_{response.status}", lang) + (t("gb_made_up", lang) if response.made_up else "") \
                    if response else "—"
                right = None
            elif activity.kind == QUIZ:
                over = not activity.is_open(now)
                answer = shown_answer(activity, response.answer, lang) if response else "—"
                right = bool(response and response.right) if over else None
                answer += f"（{shown_key(activity, lang)}）" if over else ""
            else:
                answer = t("gb_answered", lang) if (response or activity.id in posts) else "—"
                right = None
            out.append({"lesson": n, "kind": t(f"gb_kind_{activity.kind}", lang), "question": activity.question[:80],
                        "answer": answer, "right": right})
    response = jsonify(out)
    response.headers.update(HEADERS)
    return response
