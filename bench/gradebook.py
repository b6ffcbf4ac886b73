"""The grade book at semester scale, in this process (no gunicorn): a class of 300 students × 48 lessons × 4
activities (a check-in, 3 quizzes and a discussion per lesson) of history; 成绩 and 我的成绩 through the signed,
encrypted webhook, the grade-book page and the xlsx through the test client. Wall-clock and CPU
(time.process_time) per request, the median of *repeats*. `make bench` prints these; alone:

    python -m bench.gradebook [--students 300] [--lessons 48] [--repeats 5]
    BENCH_DATABASE_URL=postgresql://... python -m bench.gradebook
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time

TARGET_PAGE, TARGET_CHAT = 1.0, 5.0  # seconds: the page renders within 1 s; WeChat gives up on a reply at 5 s


def timed(f, repeats: int) -> dict:
    walls, cpus = [], []
    for _ in range(repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        f()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return {"wall": statistics.median(walls), "cpu": statistics.median(cpus), "max": max(walls)}


def run(database_url: str | None = None, students: int = 300, lessons: int = 48, repeats: int = 5) -> dict:
    from bench.semester import fill
    from harness.live import InProcess
    from models import Classroom

    bench = InProcess("ketang-gradebook-", database_url)
    try:
        with bench.app.app_context():
            classroom = Classroom.get(Classroom.code == bench.code)
            openids = fill(classroom, students, lessons, 3, prefix="o_gb", discussions=True, variety=True)
        wx, client = bench.wx, bench.client
        reply = wx.send_text("o_teacher", "成绩")
        link = re.search(r"https?://\S+?(/gradebook/\S+)", reply).group(1)
        export = re.search(r"https?://\S+?(/export/\S+\.xlsx)", wx.send_text("o_teacher", "导出")).group(1)
        assert "平时成绩" in wx.send_text(openids[0], "我的成绩")

        def page():
            response = client.get(link)
            assert response.status_code == 200 and response.data.count(b"<tr data-uid=") == 2 * students

        def sheet():
            assert client.get(export).status_code == 200

        figures = {
            "成绩": timed(lambda: wx.send_text("o_teacher", "成绩"), repeats),
            "我的成绩": timed(lambda: wx.send_text(openids[1], "我的成绩"), repeats),
            "page": timed(page, repeats),
            "xlsx": timed(sheet, max(1, repeats // 2)),
        }
        figures["size"] = {"students": students, "lessons": lessons}
        return figures
    finally:
        bench.close()


def describe(figures: dict) -> list[str]:
    size = figures["size"]
    lines = [f"grade book, {size['students']} students × {size['lessons']} lessons × 4 activities (in one process, "
             "median wall / CPU per request):"]
    for name in ("成绩", "我的成绩", "page", "xlsx"):
        f = figures[name]
        lines.append(f"  {name:8s} {f['wall'] * 1000:7.0f} ms wall  {f['cpu'] * 1000:7.0f} ms CPU  "
                     f"(slowest {f['max'] * 1000:.0f} ms)")
    return lines


def verdict(figures: dict) -> list[tuple[str, bool]]:
    return [("grade-book page renders < 1 s", figures["page"]["wall"] < TARGET_PAGE),
            ("成绩 and 我的成绩 well within 5 s (< 1 s)",
             max(figures["成绩"]["wall"], figures["我的成绩"]["wall"]) < TARGET_CHAT / 5)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--lessons", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    database_url = os.environ.get("BENCH_DATABASE_URL") or None
    figures = run(database_url, args.students, args.lessons, args.repeats)
    print(f"database: {'PostgreSQL' if database_url else 'SQLite (WAL)'}")
    print("\n".join(describe(figures)))
    for label, met in verdict(figures):
        print(f"  {'met   ' if met else 'MISSED'}  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
