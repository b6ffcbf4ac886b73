"""Several machines on one PostgreSQL: two gunicorn instances (as if on two hosts behind nginx) and the
scheduler as a third process. A lecture hall checks in at once across both, WeChat's retries of one message
land on different instances, and the database goes away in the middle of a burst: exact counts every time.
PostgreSQL only (SQLite is one machine's file); bounded in time (< 60 s on a quiet machine)."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from bot.catalogue import t
from bot.clock import utc_now
from harness.live import INVITE, ROOT, LiveServer, connected, reset_database, server_env, write_config
from harness.mock_wechat import MockWechat
from models import Activity, Classroom, FailedAttempt, InboundMessage, Membership, Outbox, Response, User
from tests.test_live_outages import Forwarder, via

PG_URL = os.environ.get("KETANG_TEST_DATABASE_URL")
pytestmark = [pytest.mark.live,
              pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: set KETANG_TEST_DATABASE_URL (.ci/run does)")]

STUDENTS = 1000
RETRIED = 300
THREADS = 32
BUSY = t("busy", "zh")
BUDGET_SECONDS = 150  # the whole module, even on a loaded machine; every request also has its own 15 s timeout


class Site:
    """nginx's view: two app hosts on one PostgreSQL (through a relay that can be cut), one scheduler."""

    def __init__(self, tmp_path, mock: MockWechat):
        parts = urlsplit(PG_URL)
        self.relay = Forwarder((parts.hostname or "127.0.0.1", parts.port or 5432))
        self.relay.start()
        url = via(PG_URL, self.relay.port)
        sections = {"wechat": {"api_base_url": mock.url, "app_secret": "s3cret"},
                    "scheduler": {"push_threads": 4, "push_per_second": 1000}}
        self.hosts = []
        for name in ("host_a", "host_b"):
            (tmp_path / name).mkdir()
            self.hosts.append(LiveServer(tmp_path / name, url, workers=2, sections=sections))
        reset_database(write_config(tmp_path, PG_URL))
        self.hosts[0].init_db()
        self.config = self.hosts[0].config
        self.scheduler_log = tmp_path / "scheduler.log"
        self.scheduler: subprocess.Popen | None = None
        self.started = time.monotonic()
        self.quiet: dict[int, int] = {}  # host -> length of its log when the outage test began

    def start(self) -> None:
        for host in self.hosts:
            host.start()
        with open(self.scheduler_log, "ab") as log:  # the third process: the only one running jobs
            self.scheduler = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "scheduler"], cwd=ROOT,
                                              env=server_env(self.config), stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.scheduler and self.scheduler.poll() is None:
            self.scheduler.terminate()
            try:
                self.scheduler.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.scheduler.kill()
                self.scheduler.wait(timeout=5)
        for host in self.hosts:
            host.stop()
        self.relay.stop()

    def fire(self, signed: list, host_of=lambda index: index % 2, during=None) -> list[tuple[int, bytes]]:
        """Post pre-signed (query, body) pairs from a thread pool, request i to host host_of(i) (nginx's round
        robin by default); *during(done)* runs beside them, told how many were answered so far."""
        assert time.monotonic() - self.started < BUDGET_SECONDS, "time budget spent"
        posts = [host.simulator().post for host in self.hosts]
        done = [0]
        lock = threading.Lock()

        def one(index):
            answer = posts[host_of(index)](*signed[index])
            with lock:
                done[0] += 1
            return answer

        side = threading.Thread(target=during, args=(done,), daemon=True) if during else None
        if side:
            side.start()
        with ThreadPoolExecutor(THREADS) as pool:
            answers = list(pool.map(one, range(len(signed))))
        if side:
            side.join(timeout=30)
        return answers

    def texts(self, answers) -> list[str]:
        wx = self.hosts[0].simulator()
        assert [status for status, _ in answers if status != 200] == []
        return [wx.read_reply(body) for _, body in answers]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with MockWechat() as mock:
        site = Site(tmp_path_factory.mktemp("scaleout"), mock)
        site.mock = mock
        try:
            site.start()
            yield site
        finally:
            site.stop()
        for index, host in enumerate(site.hosts):
            log = host.log()
            assert "Exception on /" not in log, log[-4000:]  # no request ended in a 500
            before_outage = log[: site.quiet.get(index, len(log))]  # the outage logs each busy reply's cause
            assert "Traceback" not in before_outage, before_outage[-4000:]


@pytest.fixture(scope="module")
def hall(site):
    """A teacher on host A, a class of 1,000 students who wrote within the hour (written directly: the joins
    are not what is tested), a lesson started on host B (pushes queued for the scheduler) and a check-in."""
    a, b = (host.simulator() for host in site.hosts)
    assert "成为教师" in a.send_text("o_teacher", f"教师认证 {INVITE}")
    code = re.search(r"课堂码：(\d{6})", a.send_text("o_teacher", "创建课堂 大学物理")).group(1)
    students = [f"o_stu{i:05d}" for i in range(STUDENTS)]
    now = utc_now()
    with connected(site.config):
        classroom = Classroom.get(Classroom.code == code)
        User.insert_many([{"openid": s, "created_at": now, "last_seen_at": now - timedelta(hours=1)}
                          for s in students]).execute()
        ids = [user.id for user in User.select(User.id).where(User.openid.in_(students))]
        Membership.insert_many([{"user": i, "classroom": classroom.id, "joined_at": now} for i in ids]).execute()
    assert f"已通知 {STUDENTS} 名学生" in b.send_text("o_teacher", "上课")
    passcode = re.search(r"签到码：(\d{4})", a.send_text("o_teacher", "开启签到 10 口令")).group(1)
    return a, students, passcode


def test_a_thousand_students_check_in_at_once_across_two_hosts(site, hall):
    wx, students, passcode = hall
    signed = [wx.sign(wx.text_xml(s, f"签到 {passcode}")) for s in students]  # crypto before the clock starts
    texts = site.texts(site.fire(signed))
    assert all("签到成功" in text for text in texts), [text for text in texts if "签到成功" not in text][:3]
    with connected(site.config):
        assert Response.select().count() == STUDENTS
        assert InboundMessage.select().where(InboundMessage.openid.in_(students)).count() == STUDENTS
    assert f"应到 {STUDENTS}：已到 {STUDENTS}，迟到 0，请假 0，未到 0" in wx.send_text("o_teacher", "签到情况")


def test_one_scheduler_beside_two_hosts_sends_each_push_once(site, hall):
    """The pushes the hosts' workers queued (the lesson, the check-in: one per student each) go out once each,
    from the one scheduler."""
    def pending() -> int:
        with connected(site.config):
            return Outbox.select().where(Outbox.status != "sent").count()

    deadline = time.monotonic() + 40
    while pending() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert pending() == 0
    with connected(site.config):
        queued = Outbox.select().count()
    sent = [json.dumps(message, sort_keys=True, ensure_ascii=False) for message in site.mock.sent]
    assert queued >= 2 * STUDENTS and len(sent) == queued and len(set(sent)) == queued
    assert {message["touser"] for message in site.mock.sent} >= set(hall[1])


def test_each_message_delivered_three_times_at_once_to_both_hosts_has_exactly_one_effect(site, hall):
    wx, students, _ = hall
    wx.send_text("o_teacher", "结束")
    passcode = re.search(r"签到码：(\d{4})", wx.send_text("o_teacher", "开启签到 10 口令")).group(1)
    wrong = "0000" if passcode != "0000" else "1111"
    third = RETRIED // 3
    messages = ([wx.text_xml(s, f"签到 {wrong}") for s in students[:third]]  # a wrong guess is counted once
                + [wx.text_xml(s, f"签到 {passcode}") for s in students[third:3 * third]])
    random.Random(24).shuffle(messages)
    signed = [wx.sign(m) for m in messages for _ in range(3)]  # the three copies are neighbours: in flight together
    with connected(site.config):
        before = [model.select().count() for model in (InboundMessage, Response, FailedAttempt)]
    # copies 1 and 3 of a message to one host, copy 2 to the other, alternating which host has two
    texts = site.texts(site.fire(signed, host_of=lambda i: (i // 3 + (i % 3 == 1)) % 2))
    for index in range(0, len(texts), 3):
        assert texts[index] == texts[index + 1] == texts[index + 2], texts[index:index + 3]
    assert sum("还可以再试 4 次" in text for text in texts) == 3 * third
    assert sum("签到成功" in text for text in texts) == 3 * 2 * third
    with connected(site.config):
        after = [model.select().count() for model in (InboundMessage, Response, FailedAttempt)]
    assert [n - m for n, m in zip(after, before, strict=True)] == [RETRIED, 2 * third, third]


def test_postgresql_gone_in_the_middle_of_a_burst_loses_nothing(site, hall):
    """The network to PostgreSQL is cut while 300 students check in across both hosts, and comes back a second
    later: every message is answered (the check-in, or the busy reply), and WeChat's retry of each busy one is
    processed once; nothing is lost, nothing counted twice."""
    wx, students, _ = hall
    wx.send_text("o_teacher", "结束")
    passcode = re.search(r"签到码：(\d{4})", wx.send_text("o_teacher", "开启签到 10 口令")).group(1)
    site.quiet.update({index: len(host.log()) for index, host in enumerate(site.hosts)})
    burst = students[RETRIED:2 * RETRIED]
    signed = [wx.sign(wx.text_xml(s, f"签到 {passcode}")) for s in burst]
    cut = {}

    def outage(done):
        while done[0] < len(signed) // 4:
            time.sleep(0.005)
        site.relay.stop()  # every pooled connection of both hosts dies, and new ones are refused
        cut["at"] = done[0]
        time.sleep(1.0)
        site.relay.start()
        cut["back"] = done[0]

    texts = site.texts(site.fire(signed, during=outage))
    busy = [i for i, text in enumerate(texts) if text == BUSY]
    assert all("签到成功" in text or text == BUSY for text in texts), [x for x in texts if x != BUSY][:3]
    assert busy and cut["back"] > cut["at"], (len(busy), cut)  # the cut did land in the middle of the burst
    for _attempt in range(3):  # WeChat retries a message up to three times
        retried = site.texts(site.fire([signed[i] for i in busy], host_of=lambda i: (i + 1) % 2))
        busy = [i for i, text in zip(busy, retried, strict=True) if text == BUSY]
        assert all("签到成功" in text or text == BUSY for text in retried)
        if not busy:
            break
    assert busy == []
    again = site.texts(site.fire(signed))  # and every message once more: the stored replies, no new effect
    assert all("签到成功" in text for text in again)
    with connected(site.config):
        activity = Activity.select().where(Activity.passcode == passcode).order_by(Activity.id.desc()).get()
        assert Response.select().where(Response.activity == activity).count() == len(burst)
        # each of them sent two messages in all: the first test's check-in and this one
        assert InboundMessage.select().where(InboundMessage.openid.in_(burst)).count() == 2 * len(burst)
