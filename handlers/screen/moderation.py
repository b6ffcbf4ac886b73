"""The teacher's moderation of the discussion wall on the screen: 隐藏 <n>, 审核 开|关 (approval mode),
通过 <n>|全部; and 未到 投屏 (the missing count alone on the projector, the names in the teacher's chat)."""

from __future__ import annotations

from datetime import timedelta

from bot.context import Context, UserError
from handlers import scope, wall
from handlers.attendance import attendance
from handlers.screen.pairing import active_screen
from models import DISCUSSION, FILL, QUIZ, SURVEY, Activity, Post, Screen, WallReview

MISSING_SHOWN = timedelta(minutes=10)  # 未到 投屏: the count stays that long, or until the next activity


def latest_discussion(ctx: Context) -> Activity:
    """The discussion the teacher's 隐藏/通过 is about: the latest of the lesson in view."""
    classroom = scope.current_class(ctx)
    lesson = scope.lesson_in_view(classroom)
    topic = (Activity.select().where((Activity.lesson == lesson) & (Activity.kind == DISCUSSION))
             .order_by(Activity.opened_at.desc(), Activity.id.desc()).first()) if lesson else None
    if topic is None:
        raise UserError("screen_no_discussion", name=classroom.name)
    return topic


def hide(ctx: Context, number: int) -> str:
    """`隐藏 <n>`: take post #n of the latest discussion off the screen (the teacher still reads it with 结果)."""
    posts = wall.posts_of(latest_discussion(ctx))
    if not 1 <= number <= len(posts):
        raise UserError("screen_no_such_post", n=number, total=len(posts))
    Post.update(hidden=True).where(Post.id == posts[number - 1].id).execute()
    return ctx.t("screen_post_hidden", n=number)


def review(ctx: Context, state: str) -> str:
    """`审核 开`: new posts wait for 通过 before they reach the screen; `审核 关`: they go straight up again."""
    classroom = scope.current_class(ctx)
    if state.casefold() in ("开", "on"):
        if not wall.reviewing(classroom.id):
            WallReview.create(classroom=classroom, started_at=ctx.now)
        return ctx.t("wall_review_on", name=classroom.name)
    WallReview.update(ended_at=ctx.now).where((WallReview.classroom == classroom) & WallReview.ended_at.is_null()).execute()
    spans = wall.review_spans(classroom.id)
    lesson = scope.lesson_in_view(classroom)
    waiting = 0
    if lesson:
        topics = Activity.select(Activity.id).where((Activity.lesson == lesson) & (Activity.kind == DISCUSSION))
        waiting = sum(wall.is_pending(p, spans) for p in Post.select(Post.created_at, Post.approved_at)
                      .where(Post.activity.in_(topics) & Post.approved_at.is_null()))
    return ctx.t("wall_review_off", name=classroom.name, n=waiting)


def approve(ctx: Context, which: str) -> str:
    """`通过 <n>`: post n of the latest discussion reaches the screen; `通过 全部`: every post waiting."""
    topic = latest_discussion(ctx)
    posts = wall.posts_of(topic)
    spans = wall.review_spans(topic.lesson.classroom_id)
    if which.isdigit():
        number = int(which)
        if not 1 <= number <= len(posts):
            raise UserError("screen_no_such_post", n=number, total=len(posts))
        if not wall.is_pending(posts[number - 1], spans):
            raise UserError("wall_not_pending", n=number)
        Post.update(approved_at=ctx.now).where(Post.id == posts[number - 1].id).execute()
        return ctx.t("wall_approved", n=number)
    waiting = [p.id for p in posts if wall.is_pending(p, spans)]
    if waiting:
        Post.update(approved_at=ctx.now).where(Post.id.in_(waiting)).execute()
    return ctx.t("wall_approved_all", n=len(waiting))


def missing(ctx: Context, where: str | None = None) -> str:
    """`未到`: who has not checked in (the teacher's chat); `未到 投屏`: and the screen shows the count alone."""
    listing = attendance(ctx)
    if where is None:
        return listing
    screen = active_screen(scope.current_class(ctx))
    if screen is None:
        return listing + "\n" + ctx.t("screen_none")
    Screen.update(missing_until=ctx.now + MISSING_SHOWN, version=Screen.version + 1).where(Screen.id == screen.id).execute()
    return listing + "\n" + ctx.t("missing_on_screen", minutes=int(MISSING_SHOWN.total_seconds() // 60))


def cloud(ctx: Context) -> str:
    """`词云`: the screen shows the latest discussion's posts (or closed survey's chosen options) as a word cloud;
    a fill-in quiz shows one by itself once closed."""
    classroom = scope.current_class(ctx)
    lesson = scope.lesson_in_view(classroom)
    latest = (Activity.select().where(Activity.lesson == lesson).order_by(Activity.opened_at.desc(), Activity.id.desc())
              .first()) if lesson else None
    if latest is None or latest.kind not in (DISCUSSION, SURVEY):
        fill = latest is not None and latest.kind == QUIZ and latest.answer_type == FILL
        raise UserError("cloud_fill_quiz" if fill else "cloud_needs_discussion", name=classroom.name)
    screen = active_screen(classroom)
    if screen is None:
        raise UserError("screen_none")
    Screen.update(cloud_of=latest.id, version=Screen.version + 1).where(Screen.id == screen.id).execute()
    return ctx.t("cloud_shown", topic=latest.question[:30])
