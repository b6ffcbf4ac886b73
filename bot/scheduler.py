"""The one scheduler process: APScheduler runs each job f(now) on an interval."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from functools import partial

import click
from apscheduler.schedulers.blocking import BlockingScheduler

from bot.jobs import JOBS
from bot.menu import TagTeachers
from bot.official_qr import QrRenewer
from bot.push import Pusher
from bot.wechat_api import WechatApi
from handlers.attendance import close_roll_calls
from handlers.schedule import publish_due_announcements
from handlers.teacher import end_stale_lessons
from models import db

log = logging.getLogger("ketang.scheduler")


def build_scheduler(app, kind=BlockingScheduler):
    """Return a scheduler of *kind* with every job registered (not started)."""
    kt = app.extensions["ketang"]
    scheduler = kind(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
    )
    start = datetime.now(timezone.utc)  # run everything once at start-up, then on the interval
    for job, seconds in JOBS + process_jobs(kt.settings, kt.clock):
        scheduler.add_job(_runner(app, job, kt.clock), "interval", seconds=seconds, id=job.__name__,
                          name=job.__name__, replace_existing=True, next_run_time=start)
    return scheduler


def process_jobs(settings, clock) -> tuple:
    """The jobs that need settings or this process's WeChat API client (the one token owner)."""
    api = WechatApi(settings.wechat, clock, pool=settings.scheduler.push_threads + 2) if settings.wechat.app_secret else None
    end_lessons = partial(end_stale_lessons, max_hours=settings.scheduler.lesson_max_hours)
    end_lessons.__name__ = "end_stale_lessons"
    jobs = ((publish_due_announcements, 5), (end_lessons, 60), (close_roll_calls, 10), (Pusher(settings, api), 2))
    return jobs + (((QrRenewer(api), 60), (TagTeachers(api), 30)) if api else ())  # menu: TagTeachers


def _runner(app, job, clock):
    def run():
        with app.app_context():
            db.connect(reuse_if_open=True)
            try:
                job(clock())
            except Exception:
                log.exception("job %s failed; it runs again at its next interval", job.__name__)
            finally:
                db.close()

    run.__name__ = job.__name__
    return run


def init_app(app) -> None:
    @app.cli.command("scheduler")
    def scheduler_command():
        """Run the scheduler process (exactly one per deployment)."""
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per run every 5 s
        scheduler = build_scheduler(app)
        click.echo("scheduler running: " + ", ".join(job.id for job in scheduler.get_jobs()))
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass
