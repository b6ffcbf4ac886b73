"""The one scheduler process: APScheduler runs each job f(now) on an interval."""

from __future__ import annotations

import logging

import click
from apscheduler.schedulers.blocking import BlockingScheduler

from bot.jobs import JOBS
from models import db

log = logging.getLogger("ketang.scheduler")


def build_scheduler(app, kind=BlockingScheduler):
    """Return a scheduler of *kind* with every job registered (not started)."""
    kt = app.extensions["ketang"]
    scheduler = kind(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
    )
    for job, seconds in JOBS:
        scheduler.add_job(_runner(app, job, kt.clock), "interval", seconds=seconds, id=job.__name__,
                          name=job.__name__, replace_existing=True)
    return scheduler


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
