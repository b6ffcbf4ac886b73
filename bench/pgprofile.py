"""Where a check-in's time goes on PostgreSQL, both drivers in the same run: `python -m bench.pgprofile`.

For psycopg2 (`postgresql+psycopg2://`) and then psycopg 3 (`postgresql://`, server-side prepared statements):
N signed, encrypted `签到 <code>` requests from N students are answered by the app's WSGI callable in this
process (as gunicorn calls it; no sockets but the database's), and it prints

- client CPU per check-in (`time.process_time()`, this process only, so little disturbed by other load);
- that CPU by part, from cProfile timed by CPU (Flask/Werkzeug, signature/AES/XML, Peewee, the driver, Ketang);
- the server's time per statement from pg_stat_statements: calls per check-in, mean execution and planning time;
- wall time per check-in, and what is left of it after client CPU and server execution (the wire, waiting
  for the CPU: under load this share grows, so only the CPU figures are comparable across runs).

    python -m bench.pgprofile --own-cluster            # a private server with pg_stat_statements (bench/pgcluster.py)
    BENCH_DATABASE_URL=postgresql://... python -m bench.pgprofile   # a server that has it loaded already

Every figure of one run comes from the same app, database server and data: the models are bound to each
driver's pool in turn, round after round, the order alternating, so both meet the same machine load.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import sys
import time
from contextlib import nullcontext

from werkzeug.test import EnvironBuilder

from bench.pgcluster import throwaway_cluster
from bot.database import connect
from harness.live import InProcess
from models import Response, db

PARTS = (  # (label, substrings of a profiled function's file or name), the first that matches wins
    ("driver (psycopg)", ("psycopg",)),
    ("Peewee", ("peewee", "playhouse")),
    ("signature, AES, XML", ("wechatpy", "cryptography", "xmltodict", "hashlib", "hmac", "expat", "base64",
                             "_sha", "xml/", "random", "secrets", "Crypto")),
    ("Flask, Werkzeug", ("flask", "werkzeug", "itsdangerous", "jinja2", "markupsafe", "blinker", "click")),
    ("Ketang (bot/, handlers/, models.py)", ("/bot/", "/handlers/", "models.py", "app.py", "harness/")),
)
SERVER_QUERY = """
    SELECT query, calls, mean_exec_time, total_plan_time / NULLIF(calls, 0), plans
    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    ORDER BY total_exec_time + total_plan_time DESC"""


def driver_url(url: str, driver: str) -> str:
    scheme, rest = url.split("://", 1)
    return ("postgresql+psycopg2://" if driver == "psycopg2" else "postgresql://") + rest


def part_of(function: tuple) -> str:
    filename, _, name = function
    where = f"{filename} {name}"
    for label, needles in PARTS:
        if any(needle in where for needle in needles):
            return label
    return REST


REST = "Python and the standard library"


def by_part(profiler: cProfile.Profile) -> dict[str, float]:
    """CPU seconds of each part (cProfile's own time per function, timed by process CPU). A built-in or standard
    library function (isinstance, str.encode, urllib) is counted in the parts of its callers, by calls."""
    totals: dict[str, float] = {}
    for function, (_, _, own, _, callers) in pstats.Stats(profiler).stats.items():
        part = part_of(function)
        calls = {caller: stats[1] for caller, stats in callers.items()} if part == REST else {}
        for caller, n in calls.items():
            share = own * n / (sum(calls.values()) or 1)
            totals[part_of(caller)] = totals.get(part_of(caller), 0.0) + share
        if not calls:
            totals[part] = totals.get(part, 0.0) + own
    return totals


class Hall:
    """A class with an open check-in (口令) on *url*, through the app in this process."""

    def __init__(self, url: str, label: str):
        self.run = InProcess(f"ketang-pgprofile-{label}-", driver_url(url, "psycopg"))
        wx = self.run.wx
        wx.send_text("o_teacher", "上课")
        self.passcode = re.search(r"签到码：(\d{4})", wx.send_text("o_teacher", "开启签到 600 口令")).group(1)
        self.joined = 0

    def signed(self, n: int) -> list:
        """*n* new students join (through the webhook, not measured); their signed check-ins."""
        wx = self.run.wx
        students = [f"o_p{self.joined + i:05d}" for i in range(n)]
        self.joined += n
        for openid in students:
            wx.send_text(openid, f"加入 {self.run.code}")
        return [wx.sign(wx.text_xml(openid, f"签到 {self.passcode}")) for openid in students]

    def check_in(self, signed: list, profiler=None) -> tuple[float, float]:
        """Call the app with them all, as gunicorn does: the WSGI environ of each is built before the clock starts
        (the test client's own work is not counted). (CPU seconds, wall seconds) per check-in."""
        app, answered = self.run.app, []
        environs = [EnvironBuilder(method="POST", path="/wechat", query_string=query, data=body,
                                   content_type="text/xml").get_environ() for query, body in signed]

        def start_response(status, headers, exc_info=None):
            answered.append(status)

        cpu, wall = time.process_time(), time.perf_counter()
        with profiler or nullcontext():
            for environ in environs:
                b"".join(app(environ, start_response))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        assert answered == ["200 OK"] * len(signed), set(answered)
        return cpu / len(signed), wall / len(signed)


def server_statements(url: str, reset: bool = False) -> list[tuple]:
    import psycopg

    with psycopg.connect(driver_url(url, "psycopg"), autocommit=True) as conn:
        if reset:
            conn.execute("SELECT pg_stat_statements_reset()")
            return []
        return conn.execute(SERVER_QUERY).fetchall()


def measure(url: str, drivers: list[str], n: int, rounds: int, stats: bool) -> list[dict]:
    """One app and one database; the models bound to each driver's pool in turn, round after round (the order
    alternating), so both drivers meet the same machine load and the same data."""
    hall = Hall(url, "drivers")
    pools = {driver: connect(driver_url(url, driver)) for driver in drivers}
    results = {driver: {"driver": driver, "cpus": [], "walls": [], "n": n, "statements": []} for driver in drivers}
    try:
        for driver in drivers:  # warm: connections opened, statements prepared, caches full
            db.initialize(pools[driver])
            hall.check_in(hall.signed(min(n, 200)))
        for round_ in range(rounds):
            for driver in drivers[::-1] if round_ % 2 else drivers:
                batch = hall.signed(n)
                if stats:
                    server_statements(url, reset=True)
                db.initialize(pools[driver])
                cpu, wall = hall.check_in(batch)
                results[driver]["cpus"].append(cpu)
                results[driver]["walls"].append(wall)
                if stats:
                    results[driver]["statements"] = server_statements(url)
        for driver in drivers:
            profiler = cProfile.Profile(time.process_time)
            batch = hall.signed(n)
            db.initialize(pools[driver])
            hall.check_in(batch, profiler)
            results[driver].update(profiler=profiler, parts=by_part(profiler))
        with hall.run.app.app_context():
            recorded = Response.select().count()
        assert recorded == hall.joined, (recorded, hall.joined)
    finally:
        for pool in pools.values():
            pool.close_all()
        hall.run.close()
    for result in results.values():
        result["cpu"], result["wall"] = min(result["cpus"]), min(result["walls"])
    return [results[driver] for driver in drivers]


def describe(result: dict) -> list[str]:
    n, lines = result["n"], []
    lines.append(f"{result['driver']}: client CPU {result['cpu'] * 1e3:.3f} ms per check-in (best of "
                 f"{', '.join(f'{c * 1e3:.3f}' for c in result['cpus'])}), wall {result['wall'] * 1e3:.2f} ms (best)")
    total = sum(result["parts"].values()) or 1.0
    lines.append("  client CPU by part (shares from cProfile timed by process CPU, applied to the unprofiled CPU):")
    for part, seconds in sorted(result["parts"].items(), key=lambda item: -item[1]):
        share = seconds / total
        lines.append(f"    {part:38s} {share * result['cpu'] * 1e3:7.3f} ms  {share:5.1%}")
    rows = [row for row in result["statements"] if row[1] >= n // 2]
    if rows:
        lines.append("  server, per statement (pg_stat_statements, this driver's last measured round):")
        lines.append(f"    {'calls/check-in':>14s} {'exec ms':>8s} {'plan ms':>8s} {'planned':>8s}  statement "
                     "(mean per call; planned: share of calls that were planned)")
        server = 0.0
        for query, calls, exec_ms, plan_ms, plans in rows:
            per = calls / n
            server += per * (exec_ms + plan_ms)
            text = " ".join(query.split())
            lines.append(f"    {per:14.2f} {exec_ms:8.4f} {plan_ms:8.4f} {plans / calls:8.0%}  {text[:100]}")
        rest = result["wall"] * 1e3 - result["cpu"] * 1e3 - server
        lines.append(f"    server execution + planning per check-in: {server:.3f} ms; wall − client CPU − server: "
                     f"{rest:.3f} ms (the wire and waiting for a core: grows with load)")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkins", type=int, default=1000, help="check-ins per measured round")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds per driver (the best is kept)")
    parser.add_argument("--own-cluster", action="store_true", help="start a private server with pg_stat_statements")
    parser.add_argument("--drivers", default="psycopg2,psycopg")
    parser.add_argument("--top", type=int, default=0, help="also print cProfile's top N functions (own CPU)")
    args = parser.parse_args(argv)
    url = os.environ.get("BENCH_DATABASE_URL")
    if not args.own_cluster and not url:
        parser.error("set BENCH_DATABASE_URL=postgresql://... or pass --own-cluster")
    with (throwaway_cluster() if args.own_cluster else nullcontext(url)) as url:
        try:
            server_statements(url)
            stats = True
        except Exception as error:  # noqa: BLE001 - the extension is optional: the client figures still stand
            print(f"(no server figures: pg_stat_statements is not readable there: {str(error).strip()[:120]})")
            stats = False
        results = measure(url, args.drivers.split(","), args.checkins, args.rounds, stats)
    print(f"{args.checkins} check-ins × {args.rounds} rounds per driver, in one process (python -m bench.pgprofile)")
    for result in results:
        print("\n".join(describe(result)))
        if args.top:
            pstats.Stats(result["profiler"]).sort_stats("tottime").print_stats(args.top)
    if len(results) == 2:
        a, b = results
        print(f"client CPU per check-in: {a['driver']} {a['cpu'] * 1e3:.3f} ms, {b['driver']} {b['cpu'] * 1e3:.3f} ms "
              f"({b['cpu'] / a['cpu'] - 1:+.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
