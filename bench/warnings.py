"""`make bench` (second part): the weekly at-risk run over a term of history, and check-ins written meanwhile.

    python -m bench.warnings [--classes 200] [--students 100] [--weeks 16] [--lessons-per-week 2] [--quizzes 2]
    BENCH_DATABASE_URL=postgresql://user:pass@127.0.0.1/db python -m bench.warnings   # on PostgreSQL

Seeds the classes straight into the database (setup is not measured): every class a teacher, its students,
a term of past lessons with a check-in and quizzes each (about 85% present, 5% late, 10% absent; quiz answers
graded), the last lessons in the week before the digest. Then runs the weekly job once (every class is due)
while a thread writes a check-in every 20 ms in its own write transaction, and prints the run's wall and CPU
time and the check-in writes' latency during the run against before it (the run must not hold the write lock).
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

TARGET_SECONDS = 60


def seed(classes: int, students: int, weeks: int, per_week: int, quizzes: int, due) -> None:
    from models import CHECKIN, CLOSED, LATE, PRESENT, QUIZ, Activity, Classroom, Lesson, Membership, Response, User, db

    rng = random.Random(1)
    first = due - timedelta(weeks=weeks)
    for c in range(classes):
        with db.atomic():
            teacher = User.create(openid=f"b_t{c:04d}", role="teacher", created_at=first)
            classroom = Classroom.create(name=f"班{c:04d}", code=f"{100000 + c}", owner=teacher, created_at=first)
            User.insert_many([{"openid": f"b_{c:04d}_{s:03d}", "created_at": first, "name": f"学生{s:03d}",
                               "student_no": f"{c:04d}{s:03d}"} for s in range(students)]).execute()
            ids = [u.id for u in User.select(User.id).where(User.openid.startswith(f"b_{c:04d}_"))]
            Membership.insert_many([{"user": i, "classroom": classroom.id, "joined_at": first} for i in ids]).execute()
            rows = []
            for n in range(weeks * per_week):
                began = first + timedelta(days=7 * (n // per_week) + 1 + 2 * (n % per_week))
                lesson = Lesson.create(classroom=classroom, started_at=began, ended_at=began + timedelta(minutes=90), live=None)
                checkin = Activity.create(lesson=lesson, kind=CHECKIN, status=CLOSED, opened_at=began,
                                          deadline=began + timedelta(minutes=5), closed_at=began + timedelta(minutes=5))
                slipping = n > weeks * per_week // 2  # the second half of term: a few students stop coming
                for uid in ids:
                    roll = rng.random()
                    if roll < (0.6 if slipping and uid % 17 == 0 else 0.9):
                        rows.append({"activity": checkin.id, "user": uid, "status": PRESENT if roll < 0.85 else LATE,
                                     "created_at": began, "updated_at": began})
                for q in range(quizzes):
                    opened = began + timedelta(minutes=10 + 10 * q)
                    quiz = Activity.create(lesson=lesson, kind=QUIZ, status=CLOSED, options="ABCD", correct="B",
                                           opened_at=opened, deadline=opened + timedelta(minutes=3),
                                           closed_at=opened + timedelta(minutes=3))
                    for uid in ids:
                        if rng.random() < 0.9:
                            right = rng.random() < 0.6
                            rows.append({"activity": quiz.id, "user": uid, "answer": "B" if right else "C",
                                         "status": PRESENT, "right": int(right), "created_at": opened, "updated_at": opened})
            for i in range(0, len(rows), 120):
                Response.insert_many(rows[i:i + 120]).execute()


def writer(stop: threading.Event, latencies: list[float], probe_activity: int, users: list[int]) -> None:
    """A check-in write every 20 ms, each in its own write transaction (as the webhook's are)."""
    from bot.clock import utc_now
    from bot.database import transaction
    from models import Response, db

    with db.connection_context():
        for uid in users:
            if stop.is_set():
                return
            started = time.perf_counter()
            with transaction():
                now = utc_now()
                Response.insert(activity=probe_activity, user=uid, created_at=now, updated_at=now).on_conflict_ignore().execute()
            latencies.append(time.perf_counter() - started)
            time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=200)
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--weeks", type=int, default=16)
    parser.add_argument("--lessons-per-week", type=int, default=2)
    parser.add_argument("--quizzes", type=int, default=2)
    args = parser.parse_args()

    from app import create_app
    from bot.clock import utc_now
    from bot.database import create_schema, is_sqlite
    from handlers.warnings import run_digests, week_of
    from models import CHECKIN, MODELS, Activity, Lesson, Outbox, User, db

    tmp = tempfile.mkdtemp(prefix="ketang-warnings-")
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{Path(tmp) / 'bench.db'}"
    app = create_app({"wechat": {"token": "benchTokenBench2026"}, "database": {"url": url},
                      "server": {"public_url": "https://ketang.example.edu", "secret_key": secrets.token_urlsafe(32)}})
    with app.app_context():
        if not is_sqlite():
            db.drop_tables(MODELS, safe=True, cascade=True)
        create_schema()
        settings, links = app.extensions["ketang"].settings, app.extensions["ketang"].links
        now = utc_now()
        week, due = week_of(now, settings.warnings.weekday, settings.warnings.hour, settings.school.tz)
        started = time.perf_counter()
        seed(args.classes, args.students, args.weeks, args.lessons_per_week, args.quizzes, due)
        print(f"seeded {args.classes} classes × {args.students} students × {args.weeks * args.lessons_per_week} lessons "
              f"in {time.perf_counter() - started:.0f} s ({'SQLite' if is_sqlite() else 'PostgreSQL'})")
        probe = Activity.select().join(Lesson).where(Activity.kind == CHECKIN).order_by(Activity.id.desc()).first()
        users = [u.id for u in User.select(User.id).where(User.openid.startswith("b_0000_"))]
        db.close()

        before: list[float] = []
        stop = threading.Event()
        thread = threading.Thread(target=writer, args=(stop, before, probe.id, users[: len(users) // 2]))
        thread.start()
        thread.join()
        during: list[float] = []
        thread = threading.Thread(target=writer, args=(stop, during, probe.id, users[len(users) // 2:] * 1000))
        thread.start()
        wall, cpu = time.perf_counter(), time.process_time()
        queued = run_digests(now, settings, links)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        stop.set()
        thread.join()
        digests = Outbox.select().where(Outbox.kind == "risk_digest").count()
    print(f"weekly at-risk run: {args.classes} classes in {wall:.1f} s wall, {cpu:.1f} s CPU "
          f"(target < {TARGET_SECONDS} s); {queued} digests queued ({digests} in the outbox)")
    for name, values in (("before the run", before), ("during the run", during)):
        if values:
            print(f"check-in writes {name}: n={len(values)} median {statistics.median(values) * 1000:.1f} ms, "
                  f"max {max(values) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
