"""A semester of history behind a class: students × past lessons, each with a check-in and quizzes.

Written straight into the database (setup is not what is measured), in the shape the real code
leaves behind: ended lessons, closed activities, check-in statuses, graded quiz answers. Used by
`make bench` (bench/run.py) and the live tests (tests/test_live_semester.py)."""

from __future__ import annotations

import random
from datetime import timedelta


def seed(config, code: str, students: int, lessons: int = 40, quizzes: int = 3, prefix: str = "o_sem") -> list[str]:
    """Give the class *code* *students* members and *lessons* past lessons of one check-in and *quizzes*
    quizzes each; return the students' openids. Roughly 85% come on time, 5% late, 10% are absent;
    90% answer each quiz, a quarter of them rightly."""
    from bot.clock import utc_now
    from harness.live import connected
    from models import CHECKIN, CLOSED, LATE, PRESENT, QUIZ, SINGLE, Activity, Classroom, Lesson, Membership, Response, User, db

    rng = random.Random(f"{code}:{students}:{lessons}")
    graded = "right" in Response._meta.fields  # older versions graded on reading, not on answering
    now = utc_now()
    first = now - timedelta(days=2 * lessons + 1)
    openids = [f"{prefix}{i:05d}" for i in range(students)]
    with connected(config):
        classroom = Classroom.get(Classroom.code == code)
        with db.atomic():
            for start in range(0, students, 500):
                chunk = openids[start:start + 500]
                User.insert_many([{"openid": o, "created_at": first, "name": f"学生{o[-5:]}", "student_no": f"S{o[-5:]}"}
                                  for o in chunk]).execute()
            ids = [u.id for u in User.select(User.id).where(User.openid.in_(openids)).order_by(User.id)]
            Membership.insert_many([{"user": i, "classroom": classroom.id, "joined_at": first} for i in ids]).execute()
            for number in range(lessons):
                began = first + timedelta(days=2 * number)
                lesson = Lesson.create(classroom=classroom, started_at=began, ended_at=began + timedelta(minutes=90), live=None)
                checkin = Activity.create(lesson=lesson, kind=CHECKIN, status=CLOSED, opened_at=began,
                                          deadline=began + timedelta(minutes=5), closed_at=began + timedelta(minutes=5))
                rows = []
                for uid in ids:
                    roll = rng.random()
                    if roll < 0.9:
                        at = began + timedelta(minutes=1)
                        rows.append({"activity": checkin.id, "user": uid, "status": PRESENT if roll < 0.85 else LATE,
                                     "created_at": at, "updated_at": at})
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
                for start in range(0, len(rows), 500):
                    Response.insert_many(rows[start:start + 500]).execute()
    return openids
