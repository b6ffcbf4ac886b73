"""Profile the full check-in path in one process: `python -m bench.profile_checkin [N]`.

Signed, encrypted `签到 <code>` requests from N students go through the Flask test client
(webhook: signature, decrypt, parse, dedupe, dispatch, handler, encrypt) on a SQLite file (or
BENCH_DATABASE_URL); prints the per-request time and cProfile's top functions (cumulative).
"""

from __future__ import annotations

import cProfile
import os
import pstats
import re
import sys
import time

from harness.live import InProcess
from models import Response


def main(n: int = 2000) -> None:
    run = InProcess("ketang-profile-", os.environ.get("BENCH_DATABASE_URL") or None)
    app, wx, code, post = run.app, run.wx, run.code, run.post
    wx.send_text("o_teacher", "上课")
    passcode = re.search(r"签到码：(\d{4})", wx.send_text("o_teacher", "开启签到 600 口令")).group(1)
    students = [f"o_p{i:05d}" for i in range(n)]
    for openid in students:
        wx.send_text(openid, f"加入 {code}")
    signed = [wx.sign(wx.text_xml(openid, f"签到 {passcode}")) for openid in students]
    profiler = cProfile.Profile() if not os.environ.get("NOPROFILE") else None
    start = time.perf_counter()
    profiler and profiler.enable()
    for query, body in signed:
        post(query, body)
    profiler and profiler.disable()
    seconds = time.perf_counter() - start
    with app.app_context():
        assert Response.select().count() == n
    run.close()
    profiled = "" if os.environ.get("NOPROFILE") else " (under the profiler)"
    print(f"{n} check-ins in one process: {seconds / n * 1000:.2f} ms each{profiled}, {n / seconds:.0f}/s")
    if profiler:
        pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(int(os.environ.get("TOP", "35")))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
