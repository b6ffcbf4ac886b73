"""The web simulator: local only, phones through the real webhook, and the WeChat API it plays for pushes."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from bot.config import SIMULATOR_API, ConfigError, load_settings, write_initial_config
from bot.push import Pusher
from bot.wechat_api import WechatApi
from handlers.menu import TagTeachers, install
from handlers.official_qr import QrRenewer
from handlers.simulator import enabled
from models import ClassQr, InboundMessage, Membership, SimMessage, User
from tests.conftest import ROOT, build_app

LOCAL = "http://127.0.0.1:8000"


def local_app(tmp_path, clock, **simulator):
    return build_app(tmp_path, clock, server={"public_url": LOCAL},
                     wechat={"app_secret": "simulator", "api_base_url": LOCAL + "/simulator/api"},
                     simulator=simulator)


@pytest.fixture
def app(tmp_path, clock):
    return local_app(tmp_path, clock)


class Phones:
    """The page's requests, as the browser makes them."""

    def __init__(self, app):
        self.client = app.test_client()

    def send(self, openid, action, value=""):
        response = self.client.post("/simulator/send", json={"openid": openid, "action": action, "value": value})
        assert response.status_code == 200, response.status_code
        return response.get_json()["reply"]

    def state(self, *phones, after=0):
        return self.client.get(f"/simulator/state?after={after}&phones={','.join(phones)}").get_json()

    def bubbles(self, openid, origin=None):
        return [m["text"] for m in self.state(openid)["messages"] if origin in (None, m["origin"])]


class FlaskTransport(requests.adapters.BaseAdapter):
    """Lets the scheduler's WeChat client reach the app's /simulator/api in-process (no socket)."""

    def __init__(self, app):
        super().__init__()
        self.client = app.test_client()

    def send(self, request, **kwargs):
        url = urlsplit(request.url)
        # On its own thread, like the separate server it stands for: the request's teardown closes that
        # thread's database connection, not the caller's (a push thread holds its own).
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(self.client.open, url.path, query_string=url.query, method=request.method,
                                 data=request.body, headers={"Content-Type": "application/json"}).result()
        response = requests.Response()
        response.status_code, response._content = answer.status_code, answer.get_data()
        response.headers, response.url, response.request = CaseInsensitiveDict(answer.headers), request.url, request
        return response

    def close(self):
        pass


def scheduler_api(app, clock):
    api = WechatApi(app.extensions["ketang"].settings.wechat, clock)
    api._http.mount(api.base, FlaskTransport(app))
    return api


def test_the_page_is_served_locally(app):
    page = app.test_client().get("/simulator")
    assert page.status_code == 200 and "模拟器" in page.get_data(as_text=True)


def test_off_unless_local_or_enabled(tmp_path, clock):
    deployed = build_app(tmp_path, clock)  # public_url https://ketang.example.edu
    client = deployed.test_client()
    assert client.get("/simulator").status_code == 404
    assert client.post("/simulator/send", json={"openid": "o_sim_teacher", "action": "text", "value": "帮助"}).status_code == 404
    assert client.get("/simulator/api/cgi-bin/token?appid=x&secret=y").status_code == 404
    with pytest.raises(ConfigError, match="allow_remote = true"):  # "on" at a public address must be meant
        build_app(tmp_path, clock, fresh=False, simulator={"enabled": "on"})
    enabled = build_app(tmp_path, clock, fresh=False, simulator={"enabled": "on", "allow_remote": True})
    assert enabled.test_client().get("/simulator").status_code == 200
    off = local_app(tmp_path, clock, enabled="off")
    assert off.test_client().get("/simulator").status_code == 404


def test_refuses_remote_clients_proxied_requests_and_other_hosts(app, tmp_path, clock):
    client = app.test_client()
    assert client.get("/simulator", environ_base={"REMOTE_ADDR": "192.168.1.20"}).status_code == 404
    assert client.get("/simulator", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    assert client.get("/simulator", headers={"Host": "rebound.attacker.example"}).status_code == 404
    assert client.get("/simulator", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    remote = local_app(tmp_path, clock, allow_remote=True)
    assert remote.test_client().get("/simulator", environ_base={"REMOTE_ADDR": "192.168.1.20"}).status_code == 200


# Every header a reverse proxy uses to say whom it forwards for: behind one, the remote address is the proxy's
# own (often loopback), so any of them means the client is somewhere else.
@pytest.mark.parametrize("header, value", [
    ("Forwarded", "for=203.0.113.9;proto=https"),
    ("X-Forwarded-For", "203.0.113.9"),
    ("X-Forwarded-Host", "ketang.example.edu"),
    ("X-Real-IP", "203.0.113.9"),
    ("X-Forwarded-Proto", "https"),  # a TLS terminator that names only the scheme
    ("X-Forwarded-Server", "proxy.example.edu"),  # Apache's mod_proxy
    ("Via", "1.1 proxy.example.edu"),
    ("X-Client-IP", "203.0.113.9"),
    ("True-Client-IP", "203.0.113.9"),
    ("CF-Connecting-IP", "203.0.113.9"),  # a CDN in front
    ("x-forwarded-for", "127.0.0.1"),  # any case, and even when it names loopback: a proxy stands between
])
def test_refuses_every_proxy_header(app, header, value):
    client = app.test_client()
    assert client.get("/simulator").status_code == 200
    assert client.get("/simulator", headers={header: value}).status_code == 404
    reply = client.post("/simulator/send", headers={header: value},
                        json={"openid": "o_sim_teacher", "action": "text", "value": "帮助"})
    assert reply.status_code == 404
    assert not User.select().where(User.openid == "o_sim_teacher").exists()


@pytest.mark.parametrize("address", [
    "192.168.1.20", "10.0.0.7", "172.16.5.4", "169.254.1.1", "100.64.0.1",  # private, link-local, carrier NAT
    "203.0.113.9", "0.0.0.0",
    "::ffff:192.168.1.20", "::ffff:10.0.0.7",  # IPv4-mapped IPv6, as a dual-stack socket reports IPv4 clients
    "fd00::1", "fe80::1", "2001:db8::1", "::",
    "localhost.attacker.example", "",
])
def test_refuses_every_address_but_loopback(app, address):
    client = app.test_client()
    assert client.get("/simulator", environ_base={"REMOTE_ADDR": address}).status_code == 404
    reply = client.post("/simulator/send", environ_base={"REMOTE_ADDR": address},
                        json={"openid": "o_sim_teacher", "action": "text", "value": "帮助"})
    assert reply.status_code == 404
    assert not User.select().where(User.openid == "o_sim_teacher").exists()


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1"])
def test_answers_loopback_addresses(app, address):
    assert app.test_client().get("/simulator", environ_base={"REMOTE_ADDR": address}).status_code == 200


def test_other_sites_cannot_make_a_phone_speak(app):
    client = app.test_client()
    body = {"openid": "o_sim_student1", "action": "text", "value": "退出课堂 1"}
    assert client.post("/simulator/send", json=body, headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.post("/simulator/send", data=body).status_code == 415  # a cross-site form
    push = {"touser": "o_sim_student1", "msgtype": "text", "text": {"content": "phish"}}
    assert client.post("/simulator/api/cgi-bin/message/custom/send?access_token=x", json=push,
                       headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.post("/simulator/send", json={**body, "openid": "o_real_user"}).status_code == 400
    assert SimMessage.select().count() == 0 and InboundMessage.select().count() == 0


def test_a_phone_talks_through_the_real_webhook(app):
    phones = Phones(app)
    reply = phones.send("o_sim_student1", "text", "帮助")
    assert "【学生命令】" in reply
    assert InboundMessage.select().where(InboundMessage.openid == "o_sim_student1").count() == 1  # deduplicated path
    assert phones.bubbles("o_sim_student1") == ["帮助", reply]
    assert "课堂" in phones.send("o_sim_student1", "click", "我的课堂")
    assert phones.state("o_sim_student1")["phones"][0]["menu"]["button"][0]["type"] == "scancode_waitmsg"


def test_a_lesson_with_pushes_landing_in_the_phones(app, clock):
    phones = Phones(app)
    assert app.test_client().post("/simulator/teacher", json={"openid": "o_sim_teacher"}).status_code == 200
    teacher = phones.state("o_sim_teacher")["phones"][0]
    assert teacher["teacher"] and teacher["menu"]["button"][0]["name"] == "上课"
    code = re.search(r"课堂码：(\d{6})", phones.send("o_sim_teacher", "text", "创建课堂 高等数学")).group(1)

    # The student scans the class QR image the teacher's phone shows (the server says what it encodes).
    qr_link = re.search(r"https?://\S+/qr/\S+\.png", phones.send("o_sim_teacher", "text", "二维码")).group(0)
    assert "高等数学" in phones.send("o_sim_student1", "scan", qr_link)
    assert Membership.select().join(User).where(User.openid == "o_sim_student1").exists()

    # The scheduler makes the class's official QR through the simulated API; scanning it is a SCAN event.
    api = scheduler_api(app, clock)
    assert QrRenewer(api)(clock()) == 1
    official = ClassQr.get().url
    assert official == f"http://weixin.qq.com/q/sim_join_{code}"
    assert "高等数学" in phones.send("o_sim_student2", "scan", official)

    for student in ("o_sim_student1", "o_sim_student2"):  # a typed message opens the 48-hour window
        phones.send(student, "text", "我的课堂")
    phones.send("o_sim_teacher", "text", "上课")
    assert Pusher(app.extensions["ketang"].settings, api)(clock()) == 2
    for student in ("o_sim_student1", "o_sim_student2"):
        assert any("高等数学" in text for text in phones.bubbles(student, "push"))


def test_the_simulated_api_checks_credentials_like_wechat(app):
    client = app.test_client()
    assert client.get("/simulator/api/cgi-bin/token?grant_type=client_credential&appid=wx5823bf96d3bd56c7&secret=no"
                      ).get_json()["errcode"] == 40125
    sent = client.post("/simulator/api/cgi-bin/message/custom/send?access_token=forged",
                       json={"touser": "o_sim_student1", "msgtype": "text", "text": {"content": "hi"}})
    assert sent.get_json()["errcode"] == 40001 and SimMessage.select().count() == 0


def test_a_fresh_local_config_opens_the_simulator_and_uses_it_as_the_wechat_api(tmp_path, clock):

    target = tmp_path / "config.toml"
    write_initial_config(ROOT / "config.example.toml", target)
    settings = load_settings(target, environ={})
    assert enabled(settings) and settings.wechat.api_base_url == SIMULATOR_API and settings.wechat.app_secret
    app = local_app(tmp_path, clock)
    shown = app.test_cli_runner().invoke(args=["info", "--local", "http://127.0.0.1:8000/wechat"]).output
    assert "http://127.0.0.1:8000/simulator" in shown and "api.weixin.qq.com" in shown


def test_phones_show_the_menus_the_simulated_api_holds_once_flask_menu_made_them(app, clock):
    phones = Phones(app)
    app.test_client().post("/simulator/teacher", json={"openid": "o_sim_teacher"})
    api = scheduler_api(app, clock)
    install(api)  # what `flask --app app menu` does
    menus = {p["openid"]: p["menu"]["button"][0]["name"] for p in phones.state("o_sim_teacher", "o_sim_student1")["phones"]}
    assert menus == {"o_sim_teacher": "签到", "o_sim_student1": "签到"}  # not tagged yet: the default menu, as on WeChat
    assert TagTeachers(api)(clock()) == 1
    menus = {p["openid"]: p["menu"]["button"][0]["name"] for p in phones.state("o_sim_teacher", "o_sim_student1")["phones"]}
    assert menus == {"o_sim_teacher": "上课", "o_sim_student1": "签到"}
    install(api)  # run again: still one teacher menu
    assert api.menu.get()["conditionalmenu"][0]["button"][0]["name"] == "上课" and len(api.menu.get()["conditionalmenu"]) == 1


def test_make_run_on_another_port_points_the_simulated_api_there(tmp_path):

    target = tmp_path / "config.toml"
    write_initial_config(ROOT / "config.example.toml", target, "http://127.0.0.1:9000")  # make run PORT=9000
    settings = load_settings(target, environ={})
    assert settings.server.public_url == ""  # links use the address each request came in on
    assert settings.wechat.api_base_url == "http://127.0.0.1:9000/simulator/api"


def test_with_an_empty_app_secret_the_simulated_api_hands_out_no_token(tmp_path, clock):
    app = build_app(tmp_path, clock, server={"public_url": LOCAL},
                    wechat={"app_secret": "", "api_base_url": LOCAL + "/simulator/api"})
    client = app.test_client()
    asked = client.get("/simulator/api/cgi-bin/token?grant_type=client_credential&appid=wx5823bf96d3bd56c7&secret=")
    assert asked.get_json()["errcode"] == 40125 and "access_token" not in asked.get_json()
    stable = client.post("/simulator/api/cgi-bin/stable_token", json={"appid": "wx5823bf96d3bd56c7", "secret": ""})
    assert stable.get_json()["errcode"] == 40125
    from handlers.simulator import api_token

    token = api_token(app.extensions["ketang"].settings)
    sent = client.post(f"/simulator/api/cgi-bin/message/template/send?access_token={token}",
                       json={"touser": "o_sim_student1", "data": {}})
    assert sent.get_json()["errcode"] == 40001 and SimMessage.select().count() == 0
