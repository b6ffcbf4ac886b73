"""The classroom's command-line tools: teachers, school rosters, releasing a student number or a phone."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from bot.database import transaction
from bot.dispatch import touch_user


@click.command("make-teacher")
@with_appcontext
@click.argument("openid")
@click.option("--school", default=None, help="The teacher's school (as named in import-roster).")
def make_teacher_command(openid: str, school: str | None):
    """Make the account OPENID a teacher (it leaves any class it joined as a student)."""
    from handlers.common import make_teacher
    from models import School

    kt = current_app.extensions["ketang"]
    with transaction():
        found = School.get_or_none(School.name == school) if school else None
        if school and found is None:
            raise click.ClickException(f"no school named {school!r}: import its roster first")
        user = touch_user(openid, kt.clock())
        left = make_teacher(user, kt.clock(), found)
    click.echo(f"{openid} is now a teacher" + (f" (left {left} class(es) joined as a student)" if left else ""))


@click.command("import-roster")
@with_appcontext
@click.argument("school")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
def import_roster_command(school: str, csv_file: str):
    """Load SCHOOL's roster from CSV_FILE (UTF-8 or GBK CSV, or .xlsx; student_no,name,auth_code or
    学号,姓名,认证码); a file with any bad row imports nothing."""
    from handlers.roster import RosterError, import_roster

    kt = current_app.extensions["ketang"]
    try:
        with open(csv_file, "rb") as handle:  # checked and hashed first, then written in short batches
            result = import_roster(school, handle.read(), kt.clock())
    except RosterError as error:
        raise click.ClickException(f"{csv_file}: {error}; nothing was imported") from None
    click.echo(f"{school}: {result.added} added, {result.updated} updated")


@click.command("import-questions")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--teacher", "openid", required=True, help="The openid of the teacher whose bank (题库) gets them.")
def import_questions_command(file: str, openid: str):
    """Add the questions of FILE (UTF-8 or GBK CSV, or .xlsx; columns question,answer or 题目,答案, the answer a
    练习 key such as B, AC, 对, =北京/北平, or 问卷 for a survey) to a teacher's bank; a file with any bad row imports
    nothing, as import-roster."""
    from handlers.bank import import_questions
    from handlers.roster import RosterError

    kt = current_app.extensions["ketang"]
    try:
        with open(file, "rb") as handle:
            added, there = import_questions(openid, handle.read(), kt.clock())
    except RosterError as error:
        raise click.ClickException(f"{file}: {error}; nothing was imported") from None
    shown = f" (#{added[0]}-#{added[-1]})" if added else ""
    click.echo(f"{openid}: {len(added)} added{shown}, {len(there)} already in the bank")


@click.command("release-student")
@with_appcontext
@click.argument("school")
@click.argument("student_no")
def release_student_command(school: str, student_no: str):
    """Undo the verification of STUDENT_NO at SCHOOL so its rightful owner can verify."""
    from handlers.roster import release_student

    with transaction():
        holder = release_student(school, student_no, who="admin (CLI)")
    if holder is None:
        raise click.ClickException(f"{school} {student_no} is not verified by any account")
    click.echo(f"released {school} {student_no} from account {holder.openid} (now 未认证)")


@click.command("release-phone")
@with_appcontext
@click.argument("phone")
def release_phone_command(phone: str):
    """Unbind PHONE from whichever account holds it (lost phone or lost WeChat account)."""
    from handlers.roster import release_phone

    with transaction():
        holder = release_phone(phone)
    if holder is None:
        raise click.ClickException(f"{phone[:3]}****{phone[-4:]} is not bound to any account")
    click.echo(f"unbound {phone[:3]}****{phone[-4:]} from account {holder.openid}")


COMMANDS = (make_teacher_command, import_roster_command, import_questions_command, release_student_command,
            release_phone_command)
