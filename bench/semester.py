"""A semester of history behind a class: students × past lessons, each with a check-in, quizzes and a discussion.

Written straight into the database (setup is not what is measured), in the shape the real code
leaves behind: ended lessons, closed activities, check-in statuses, graded quiz answers, posts. Used by
`make bench` (bench/run.py), the live tests (tests/test_live_semester.py), the grade book's browser test
and `make screenshots`."""

from __future__ import annotations

import random
from datetime import timedelta

NAMES = "王芳 李娜 张伟 刘洋 陈静 杨帆 赵磊 黄敏 周杰 吴婷 徐晨 孙悦 马超 朱琳 胡斌 郭佳 何雪 高翔 林涛 罗丹".split()


def seed(config, code: str, students: int, lessons: int = 40, quizzes: int = 3, prefix: str = "o_sem",
         discussions: bool = False, variety: bool = False) -> list[str]:
    """Give the class *code* (in *config*'s database) *students* members and *lessons* past lessons (see fill)."""
    from harness.live import connected
    from models import Classroom

    with connected(config):
        return fill(Classroom.get(Classroom.code == code), students, lessons, quizzes, prefix, discussions, variety)


def fill(classroom, students: int, lessons: int = 40, quizzes: int = 3, prefix: str = "o_sem", discussions: bool = False,
         variety: bool = False, now=None, analyze: bool = True) -> list[str]:
    """Give *classroom* (in the database the models are bound to) *students* members and *lessons* past lessons
    of one check-in and *quizzes* quizzes each (and a discussion when *discussions*); return the students' openids.
    Roughly 85% come on time, 5% late, 10% are absent (with *variety*, 2% of them excused and 1% made up);
    90% answer each quiz, a quarter of them rightly; 60% post in a discussion. On PostgreSQL the load ends with
    ANALYZE, as a bulk load should, unless *analyze* is False (a test of plans made from statistics that lag)."""
    from bot.clock import utc_now
    from bot.database import is_sqlite
    from models import (
        CHECKIN,
        CLOSED,
        DISCUSSION,
        EXCUSED,
        LATE,
        PRESENT,
        QUIZ,
        SINGLE,
        Activity,
        Lesson,
        Membership,
        Post,
        Response,
        User,
        db,
    )

    rng = random.Random(f"{classroom.code}:{students}:{lessons}")
    graded = "right" in Response._meta.fields  # older versions graded on reading, not on answering
    made_up = "made_up" in Response._meta.fields
    now = now or utc_now()
    first = now - timedelta(days=2 * lessons + 1)
    openids = [f"{prefix}{i:05d}" for i in range(students)]
    with db.atomic():
        for start in range(0, students, 500):
            chunk = openids[start:start + 500]
            User.insert_many([{"openid": o, "created_at": first, "name": NAMES[int(o[-5:]) % len(NAMES)] + o[-3:],
                               "student_no": f"S{o[-5:]}"} for o in chunk]).execute()
        ids = [u.id for u in User.select(User.id).where(User.openid.in_(openids)).order_by(User.id)]
        Membership.insert_many([{"user": i, "classroom": classroom.id, "joined_at": first} for i in ids]).execute()
        for number in range(lessons):
            began = first + timedelta(days=2 * number)
            lesson = Lesson.create(classroom=classroom, started_at=began, ended_at=began + timedelta(minutes=90), live=None)
            checkin = Activity.create(lesson=lesson, kind=CHECKIN, status=CLOSED, opened_at=began,
                                      deadline=began + timedelta(minutes=5), closed_at=began + timedelta(minutes=5))
            rows, posts = [], []
            for uid in ids:
                roll = rng.random()
                at = began + timedelta(minutes=1)
                if roll < 0.9:
                    rows.append({"activity": checkin.id, "user": uid, "status": PRESENT if roll < 0.85 else LATE,
                                 "created_at": at, "updated_at": at})
                elif roll < 0.92 and variety:
                    rows.append({"activity": checkin.id, "user": uid, "status": EXCUSED, "created_at": at, "updated_at": at})
                elif roll < 0.93 and variety and made_up:
                    rows.append({"activity": checkin.id, "user": uid, "status": PRESENT, "created_at": at, "updated_at": at,
                                 "made_up": True})
            for q in range(quizzes):
                opened = began + timedelta(minutes=10 + 10 * q)
                quiz = Activity.create(lesson=lesson, kind=QUIZ, status=CLOSED, question=f"第{q + 1}题 A.1 B.2 C.3 D.4",
                                       options="ABCD", correct="B", answer_type=SINGLE, opened_at=opened,
                                       deadline=opened + timedelta(minutes=2), closed_at=opened + timedelta(minutes=2))
                for uid in ids:
                    if rng.random() < 0.9:
                        answer = rng.choice("ABCD")
                        row = {"activity": quiz.id, "user": uid, "answer": answer, "status": PRESENT,
                               "created_at": opened, "updated_at": opened}
                        if graded:
                            row["right"] = int(answer == "B")
                        rows.append(row)
            if discussions:
                opened = began + timedelta(minutes=60)
                talk = Activity.create(lesson=lesson, kind=DISCUSSION, status=CLOSED, question="讨论", opened_at=opened,
                                       deadline=opened + timedelta(minutes=10), closed_at=opened + timedelta(minutes=10))
                posts += [{"activity": talk.id, "user": uid, "text": "我的看法", "created_at": opened}
                          for uid in ids if rng.random() < 0.6]
            for start in range(0, len(rows), 500):
                Response.insert_many(rows[start:start + 500]).execute()
            for start in range(0, len(posts), 500):
                Post.insert_many(posts[start:start + 500]).execute()
    if analyze and not is_sqlite():
        db.execute_sql("ANALYZE")
    return openids
