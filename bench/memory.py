"""What holds a worker's memory: `python -m bench.memory` (BENCH_DATABASE_URL=postgresql://... for PostgreSQL).

The scenarios of `make bench`, one after another in one process (the app through the Flask test client):
start-up, check-ins, the word cloud of a discussion (jieba), late in the semester 我的记录/我的成绩. After each
it prints the peak resident set (VmHWM), what Python allocated and still holds (tracemalloc), and the top
allocation sites grown since the scenario before (a snapshot diff by file), so the one that sets the peak is named.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tracemalloc
from pathlib import Path

tracemalloc.start(1)  # before the app's imports, so what start-up loads is counted too

from bench import semester  # noqa: E402
from harness.live import InProcess  # noqa: E402


def vm(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Steps:
    def __init__(self, top: int):
        self.top, self.before = top, tracemalloc.take_snapshot()

    def after(self, scenario: str) -> None:
        snapshot = tracemalloc.take_snapshot()
        held, peak = tracemalloc.get_traced_memory()
        print(f"after {scenario}: VmHWM {vm('VmHWM'):.1f} MiB, VmRSS {vm('VmRSS'):.1f} MiB; Python objects held "
              f"{held / 2**20:.1f} MiB (their peak so far {peak / 2**20:.1f} MiB)")
        for stat in snapshot.compare_to(self.before, "filename")[: self.top]:
            if stat.size_diff > 256 * 1024:
                where = stat.traceback[0].filename.replace(str(Path.cwd()) + "/", "")
                print(f"    {stat.size_diff / 2**20:+7.1f} MiB  {where}")
        self.before = snapshot


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkins", type=int, default=2000)
    parser.add_argument("--top", type=int, default=6)
    args = parser.parse_args(argv)
    steps = Steps(args.top)
    run = InProcess("ketang-memory-", os.environ.get("BENCH_DATABASE_URL") or None)
    wx, code = run.wx, run.code
    steps.after("start-up (app, a teacher, a class)")

    wx.send_text("o_teacher", "上课")
    passcode = re.search(r"签到码：(\d{4})", wx.send_text("o_teacher", "开启签到 600 口令")).group(1)
    students = [f"o_m{i:05d}" for i in range(args.checkins)]
    for openid in students:
        wx.send_text(openid, f"加入 {code}")
    for openid in students:
        assert "签到成功" in wx.send_text(openid, f"签到 {passcode}")
    steps.after(f"{args.checkins} joins and check-ins")

    from handlers.screen.cloud import cloud_svg  # the screen's word cloud, as a poll during a discussion renders it

    cloud_svg([f"我认为导数是变化率，第{i}个例子是速度和加速度" for i in range(300)])
    steps.after("a discussion's word cloud (jieba's dictionary loaded)")

    wx.send_text("o_teacher", "下课")
    wx.send_text("o_teacher", f"教师认证 {'JOIN-STAFF'}")
    late = re.search(r"课堂码：(\d{6})", wx.send_text("o_teacher", "创建课堂 学期末")).group(1)
    readers = semester.seed(run.directory / "config.toml", late, 300, 40, 3, prefix="o_msem")
    steps.after("a semester seeded (300 students, 40 lessons × 3 quizzes)")
    for i, openid in enumerate(readers[:200]):
        reply = wx.send_text(openid, "我的记录" if i % 2 else "我的成绩")
        assert "学期末" in reply, reply[:200]
    steps.after("200 × 我的记录/我的成绩 late in the semester")
    run.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
