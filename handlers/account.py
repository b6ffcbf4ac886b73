"""Identity: roster verification (one line or guided), phone binding, the join-time identity question."""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import timedelta

from peewee import IntegrityError, fn

from bot.context import Context
from bot.database import serialize, transaction
from bot.hashing import check_secret, hash_secret
from bot.text import legible, normalize
from handlers import limits
from models import NOT_GIVEN, SHOWN_NAME, UNVERIFIED, VERIFIED, Classroom, Dialog, RosterEntry, School, SmsLog, User, db

DIALOG_TTL = timedelta(minutes=10)
JOIN_DIALOG_TTL = timedelta(minutes=30)
AUTH_TRIES_PER_HOUR = 5
CODE_TRIES = 5
SMS_PER_DAY = 5  # per account, and again per phone number
STUDENT_NO = re.compile(r"[A-Za-z0-9-]{1,32}")  # what the chat grammar accepts (handlers/commands.py)
NAME_MAX = SHOWN_NAME  # 40 characters; the name columns hold 64
NAME_MARKS = set(" ·・.-'’")
NO_CODE = {"暂无认证码", "暂无", "无", "没有", "none", "no code", "nocode", "-"}


def mask_phone(phone: str | None) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if phone else ""


def same_name(a: str, b: str) -> bool:
    return normalize(a).replace(" ", "").casefold() == normalize(b).replace(" ", "").casefold()


def student_no_of(text: str) -> str | None:
    """The canonical form of a student number (upper case: `s2024001` is `S2024001`), or None if invalid."""
    text = normalize(text)
    return text.upper() if STUDENT_NO.fullmatch(text) else None


def name_of(text: str) -> str | None:
    """A person's name as stored, or None: 1–40 characters, a letter (any script) first, then letters,
    digits, spaces and · - . ' (`学生1`, `Anne-Marie O'Neil`, `买买提·艾力`).

    No other symbols, control characters or line breaks, so a name can neither overflow a column, nor
    forge a line in a list, nor start a spreadsheet formula.
    """
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text.strip()):
        return None
    text = normalize(text)
    if not 1 <= len(text) <= NAME_MAX or not unicodedata.category(text[0]).startswith("L"):
        return None
    if any(not (unicodedata.category(ch)[0] in "LMN" or ch in NAME_MARKS) for ch in text) or not legible(text):
        return None  # legible: no Hangul fillers (an invisible name) and no pile of combining marks
    return text


def roster_entry(school_id: int, number: str) -> RosterEntry | None:
    """The roster row of canonical *number* at the school (rows imported before numbers were upper-cased
    match too)."""
    return RosterEntry.get_or_none((RosterEntry.school == school_id) & (fn.UPPER(RosterEntry.student_no) == number))


# --- verify --------------------------------------------------------------------------------------


def verify(ctx: Context, school: str | None = None, student_no: str | None = None, rest: str | None = None) -> str:
    """Verify against the school roster; `认证` alone starts the guided dialog."""
    if not (school or student_no or rest):
        ctx.start_dialog("verify", "school", DIALOG_TTL)
        return ctx.t("ask_school", schools=school_list(ctx))
    name, auth = name_and_code(rest or "")
    if not (school and student_no and name):
        return ctx.t("verify_usage")
    return check_identity(ctx, school, student_no, name, auth)


QUOTED = re.compile(r"""(?:"(.+)"|“(.+)”|「(.+)」|『(.+)』|'(.+)'|‘(.+)’)\s*(\S*)""")


def name_and_code(text: str) -> tuple[str, str | None]:
    """Split what follows the number in one-line `认证` into the name and the auth code (None: not given).

    A quoted name is the name (`"Anne-Marie O'Neil" 424242`); else the last word is the code when it has a
    digit or says there is none (`张三 839201`, `张三 暂无认证码`), and the rest, spaces and all, is the name."""
    text = text.strip()
    quoted = QUOTED.fullmatch(text)
    if quoted:
        *names, code = quoted.groups()
        return next(n for n in names if n).strip(), code or None
    words = text.split()
    if len(words) > 1 and (any(ch.isdigit() for ch in words[-1]) or normalize(words[-1]).casefold() in NO_CODE):
        return " ".join(words[:-1]), words[-1]
    if len(words) > 2 and " ".join(words[-2:]).casefold() in NO_CODE:  # "no code"
        return " ".join(words[:-2]), "none"
    return text, None


def school_list(ctx: Context) -> str:
    names = [s.name for s in School.select().order_by(School.name).limit(10)]
    return ctx.t("list_sep").join(names) if names else "—"


def check_identity(ctx: Context, school_name: str, student_no: str, name: str, auth: str | None,
                   dialog: dict | None = None) -> str:
    """Verify (with a code) or record as 未认证 (without one); never take over another account's number.

    Every answer that tells something about the roster (no such number or name, number already
    verified, wrong code) counts against the same hourly limit, and an unknown number and a wrong name
    get the same answer: the roster cannot be enumerated. *dialog*: the guided dialog's data; a wrong code
    keeps it open at the code step while tries are left.
    """
    user = ctx.user
    school = School.get_or_none(School.name == normalize(school_name))
    if school is None:
        return ctx.t("unknown_school", school=school_name, schools=school_list(ctx))
    number = student_no_of(student_no)
    if number is None:
        return ctx.t("bad_student_no")
    if name_of(name) is None:
        return ctx.t("bad_name", max=NAME_MAX)
    if user.verify_state == VERIFIED:
        if user.school_id == school.id and user.student_no == number:
            return ctx.t("already_verified", school=school.name, student_no=number)
        return ctx.t("verified_as_other", student_no=user.student_no)
    if limits.failures(ctx, "auth", timedelta(hours=1)) >= AUTH_TRIES_PER_HOUR:
        return ctx.t("too_many_tries", minutes=60)
    entry = roster_entry(school.id, number)
    if entry is None or not same_name(name, entry.name):
        return _refused(ctx, "no_match", school=school.name, student_no=number)
    if entry.verified_user_id:
        return _refused(ctx, "number_taken", school=school.name, student_no=number)
    if auth is None or normalize(auth).casefold() in NO_CODE or not entry.auth_hash:
        _claim(user, school, number, entry.name, UNVERIFIED)
        return ctx.t("recorded_unverified", school=school.name, student_no=number, name=entry.name)
    if not check_secret(normalize(auth), entry.auth_hash):
        reply = _refused(ctx, "auth_wrong")
        if dialog is not None and ctx.t("too_many_tries", minutes=60) != reply:
            ctx.start_dialog("verify", "code", DIALOG_TTL, **dialog)
            reply += ctx.t("auth_again")
        return reply
    claimed = (
        RosterEntry.update(verified_user=user, verified_at=ctx.now)
        .where((RosterEntry.id == entry.id) & RosterEntry.verified_user.is_null())
        .execute()
    )
    if not claimed:  # another account won a race for this number
        return ctx.t("number_taken", school=school.name, student_no=number)
    _claim(user, school, number, entry.name, VERIFIED)
    return ctx.t("verified_ok", school=school.name, student_no=number, name=entry.name)


def _refused(ctx: Context, key: str, **params) -> str:
    """Count a failed verification and say *key* with the tries left (or that none are left)."""
    limits.record_failure(ctx, "auth")
    left = AUTH_TRIES_PER_HOUR - limits.failures(ctx, "auth", timedelta(hours=1))
    return ctx.t(key, left=left, **params) if left > 0 else ctx.t("too_many_tries", minutes=60)


def _claim(user: User, school: School, student_no: str, name: str, state: str) -> None:
    User.update(school=school, student_no=student_no, name=name, verify_state=state).where(User.id == user.id).execute()
    user.school, user.student_no, user.name, user.verify_state = school, student_no, name, state


def verify_school(ctx: Context, data: dict, text: str) -> str:
    """The guided `认证` dialog, step 1 of 4: the school."""
    text = normalize(text)
    if School.get_or_none(School.name == text) is None:
        return ctx.t("unknown_school", school=text, schools=school_list(ctx))
    ctx.start_dialog("verify", "student_no", DIALOG_TTL, school=text)
    return ctx.t("ask_student_no")


def verify_student_no(ctx: Context, data: dict, text: str) -> str:
    """Step 2 of 4: the student number."""
    number = student_no_of(normalize(text))
    if number is None:
        return ctx.t("bad_student_no")
    ctx.start_dialog("verify", "name", DIALOG_TTL, **data, student_no=number)
    return ctx.t("ask_name")


def verify_name(ctx: Context, data: dict, text: str) -> str:
    """Step 3 of 4: the name (as typed)."""
    name = name_of(text)
    if name is None:
        return ctx.t("bad_name", max=NAME_MAX)
    ctx.start_dialog("verify", "code", DIALOG_TTL, **data, name=name)
    return ctx.t("ask_auth_code")


def verify_code(ctx: Context, data: dict, text: str) -> str:
    """Step 4 of 4: the roster's auth code, which decides."""
    ctx.end_dialog()
    return check_identity(ctx, data["school"], data["student_no"], data["name"], normalize(text), dialog=data)


VERIFY_STEPS = {"school": verify_school, "student_no": verify_student_no, "name": verify_name, "code": verify_code}


# --- the identity question when joining a school's class ----------------------------------------


def ask_identity_on_join(ctx: Context, classroom: Classroom) -> str:
    """Ask an unverified student for number and name after joining a class of a school ('' if not needed)."""
    user = ctx.user
    if classroom.school_id is None or (user.school_id == classroom.school_id and user.verify_state != NOT_GIVEN):
        return ""
    ctx.start_dialog("join_identity", "student_no", JOIN_DIALOG_TTL, school_id=classroom.school_id)
    return ctx.t("join_ask_student_no", school=classroom.school.name)


def join_student_no(ctx: Context, data: dict, text: str) -> str:
    """The identity question after joining, step 1 of 2: the student number."""
    number = student_no_of(text)
    if number is None:
        return ctx.t("bad_student_no")
    ctx.start_dialog("join_identity", "name", JOIN_DIALOG_TTL, **data, student_no=number)
    return ctx.t("ask_name")


def join_name(ctx: Context, data: dict, text: str) -> str:
    """Step 2 of 2: the name; record number and name (未认证 until verified with a code)."""
    name = name_of(text)
    if name is None:
        return ctx.t("bad_name", max=NAME_MAX)  # still in the dialog: the next message is the name again
    ctx.end_dialog()
    school = School.get_by_id(data["school_id"])
    _claim(ctx.user, school, data["student_no"], name, UNVERIFIED)
    return ctx.t("join_recorded", school=school.name, student_no=data["student_no"], name=name)


JOIN_IDENTITY_STEPS = {"student_no": join_student_no, "name": join_name}


# --- phone ---------------------------------------------------------------------------------------


def bind_phone(ctx: Context, phone: str) -> str:
    """Send a 6-digit code to *phone*; the user replies with it within 10 minutes.

    The reply is the same whether or not another account holds the number (that is only said once the
    code proves the phone is yours), and SMS are capped per account and per number. The gateway is
    called after the commit (no lock held while it answers); if it fails, the SMS is not counted and the
    reply says so instead.
    """
    if ctx.user.phone == phone:
        return ctx.t("phone_already_yours", phone=mask_phone(phone))
    serialize(f"sms-user:{ctx.user.id}")  # concurrent requests count each other (user first, then phone)
    serialize(f"sms-phone:{phone}")
    day = SmsLog.select().where(SmsLog.at > ctx.now - timedelta(days=1))
    mine, to_phone = day.where(SmsLog.user == ctx.user), day.where(SmsLog.phone == phone)
    minute = ctx.now - timedelta(minutes=1)
    if mine.where(SmsLog.at > minute).exists() or to_phone.where(SmsLog.at > minute).exists():
        return ctx.t("sms_wait")
    if mine.count() >= SMS_PER_DAY:
        return ctx.t("sms_daily", n=SMS_PER_DAY)
    if to_phone.count() >= SMS_PER_DAY:
        return ctx.t("sms_phone_daily", phone=mask_phone(phone), n=SMS_PER_DAY)
    code = f"{secrets.randbelow(10**6):06d}"
    sent = SmsLog.create(user=ctx.user, phone=phone, at=ctx.now)
    ctx.start_dialog("bind_phone", "code", DIALOG_TTL, phone=phone, hash=hash_secret(code, 1000), tries=0)
    text = ctx.t("sms_text", code=code)
    ctx.after_commit.append(lambda: _send_code(ctx, sent.id, phone, text))
    return ctx.t("code_sent", phone=mask_phone(phone))


def _send_code(ctx: Context, sms_id: int, phone: str, text: str) -> str | None:
    """Call the SMS gateway (after the commit); on failure undo the SMS and return the reply saying so."""
    if ctx.sms.send(phone, text):
        return None
    with transaction():
        SmsLog.delete().where(SmsLog.id == sms_id).execute()
        Dialog.delete().where((Dialog.user == ctx.user) & (Dialog.flow == "bind_phone")).execute()
    return ctx.t("sms_failed", phone=mask_phone(phone))


def phone_code(ctx: Context, code: str) -> str:
    """Check the SMS code and bind the phone, replacing any number bound before."""
    state = ctx.dialog("bind_phone")
    if state is None:
        return ctx.t("no_code_pending")
    _step, data = state
    if not check_secret(normalize(code), data["hash"]):
        tries = data["tries"] + 1
        if tries >= CODE_TRIES:
            ctx.end_dialog()
            return ctx.t("code_locked")
        ctx.update_dialog(tries=tries)
        return ctx.t("code_wrong", left=CODE_TRIES - tries)
    ctx.end_dialog()
    old = ctx.user.phone
    try:
        with db.atomic():
            User.update(phone=data["phone"]).where(User.id == ctx.user.id).execute()
    except IntegrityError:  # bound by another account since the code was sent
        return ctx.t("phone_taken", phone=mask_phone(data["phone"]))
    if old:
        return ctx.t("phone_replaced", old=mask_phone(old), phone=mask_phone(data["phone"]))
    return ctx.t("phone_bound", phone=mask_phone(data["phone"]))


def phone_code_step(ctx: Context, data: dict, text: str) -> str:
    """A bare reply inside the bind-phone dialog: it must be the 6-digit code."""
    digits = normalize(text)
    if not re.fullmatch(r"\d{6}", digits):
        return ctx.t("code_expected")
    return phone_code(ctx, digits)


PHONE_STEPS = {"code": phone_code_step}


def unbind_phone(ctx: Context) -> str:
    """Remove the bound phone number."""
    if not ctx.user.phone:
        return ctx.t("no_phone")
    User.update(phone=None).where(User.id == ctx.user.id).execute()
    return ctx.t("phone_unbound", phone=mask_phone(ctx.user.phone))
