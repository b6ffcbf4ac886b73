"""Results the teacher reads: quiz and survey bar charts, discussion posts, 不懂 signals."""

from __future__ import annotations

from collections import Counter

from bot.context import Context, UserError
from bot.text import fit_lines, inline
from handlers import scope, sections, wall
from handlers.attendance import checkin_report
from handlers.grading import comparable_answer, is_right, shown_answer, shown_key
from handlers.records import CAME, lesson_sheet
from models import CHECKIN, DISCUSSION, FILL, QUIZ, SURVEY, Activity, LostSignal, Post, Response, User

BAR_WIDTH = 10


def _lesson_in_view(ctx: Context):
    classroom = scope.current_class(ctx)
    return classroom, scope.lesson_in_view(classroom)


def results(ctx: Context, number: int | None = None, section: str | None = None) -> str:
    """Results of the lesson's latest activity, or of activity *number* (in order of publishing); of one section's
    students when one is named or the asker assists one section only (handlers/sections.view). A survey is
    anonymous: it is counted over the class, never split by section (a small section would show who chose what)."""
    classroom, lesson = _lesson_in_view(ctx)
    covered = sections.view(classroom, section)
    allowed = sections.students_in(classroom.id, covered)
    activities = (list(Activity.select().where(Activity.lesson == lesson).order_by(Activity.opened_at, Activity.id))
                  if lesson else [])
    if not activities:
        raise UserError("no_activity_yet", name=classroom.name)
    if number is not None and not 1 <= number <= len(activities):
        raise UserError("no_such_activity", n=number, total=len(activities))
    activity = activities[(number or len(activities)) - 1]
    if activity.kind == SURVEY:
        allowed = None
    if activity.kind == CHECKIN:  # this check-in, not the latest (签到情况 counts the lesson)
        body = checkin_report(ctx, activity, activities.index(activity) + 1, allowed)
    elif activity.kind == DISCUSSION:
        body = _posts(ctx, activity, allowed)
    else:
        body = _chart(ctx, activity, allowed)
    if allowed is not None:
        body += "\n" + sections.note(ctx.lang, covered).strip()
    elif covered is not None:
        body += "\n" + ctx.t("survey_not_by_section")
    if len(activities) > 1:
        body += "\n" + ctx.t("results_more", total=len(activities))
    return body


def _chart(ctx: Context, activity: Activity, allowed: set[int] | None = None) -> str:
    """Per-option counts as a text bar chart, the correct rate, and answered vs. present (of *allowed* only)."""
    rows = [r for r in Response.select(Response.user, Response.answer).where(Response.activity == activity)
            if allowed is None or r.user_id in allowed]
    answers = [r.answer for r in rows]
    present = present_for(activity.lesson, {r.user_id for r in rows}, allowed)
    state = ctx.t("state_open" if activity.is_open(ctx.now) else "state_closed")
    lines = [ctx.t(f"results_header_{activity.kind}", question=activity.question[:60], state=state)]
    rows = tally(activity, answers, ctx.lang)
    top = max([n for _key, n, _right in rows] + [1])
    for key, n, right in rows[:12]:
        bar = "█" * round(BAR_WIDTH * n / top) if n else "▏"
        mark = " ✓" if right and activity.kind == QUIZ else ""
        lines.append(f"{key} {bar} {n}{mark}")
    if activity.kind == QUIZ:
        right = sum(1 for a in answers if is_right(activity, a))
        rate = f"{100 * right / len(answers):.0f}%" if answers else "—"
        lines.append(ctx.t("results_footer", answered=len(answers), present=present, right=right, rate=rate,
                           answer_key=shown_key(activity, ctx.lang)))
    else:
        lines.append(ctx.t("survey_footer", answered=len(answers), present=present))
    return "\n".join(lines)


def present_for(lesson, answered: set[int], allowed: set[int] | None = None) -> int:
    """Whom an answer count is out of: who came to the lesson (the attendance rule) and whoever answered anyway
    (a student who answered without checking in is in the room), so it never reads "4 / 3"; with no check-in
    yet (or nobody checked in yet), the class's members: never "0 / 0"."""
    came = {uid for uid, status in lesson_sheet(lesson).items() if status in CAME and (allowed is None or uid in allowed)}
    if not came:
        members = set(scope.student_ids(lesson.classroom))
        return len((members if allowed is None else members & allowed) | answered)
    return len(came | answered)


def tally(activity: Activity, answers: list[str], lang: str) -> list[tuple[str, int, bool]]:
    """(option as shown, how many chose it, whether it is right) per option; fill-ins per distinct answer.
    The teacher's 结果 and the classroom screen's bars both draw this."""
    if activity.answer_type == FILL and activity.kind == QUIZ:
        # Group by the graded form ("北 平" is "北平"), shown as its most frequent spelling.
        groups: dict[str, Counter] = {}
        for answer in answers:
            groups.setdefault(comparable_answer(answer), Counter())[answer] += 1
        ranked = sorted(groups.values(), key=lambda spellings: -sum(spellings.values()))
        return [(spellings.most_common(1)[0][0], sum(spellings.values()), is_right(activity, spellings.most_common(1)[0][0]))
                for spellings in ranked]
    keys = "TF" if activity.options == "" else activity.options
    counted = Counter(ch for answer in answers for ch in answer) if activity.answer_type == "multiple" else Counter(answers)
    return [(shown_answer(activity, key, lang), counted.get(key, 0), key in activity.correct) for key in keys]


def _posts(ctx: Context, activity: Activity, allowed: set[int] | None = None) -> str:
    """Every post (of *allowed* students only), newest first, numbered as on the screen (隐藏/通过 <n>), marked when
    the screen did not show it."""
    posts = list(Post.select(Post, User).join(User).where(Post.activity == activity).order_by(Post.created_at, Post.id))
    state = ctx.t("state_open" if activity.is_open(ctx.now) else "state_closed")
    header = ctx.t("posts_header", topic=activity.question[:60], state=state, n=len(posts))
    marked = wall.judged(posts, wall.review_spans(activity.lesson.classroom_id),
                         wall.banned_words(ctx.settings.screen.banned_words_file))
    lines = [f"#{number} {ctx.t('wall_mark_' + mark) if mark else ''}{post.user.label(ctx.lang)}：{inline(post.text)}"
             for number, post, mark in reversed(marked) if allowed is None or post.user_id in allowed]
    return fit_lines(header, lines, lambda n: ctx.t("and_more", n=n)) if lines else header + "\n" + ctx.t("no_posts")


def lost_report(ctx: Context) -> str:
    """How many students signalled 不懂 in this lesson, with their notes (anonymous)."""
    classroom, lesson = _lesson_in_view(ctx)
    signals = (list(LostSignal.select().where(LostSignal.lesson == lesson).order_by(LostSignal.created_at.desc()))
               if lesson else [])
    if not signals:
        return ctx.t("no_lost", name=classroom.name)
    students = len({s.user_id for s in signals})
    notes = [f"【{ctx.hhmm(s.created_at)}】{inline(s.note)}" for s in signals if s.note]
    header = ctx.t("lost_header", students=students, n=len(signals))
    return fit_lines(header, notes, lambda n: ctx.t("and_more", n=n)) if notes else header
