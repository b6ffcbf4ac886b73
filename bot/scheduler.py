"""The one scheduler process: APScheduler runs each job f(now) on an interval."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import click
from apscheduler.schedulers.blocking import BlockingScheduler

from bot.jobs import JOBS
from bot.plugin import Job, Plugin
from bot.push import Pusher
from bot.wechat_api import WechatApi
from models import db

log = logging.getLogger("ketang.scheduler")


def build_scheduler(app, kind=BlockingScheduler):
    """Return a scheduler of *kind* with every job of the job table registered (not started)."""
    kt = app.extensions["ketang"]
    scheduler = kind(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
    )
    start = datetime.now(timezone.utc)  # run everything once at start-up, then on the interval
    for job in job_table(kt.settings, kt.clock, kt.plugin):
        scheduler.add_job(_runner(app, job, kt.clock), "interval", seconds=job.seconds, id=job.name,
                          name=job.name, replace_existing=True, next_run_time=start)
    return scheduler


def job_table(settings, clock, plugin: Plugin) -> list[Job]:
    """The machinery's jobs, outbox delivery, and the plugin's; a plugin's job factory gets this process's
    settings and WeChat API client (the one token owner, None without an app_secret)."""
    api = WechatApi(settings.wechat, clock, pool=settings.scheduler.push_threads + 2) if settings.wechat.app_secret else None
    rows = JOBS + (Job("drain_outbox", Pusher(settings, api), 2),) + plugin.jobs
    jobs = [row if isinstance(row, Job) else row(settings, api) for row in rows]
    return [job for job in jobs if job is not None]


def _runner(app, job: Job, clock):
    def run():
        with app.app_context():
            db.connect(reuse_if_open=True)
            try:
                job.run(clock())
                log.debug("job %s ran", job.name)
            except Exception:
                log.exception("job %s failed; it runs again at its next interval", job.name)
            finally:
                db.close()

    return run


def init_app(app) -> None:
    @app.cli.command("scheduler")
    @click.option("--verbose", is_flag=True, help="Log every run of every job (`job <name> ran`).")
    def scheduler_command(verbose):
        """Run the scheduler process (exactly one per deployment)."""
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        if verbose:
            log.setLevel(logging.DEBUG)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per run every 5 s
        scheduler = build_scheduler(app)
        click.echo("scheduler running: " + ", ".join(job.id for job in scheduler.get_jobs()))
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass
