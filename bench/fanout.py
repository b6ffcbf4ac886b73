"""Push fan-out: drain 10,000 outbox rows against a loopback mock WeChat API with 20 ms latency.

The sender (`bot/push.py`) and the mock API (`tests/mock_wechat.py`) are built on another branch.
Until they are merged this part prints a note and is skipped. Wiring, once they exist:
  1. start the mock API on a free 127.0.0.1 port with 20 ms latency per call;
  2. write a config whose [wechat] api_base_url points at it, init-db, and insert N users plus N
     pending Outbox rows (kind "announcement", next_try_at = now) in one transaction;
  3. time the sender's drain until no row is pending (bounded: 10 min), and count the deliveries the
     mock API recorded: deliveries/s = N / seconds; every row must be sent exactly once.
"""

from __future__ import annotations


def run(n: int = 10000) -> str:
    try:
        import bot.push  # noqa: F401
        import tests.mock_wechat  # noqa: F401
    except ImportError as missing:
        return f"SKIPPED ({missing.name} is not on this branch yet; see bench/fanout.py for the wiring)"
    return "SKIPPED (bot.push is present: wire bench/fanout.py to its drain API, see the module docstring)"
