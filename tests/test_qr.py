"""handlers/qr.py: the class QR code behind a signed link, and the join page it points to."""

from __future__ import annotations

import re


def test_qr_link_serves_a_png_and_refuses_tampering_and_expiry(app, client, say, teacher, clock):
    openid, code = teacher
    link = re.search(r"(https://\S+\.png)", say(openid, "二维码")).group(1)
    path = link.replace("https://ketang.example.edu", "")
    response = client.get(path)
    assert response.status_code == 200 and response.data.startswith(b"\x89PNG")
    assert client.get(path.replace(".png", "x.png")).status_code == 403
    page = client.get(f"/join/{code}")
    assert f"加入 {code}" in page.get_data(as_text=True)
    clock.advance(days=31)
    assert client.get(path).status_code == 403
