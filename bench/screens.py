"""The classroom screen under load (`make bench`): 100 screens polling /screen/state once a second with
their ETag while a class bursts in, and the server CPU of a 304 poll against a check-in, in the same run.

Each screen is a real paired Screen row; one shows the bursting class (every check-in there bumps its
version, so it re-renders about once a second), the other 99 show classes with an open check-in of their own
(their ETag changes with the rotation slot, so each re-renders every `rotate_seconds`; every other poll is a
304). Polls carry the ETag and shape of their last answers, as the page does, so a poll after a check-in
in the bursting class is answered with the counts alone.
"""

from __future__ import annotations

import asyncio
import os
import secrets as random
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from bench import loadgen
from bot.clock import FrozenClock, utc_now
from harness.live import ROOT, connected, server_env


def setup(server, hall, n: int = 100) -> list[str]:
    """*n* paired screens (the first on *hall*'s class, the rest on classes of their own); their secrets."""
    from bot.clock import utc_now
    from handlers.screen.pairing import digest
    from models import CHECKIN, Activity, Classroom, Lesson, Screen, User, db

    now = utc_now()
    keys = [random.token_urlsafe(32) for _ in range(n)]
    with connected(server.config):
        teacher = User.get(User.openid == "o_teacher")
        with db.atomic():
            classes = [Classroom.get(Classroom.code == hall.code).id]
            for i in range(n - 1):
                room = Classroom.create(name=f"教室{i:03d}", code=f"{900000 + i}", owner=teacher, created_at=now)
                lesson = Lesson.create(classroom=room, started_at=now)
                Activity.create(lesson=lesson, kind=CHECKIN, passcode="1234", opened_at=now, deadline=now + timedelta(hours=1))
                classes.append(room.id)
            for key, classroom in zip(keys, classes, strict=True):
                Screen.create(token_hash=digest(key), code=None, code_expires_at=now, ip="bench", created_at=now,
                              classroom=classroom, teacher=teacher, paired_at=now, keyed_at=now)  # its secret handed over
    return keys


@contextmanager
def scheduler(server, screens: int, wait: float = 30.0, run: bool = True):
    """`flask --app app scheduler` beside *server*, as deployed, once it has drawn the QR codes of *screens*
    check-ins' current slots (a school's screens were on before the bell); stopped at the end. *run* False:
    none (`--no-scheduler`: every worker then draws each QR code it shows itself)."""
    from models import QrDrawing

    if not run:
        yield None
        return

    log = open(server.directory / "scheduler.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "scheduler"], cwd=ROOT,
                               env=server_env(server.config), stdout=log, stderr=log)
    try:
        until = time.monotonic() + wait
        while time.monotonic() < until and process.poll() is None:
            with connected(server.config):
                if QrDrawing.select().count() >= screens:
                    break
            time.sleep(0.5)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def poll_request(port: int, key: str, etag: str | None, shape: str | None = None, keep: bool = False) -> bytes:
    """A poll as the page makes it: its last ETag and the shape of the page it shows (*keep*: on a connection
    kept open, as nginx's upstream keepalive keeps them to the poll server)."""
    match = f"If-None-Match: {etag}\r\n" if etag else ""
    match += f"X-Shape: {shape}\r\n" if shape else ""
    close = "" if keep else "Connection: close\r\n"
    return f"GET /screen/state HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Screen: {key}\r\n{match}{close}\r\n".encode("ascii")


def _fields(head: bytes) -> tuple[int, dict]:
    text = head.decode("latin-1")
    fields = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip() for line in text.split("\r\n")[1:] if ":" in line}
    return (int(text[9:12]) if text.startswith("HTTP/1.") else 0), fields


async def _get(port: int, request: bytes) -> tuple[int, str | None, str | None]:
    """(status, ETag, X-Shape) of one request on a fresh connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        data = await reader.read()
    finally:
        writer.close()
    status, fields = _fields(data.partition(b"\r\n\r\n")[0])
    return status, fields.get("etag"), fields.get("x-shape")


async def _screens(port: int, keys: list[str], until: float, stats: dict, known: dict) -> None:
    """Each screen polls once a second (staggered), carrying the ETag and shape of its last answer, starting from
    those *known* (see warm: the screens have been polling all along, so a window starts with no page loads)."""
    async def screen(index: int, key: str):
        etag, shape = known.get(key, (None, None))
        next_at = time.perf_counter() + index / len(keys)
        while next_at < until:
            await asyncio.sleep(max(0, next_at - time.perf_counter()))
            started = time.perf_counter()
            try:
                status, new, new_shape = await _get(port, poll_request(port, key, etag, shape))
            except OSError:
                status, new, new_shape = -1, None, None
            stats["latencies"].append(time.perf_counter() - started)
            stats[status] = stats.get(status, 0) + 1
            etag, shape = new or etag, new_shape or shape
            next_at += 1.0

    await asyncio.gather(*(screen(i, k) for i, k in enumerate(keys)))


def warm(port: int, keys: list[str]) -> dict:
    """Each screen's page once (as when it was switched on): {key: (ETag, shape)} for the windows that follow."""
    async def run():
        known: dict = {}
        for key in keys:
            _status, etag, shape = await _get(port, poll_request(port, key, None))
            known[key] = (etag, shape)
        return known

    return asyncio.run(run())


def burst_with_screens(port: int, requests: list[bytes], seconds: float, keys: list[str],
                       poll_port: int | None = None, known: dict | None = None) -> tuple[dict, dict]:
    """The open-loop burst while *keys* screens poll *poll_port* (default: the burst's) from 2 s before to 1 s
    after it, starting from the ETags *known* (see warm); with no keys, the burst alone in the same window."""
    async def run():
        stats: dict = {"latencies": []}
        until = time.perf_counter() + 2 + seconds + 1.2
        polling = asyncio.ensure_future(_screens(poll_port or port, keys, until, stats, known or {}))
        await asyncio.sleep(2)
        burst = await loadgen._open(port, requests, seconds, True)
        await polling
        await asyncio.sleep(max(0.0, until - time.perf_counter()))  # without screens: the same window, for the CPU
        return burst, stats

    return asyncio.run(run())


def cpu_of(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes *pids* have used so far."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / tick


def poll_loop(port: int, key: str, duration: float, connections: int = 8, keep: bool = False) -> dict:
    """Closed loop of polls of one unchanged screen with its current ETag: 304s (bar one per slot); *keep*:
    each client on one kept-alive connection (as nginx keeps them upstream), else a connection per poll."""
    async def run():
        stats: dict = {"latencies": []}
        _status, etag, shape = await _get(port, poll_request(port, key, None))
        stop = time.perf_counter() + duration

        async def worker():
            nonlocal etag, shape
            reader = writer = None
            while time.perf_counter() < stop:
                if not keep:
                    status, new, new_shape = await _get(port, poll_request(port, key, etag, shape))
                else:
                    if writer is None:
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.write(poll_request(port, key, etag, shape, keep=True))
                    status, fields = _fields((await reader.readuntil(b"\r\n\r\n"))[:-4])
                    if fields.get("transfer-encoding") == "chunked":
                        await reader.readuntil(b"0\r\n\r\n")  # a JSON body never ends in 0
                    else:
                        await reader.readexactly(int(fields.get("content-length", 0)))
                    new, new_shape = fields.get("etag"), fields.get("x-shape")
                stats[status] = stats.get(status, 0) + 1
                etag, shape = new or etag, new_shape or shape
            if writer is not None:
                writer.close()

        await asyncio.gather(*(worker() for _ in range(connections)))
        return stats

    return asyncio.run(run())


def app_cpu(n: int = 2000, database_url: str | None = None) -> dict:
    """The app alone, in this process (no gunicorn, no sockets), on one fresh database: CPU per signed,
    encrypted check-in through the webhook; per poll whose only change is a count (each after a check-in,
    carrying the page's ETag and shape: answered with the counts as JSON); per unchanged poll (the 304
    middleware; the loop keeps its ETag current, as the page does, so a rotation costs one render, not all)."""
    import re

    from werkzeug.test import EnvironBuilder

    from harness.live import InProcess

    # The clock stands still: with a screen paired only its rotating 口令 checks in, and it must not rotate while
    # the pre-signed check-ins are answered.
    run = InProcess("ketang-screen-cpu-", database_url, clock=FrozenClock(utc_now().replace(microsecond=0)))
    app, client, wx, code, post = run.app, run.client, run.wx, run.code, run.post
    key = client.post("/screen/new").json["secret"]
    wx.send_text("o_teacher", "上课")
    shown = client.get("/screen/state", headers={"X-Screen": key}).get_data(as_text=True)
    wx.send_text("o_teacher", "投屏 " + re.search(r'id="pair-code">(\d{6})', shown).group(1))
    wx.send_text("o_teacher", "开启签到 600")
    key = client.get("/screen/state", headers={"X-Screen": key}).headers.get("X-Screen-Secret") or key
    shown = client.get("/screen/state", headers={"X-Screen": key}).get_data(as_text=True)
    passcode = re.search(r'id="passcode">(\d{4})', shown).group(1)
    students = [f"o_c{i:05d}" for i in range(n)]
    for openid in students:
        wx.send_text(openid, f"加入 {code}")
    signed = [wx.sign(wx.text_xml(openid, f"签到 {passcode}")) for openid in students]
    page = {"key": key, "etag": None, "shape": None}

    environ = EnvironBuilder(path="/screen/state",  # from the classroom PC's network
                             environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()

    def poll() -> str:
        """One poll as the page makes it, through the app's WSGI stack (the 304 middleware first); the page
        keeps the ETag and shape it was answered."""
        answered = {}

        def started(status, headers, exc_info=None):
            answered.update(headers, status=status)

        call = dict(environ, HTTP_X_SCREEN=page["key"], **{"HTTP_IF_NONE_MATCH": page["etag"]} if page["etag"] else {},
                    **{"HTTP_X_SHAPE": page["shape"]} if page["shape"] else {})
        b"".join(app.wsgi_app(call, started))
        page["key"] = answered.get("X-Screen-Secret") or page["key"]  # handed over at the first poll after pairing
        page["etag"] = answered.get("ETag") or page["etag"]
        page["shape"] = answered.get("X-Shape") or page["shape"]
        return "304" if answered["status"].startswith("304") else answered["Content-Type"].split(";")[0]

    poll()
    half = n // 2
    start = time.process_time()
    for query, body in signed[:half]:
        assert post(query, body)[0] == 200
    checkin = (time.process_time() - start) / half
    poll()  # the page catches up (a count changed: JSON)
    counted, kinds = 0.0, {}
    for query, body in signed[half:]:  # each check-in bumps the screen: its next poll has a count to apply
        assert post(query, body)[0] == 200
        start = time.process_time()
        kind = poll()
        counted += time.process_time() - start
        kinds[kind] = kinds.get(kind, 0) + 1
    start = time.process_time()
    unchanged = {}
    for _ in range(n):
        kind = poll()
        unchanged[kind] = unchanged.get(kind, 0) + 1
    poll_304 = (time.process_time() - start) / n
    run.close()
    return {"checkin": checkin, "poll": poll_304, "polls_304": unchanged.get("304", 0) / n,
            "counted": counted / (n - half), "counted_json": kinds.get("application/json", 0) / (n - half)}


def describe(figures: dict) -> str:
    """The in-process figures as the bench prints them."""
    return (f"check-in {figures['checkin'] * 1000:.2f} ms; poll whose only change is a count "
            f"{figures['counted'] * 1000:.3f} ms ({figures['counted_json']:.0%} answered with the counts alone; target < 1 ms); "
            f"unchanged poll {figures['poll'] * 1000:.3f} ms ({figures['polls_304']:.0%} 304), "
            f"{figures['poll'] / figures['checkin']:.1%} of a check-in")


if __name__ == "__main__":  # `python -m bench.screens [bench.run options]`: the screen's three figures alone
    import sys

    from bench.run import main

    sys.exit(main(["--screens", *sys.argv[1:]]))
