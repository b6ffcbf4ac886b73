"""The baseline: a bare Flask endpoint returning a fixed XML reply, served like Ketang."""

from flask import Flask, Response

REPLY = (b"<xml><ToUserName><![CDATA[o_student]]></ToUserName><FromUserName><![CDATA[gh_ketang]]></FromUserName>"
         b"<CreateTime>1788739200</CreateTime><MsgType><![CDATA[text]]></MsgType>"
         b"<Content><![CDATA[ok]]></Content></xml>")


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/wechat")
    def wechat():
        return Response(REPLY, mimetype="application/xml")

    @app.get("/")
    def index():
        return "bare"

    return app
