"""Every table of Ketang; unique keys decide duplicates, never a check-then-insert."""

from __future__ import annotations

from peewee import (
    SQL,
    BooleanField,
    CharField,
    DatabaseProxy,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from bot.catalogue import t
from bot.text import inline

db = DatabaseProxy()

STUDENT, TEACHER = "student", "teacher"
CHECKIN, QUIZ, SURVEY, DISCUSSION = "checkin", "quiz", "survey", "discussion"
SINGLE, MULTIPLE, TRUE_FALSE, FILL = "single", "multiple", "truefalse", "fill"
OPEN, CLOSED = "open", "closed"
PRESENT, LATE, EXCUSED, ABSENT = "present", "late", "excused", "absent"
PENDING, SENT = "pending", "sent"
NOT_GIVEN, UNVERIFIED, VERIFIED = "not_given", "unverified", "verified"
ERASED_PREFIX = "erased-"  # the openid of the placeholder that keeps a deleted account's records (handlers/privacy.py)
SHOWN_NAME = 40  # characters of a name shown in a list (handlers/account.py validates names to this)


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class School(BaseModel):
    name = CharField(max_length=64, unique=True)
    created_at = DateTimeField()


class User(BaseModel):
    openid = CharField(max_length=64, unique=True)
    role = CharField(max_length=16, default=STUDENT)
    name = CharField(max_length=64, null=True)
    student_no = CharField(max_length=32, null=True)
    # The class chosen with 进入; validated on use (membership or ownership), so no FK.
    current_class_id = IntegerField(null=True)
    subscribed = BooleanField(default=True)
    created_at = DateTimeField()
    last_seen_at = DateTimeField(null=True)
    # Identity: the school and number claimed, and whether the roster's auth code proved it.
    school = ForeignKeyField(School, null=True, on_delete="SET NULL")
    verify_state = CharField(max_length=16, default=NOT_GIVEN)  # not_given / unverified / verified
    phone = CharField(max_length=16, null=True, unique=True)
    # The language of the user's latest message that said one (zh/en), kept by the dispatcher's touch:
    # replies to events, dialog steps, pushes and exports follow it.
    lang = CharField(max_length=2, default="zh")

    @property
    def is_teacher(self) -> bool:
        return self.role == TEACHER

    @property
    def shown_name(self) -> str | None:
        """The name as lists show it: one line of at most SHOWN_NAME characters (names are validated
        where they enter, but rows written before that may hold anything)."""
        if not self.name:
            return None
        name = " ".join(inline(self.name).split())
        return name if len(name) <= SHOWN_NAME else name[: SHOWN_NAME - 1] + "…"

    @property
    def display_name(self) -> str:
        return self.label("zh")

    def label(self, lang: str) -> str:
        """How every list names the user: the name, else 未实名(<last 4 of the openid>) — the one label 名单,
        签到情况, 点名 and the export show for a student without a name, and 改签 accepts."""
        if self.openid.startswith(ERASED_PREFIX):  # the placeholder of a deleted account (handlers/privacy.py)
            return t("erased_user", lang)
        return self.shown_name or t("unnamed", lang, tail=self.openid[-4:])


class Classroom(BaseModel):
    name = CharField(max_length=64)
    code = CharField(max_length=6, unique=True)
    owner = ForeignKeyField(User, backref="owned_classes", on_delete="CASCADE")
    created_at = DateTimeField()
    school = ForeignKeyField(School, null=True, on_delete="SET NULL")
    # 归档 (handlers/terms.py): the class ended. It takes no joins and no new lessons and leaves students'
    # 我的课堂; its records, grade book and export stay the teacher's. NULL while the class runs.
    archived_at = DateTimeField(null=True)
    # When the retention job ([privacy] retention_days after archived_at) replaced its students' records by
    # counts (Tally rows, handlers/privacy.py); set once, by the one scheduler that claimed the class.
    purged_at = DateTimeField(null=True)


class BankQuestion(BaseModel):
    """A question in a teacher's bank (题库, handlers/bank.py): every quiz and survey they publish, and those they
    import. The statistics are never stored here: they come from the activities published from it (Activity.bank)."""

    owner = ForeignKeyField(User, on_delete="CASCADE")
    number = IntegerField()  # the teacher's 题号: 1 for their first question; never moves, never reused
    kind = CharField(max_length=16)  # quiz | survey
    question = TextField()
    options = CharField(max_length=16, default="")
    correct = CharField(max_length=16, default="")
    answer_type = CharField(max_length=16, default=SINGLE)
    accepted = TextField(default="")
    digest = CharField(max_length=64)  # SHA-256 of the fields above: the same question is one entry
    created_at = DateTimeField()

    class Meta:
        indexes = ((("owner", "number"), True), (("owner", "digest"), True))


class Membership(BaseModel):
    """One stretch of a student's membership: leaving ends it (left_at), rejoining starts another.

    Rows are never deleted when a student leaves, so lessons held while they were a member still
    count them (absences survive leaving and rejoining)."""

    user = ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    classroom = ForeignKeyField(Classroom, backref="memberships", on_delete="CASCADE")
    joined_at = DateTimeField()
    notices_seen_at = DateTimeField(null=True)
    left_at = DateTimeField(null=True)
    # 1 while a member, NULL after leaving: the unique key allows one current stretch per class.
    active = IntegerField(null=True, default=1)

    class Meta:
        indexes = ((("user", "classroom", "active"), True),)


class Lesson(BaseModel):
    classroom = ForeignKeyField(Classroom, backref="lessons", on_delete="CASCADE")
    started_at = DateTimeField()
    ended_at = DateTimeField(null=True)
    # 1 while the lesson is open, NULL after: the unique key allows one open lesson per class.
    live = IntegerField(null=True, default=1)
    # 取消上课: a lesson started by mistake. Kept (the audit), but its check-ins and quizzes count for nobody.
    cancelled_at = DateTimeField(null=True)
    cancelled_by = ForeignKeyField(User, null=True, on_delete="SET NULL")

    class Meta:
        indexes = ((("classroom", "live"), True),)


class Activity(BaseModel):
    lesson = ForeignKeyField(Lesson, backref="activities", on_delete="CASCADE")
    kind = CharField(max_length=16)
    status = CharField(max_length=16, default=OPEN, index=True)
    question = TextField(default="")
    options = CharField(max_length=16, default="")  # "ABCD" for a quiz
    correct = CharField(max_length=16, default="")
    passcode = CharField(max_length=8, null=True)  # 4-digit 口令 for a check-in
    opened_at = DateTimeField()
    deadline = DateTimeField(index=True)
    closed_at = DateTimeField(null=True)
    answer_type = CharField(max_length=16, default=SINGLE)  # quizzes: single / multiple / truefalse / fill
    accepted = TextField(default="")  # fill-in quizzes: accepted answers separated by "|"
    extended_from = DateTimeField(null=True)  # the first deadline, once 延长 moved it: later check-ins are late
    # A check-in whose code rotates (shown and judged by a plugin, e.g. the classroom screen): only that code,
    # or a scan, checks in; the fixed passcode is not accepted.
    rotating = BooleanField(default=False)
    seen_slot = IntegerField(null=True)  # a check-in's latest rotation slot a screen showed (handlers/screen/rotation.py)
    bank = ForeignKeyField(BankQuestion, null=True, on_delete="SET NULL")  # the 题库 entry a quiz or survey ran as

    def is_open(self, now) -> bool:
        """Whether it still takes answers at *now*: open and not past its deadline (to the second, even
        before the scheduler has closed it)."""
        return self.status == OPEN and now <= self.deadline

    def closed_time(self):
        """When it stopped taking answers: when it was closed early, else its deadline."""
        return min(self.closed_at or self.deadline, self.deadline)


class Response(BaseModel):
    # No index of its own: the unique (activity, user) key serves lookups by activity too, and a planner whose
    # statistics lag a fast-growing table cannot pick the narrower one and filter by user (the grade book).
    activity = ForeignKeyField(Activity, backref="responses", on_delete="CASCADE", index=False)
    user = ForeignKeyField(User, backref="responses", on_delete="CASCADE")
    answer = CharField(max_length=64, default="")
    status = CharField(max_length=16, default=PRESENT)
    created_at = DateTimeField()
    updated_at = DateTimeField()
    marked_by = ForeignKeyField(User, null=True, on_delete="SET NULL")  # a teacher's 改签
    marked_at = DateTimeField(null=True)
    right = IntegerField(null=True)  # a quiz answer: 1 right, 0 wrong (graded when given; shown after close)
    made_up = BooleanField(default=False)

    class Meta:
        indexes = ((("activity", "user"), True),)


# A check-in's statuses other than present and late are a few rows: the classroom screen counts them from
# this partial index (and the rest from the unique key) instead of reading every row (handlers/screen/view.py).
RARE_STATUSES = SQL("status IN ('excused', 'absent')")
Response.add_index(Response.index(Response.activity, Response.status, where=RARE_STATUSES))
# The screen counts an open check-in's members (current, or left since it opened) from this index alone.
Membership.add_index(Membership.index(Membership.classroom, Membership.left_at))


class Post(BaseModel):
    """A student's 发言 in a discussion (several per student)."""

    activity = ForeignKeyField(Activity, backref="posts", on_delete="CASCADE", index=False)  # (activity, user) serves
    user = ForeignKeyField(User, on_delete="CASCADE")
    text = TextField()
    created_at = DateTimeField()
    hidden = BooleanField(default=False)  # screen: 隐藏 <n> takes it off the classroom screen
    approved_at = DateTimeField(null=True)  # 通过 <n>: a post written while the wall was in approval mode (WallReview)

    class Meta:
        indexes = ((("activity", "user"), False),)  # gradebook: whether a student took part, by index


class LostSignal(BaseModel):
    """A student's anonymous 不懂 during a lesson."""

    lesson = ForeignKeyField(Lesson, backref="lost", on_delete="CASCADE")
    user = ForeignKeyField(User, on_delete="CASCADE")
    note = TextField(default="")
    created_at = DateTimeField()


class RollCall(BaseModel):
    """A student picked by 点名, who must answer 到 before the deadline."""

    lesson = ForeignKeyField(Lesson, backref="roll_calls", on_delete="CASCADE")
    user = ForeignKeyField(User, on_delete="CASCADE")
    picked_at = DateTimeField()
    deadline = DateTimeField()
    answered_at = DateTimeField(null=True)
    closed_at = DateTimeField(null=True)  # when the scheduler closed the window and told the teacher

    class Meta:
        indexes = ((("lesson", "user"), True),)


class Announcement(BaseModel):
    classroom = ForeignKeyField(Classroom, backref="announcements", on_delete="CASCADE")
    author = ForeignKeyField(User, on_delete="CASCADE")
    text = TextField()
    created_at = DateTimeField(index=True)


class InboundMessage(BaseModel):
    """A processed WeChat message: its dedupe key and the reply a retry gets again."""

    key = CharField(max_length=160, unique=True)
    openid = CharField(max_length=64)
    reply = TextField(default="")
    created_at = DateTimeField(index=True)


class Outbox(BaseModel):
    """A push to one user, written in the same transaction as its cause."""

    key = CharField(max_length=160, unique=True)
    user = ForeignKeyField(User, on_delete="CASCADE")
    kind = CharField(max_length=32)
    text = TextField()
    status = CharField(max_length=16, default=PENDING, index=True)
    attempts = IntegerField(default=0)
    next_try_at = DateTimeField(index=True)
    created_at = DateTimeField()
    sent_at = DateTimeField(null=True)
    # Delivery (bot/push.py): who claimed the row and until when, how it went out, what went wrong.
    claim = CharField(max_length=32, null=True, index=True)
    lease_until = DateTimeField(null=True)
    channel = CharField(max_length=16, null=True)  # custom | template
    msg_id = CharField(max_length=32, null=True, index=True)  # a template message's MsgID
    delivery = CharField(max_length=32, null=True)  # TEMPLATESENDJOBFINISH status
    last_error = CharField(max_length=200, null=True)


class Dialog(BaseModel):
    """The one multi-step dialog a user is in, shared by every worker."""

    user = ForeignKeyField(User, unique=True, on_delete="CASCADE")
    flow = CharField(max_length=32)
    step = CharField(max_length=32)
    data = TextField(default="{}")
    expires_at = DateTimeField(index=True)


class FailedAttempt(BaseModel):
    """A wrong guess (class code, check-in code), counted to rate-limit guessing."""

    user = ForeignKeyField(User, on_delete="CASCADE")
    scope = CharField(max_length=64)
    at = DateTimeField()

    class Meta:
        indexes = ((("user", "scope", "at"), False),)


class RosterEntry(BaseModel):
    """One student of a school's roster; at most one account ever holds its verification."""

    school = ForeignKeyField(School, backref="roster", on_delete="CASCADE")
    student_no = CharField(max_length=32)
    name = CharField(max_length=64)
    auth_hash = CharField(max_length=128, null=True)  # salted PBKDF2 of the auth code; never the code
    verified_user = ForeignKeyField(User, null=True, unique=True, on_delete="SET NULL")
    verified_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("school", "student_no"), True),)


class SmsLog(BaseModel):
    """A verification SMS sent, for per-user rate limits."""

    user = ForeignKeyField(User, on_delete="CASCADE")
    phone = CharField(max_length=16)
    at = DateTimeField(index=True)




# Pushes and the scheduler process (bot/push.py, bot/wechat_api.py, handlers/scheduled_announcements.py).
UNREAD, READ = "unread", "read"  # kept for the student's next reply / shown with 公告
DROPPED, SKIPPED, FAILED = "dropped", "skipped", "failed"  # unsubscribed / no channel / gave up
# Kept unread when no channel reaches the user (shown with their next reply); other kinds are skipped.
ANNOUNCEMENT_KINDS = ("announcement", "absence_requests", "request_result", "risk_digest", "risk_nudge")


class ScheduledAnnouncement(BaseModel):
    """An announcement to post at *due_at* (定时公告); the scheduler publishes it once."""

    classroom = ForeignKeyField(Classroom, backref="scheduled", on_delete="CASCADE")
    author = ForeignKeyField(User, on_delete="CASCADE")
    text = TextField()
    due_at = DateTimeField(index=True)
    created_at = DateTimeField()
    published_at = DateTimeField(null=True)
    # A draft is never posted: 复制课堂 copies a class's pending ones as drafts, 归档 turns its pending ones into
    # drafts (handlers/terms.py). 定时列表 shows them with their old time; 取消定时 removes one.
    draft = BooleanField(default=False)


class WechatState(BaseModel):
    """Shared state by name: the scheduler's access token and quota pause, /healthz's heartbeat row."""

    name = CharField(max_length=100, unique=True)
    value = TextField(default="")
    expires_at = DateTimeField(null=True)


class ClassQr(BaseModel):
    """A class's temporary official-account QR code (scene `join_<code>`)."""

    classroom = ForeignKeyField(Classroom, unique=True, on_delete="CASCADE")
    ticket = CharField(max_length=255)
    url = CharField(max_length=255)
    expires_at = DateTimeField(index=True)
    created_at = DateTimeField()


# The classroom screen (handlers/screen/).
class Screen(BaseModel):
    """A browser showing a class on the projector, paired by the teacher with its one-time 投屏码."""

    token_hash = CharField(max_length=64, unique=True)  # SHA-256 of the browser's secret; the secret is never stored
    code = CharField(max_length=6, null=True, unique=True)  # the 投屏码 until it is used (then NULL)
    code_expires_at = DateTimeField()
    ip = CharField(max_length=64)
    created_at = DateTimeField(index=True)
    classroom = ForeignKeyField(Classroom, null=True, on_delete="CASCADE")
    teacher = ForeignKeyField(User, null=True, on_delete="CASCADE")
    paired_at = DateTimeField(null=True)
    ended_at = DateTimeField(null=True)
    version = IntegerField(default=0)  # bumped by every change the screen shows: its ETag
    missing_until = DateTimeField(null=True)  # 未到 投屏: the screen shows the missing count alone until then
    cloud_of = IntegerField(null=True)  # 词云: the activity whose answers or posts the screen shows as a word cloud
    net = CharField(max_length=64, default="")  # the creator's address range (/24, /48): caps, and who may poll
    keyed_at = DateTimeField(null=True)  # when the page swapped its pre-pairing secret for a new one
    warned_at = DateTimeField(null=True)  # when the teacher was told of a poll from another network

    class Meta:
        indexes = ((("ip", "created_at"), False), (("classroom", "ended_at"), False), (("teacher", "ended_at"), False),
                   (("net", "code_expires_at"), False))


class QrDrawing(BaseModel):
    """A QR code's SVG drawn once for every worker (handlers/screen/shown.py): the scheduler draws the coming
    rotation slots' check-in codes ahead, so no web worker encodes one during a class's burst."""

    digest = CharField(max_length=64, unique=True)  # SHA-256 of the content
    svg = TextField()
    expires_at = DateTimeField(index=True)


class StaleCode(BaseModel):
    """A rotating check-in code (QR or 口令) that arrived after it had left the screen: a relay shows up here."""

    activity = ForeignKeyField(Activity, on_delete="CASCADE")
    user = ForeignKeyField(User, on_delete="CASCADE")
    kind = CharField(max_length=8)  # qr | code
    at = DateTimeField()

    class Meta:
        indexes = ((("activity", "at"), False),)


class CheckinQr(BaseModel):
    """An official-account QR code (QR_STR_SCENE `ci_<token>`) the scheduler minted ahead for one rotation slot."""

    activity = ForeignKeyField(Activity, on_delete="CASCADE")
    slot = IntegerField()
    url = CharField(max_length=255, index=True)
    expires_at = DateTimeField(index=True)
    created_at = DateTimeField()

    class Meta:
        indexes = ((("activity", "slot"), True),)


# The machinery's tables (bot/ may use these and no other); every other table is the classroom's.
MACHINERY_TABLES = (User, InboundMessage, Outbox, Dialog, WechatState)
# Indexes older versions made that the current schema replaces; `init-db` drops them (bot/database.py).
OBSOLETE_INDEXES = ("membership_user_id_classroom_id",  # one membership per class: now one *current* one
                    "response_activity_id", "post_activity_id")  # the (activity, user) keys serve lookups by activity

class WallReview(BaseModel):
    """A span during which a class's discussion wall was in approval mode (审核 开 … 审核 关): a post written
    in it reaches the screen only once the teacher's 通过 set its approved_at (handlers/wall.py)."""

    classroom = ForeignKeyField(Classroom, on_delete="CASCADE")
    started_at = DateTimeField()
    ended_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("classroom", "started_at"), False),)


MODELS = [School, User, Classroom, BankQuestion, Membership, Lesson, Activity, Response, Announcement, InboundMessage,
          Outbox, Dialog, FailedAttempt, RosterEntry, SmsLog, Post, LostSignal, RollCall, ScheduledAnnouncement, WechatState,
          ClassQr, Screen, StaleCode, CheckinQr, QrDrawing, WallReview]


class MenuTag(BaseModel):
    """A user's place in the teacher tag (handlers/menu.py): tagged by the scheduler, or why not yet."""

    user = ForeignKeyField(User, unique=True, on_delete="CASCADE")
    tag_id = IntegerField(default=0)  # the tag the user is in; 0 = not tagged yet
    tagged_at = DateTimeField(null=True)
    retry_at = DateTimeField(null=True)  # after a failed call, not before
    last_error = CharField(max_length=200, null=True)


MODELS.append(MenuTag)  # menu:


# Make-up and leave requests, and early warnings (handlers/requests.py, handlers/warnings.py).
MAKE_UP, LEAVE = "make_up", "leave"
WAITING, APPROVED, REJECTED = "waiting", "approved", "rejected"


class ClassRules(BaseModel):
    """A class's own settings for requests (补签 关) and warnings (预警设置); no row = the defaults."""

    classroom = ForeignKeyField(Classroom, unique=True, on_delete="CASCADE")
    requests_on = BooleanField(default=True)
    absences = IntegerField(default=2)  # consecutive absences (0 = rule off)
    rate = IntegerField(default=70)  # attendance rate to date below, in % (0 = off)
    drop = IntegerField(default=30)  # quiz accuracy of the last 3 quizzes fallen by, in points (0 = off)
    lost = IntegerField(default=3)  # 不懂 in the last two weeks (0 = off)
    nudge = BooleanField(default=False)  # 预警 通知学生 开: a private weekly note to each student at risk
    team_pushes = BooleanField(default=False)  # 助教通知 开: pushes for "the teacher" go to the whole team


class AbsenceRequest(BaseModel):
    """A student's 补签 (a missed check-in) or 请假 (a day ahead), and the teacher's decision: the audit trail."""

    student = ForeignKeyField(User, on_delete="CASCADE")
    classroom = ForeignKeyField(Classroom, on_delete="CASCADE")
    kind = CharField(max_length=8)  # make_up | leave
    activity = ForeignKeyField(Activity, null=True, on_delete="CASCADE")  # the missed check-in (make_up)
    day = DateField(null=True)  # the school-time date (leave)
    reason = CharField(max_length=200)
    key = CharField(max_length=64, unique=True)  # one request per check-in (or day) per student, ever
    created_at = DateTimeField()
    shown_at = DateTimeField(null=True, index=True)  # pushed to the teacher or listed by 补签申请
    state = CharField(max_length=16, default=WAITING, index=True)
    decided_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    decided_at = DateTimeField(null=True)
    status = CharField(max_length=16, null=True)  # the status an approval gave
    note = CharField(max_length=200, null=True)  # a rejection's reason
    changed = CharField(max_length=200, null=True)  # what the approval changed, e.g. "absent→excused"


class AttendanceChange(BaseModel):
    """One change of a check-in status by a decision: an approved request, or a teacher's 改签 of a made-up one."""

    activity = ForeignKeyField(Activity, on_delete="CASCADE")
    student = ForeignKeyField(User, on_delete="CASCADE")
    before = CharField(max_length=16)
    after = CharField(max_length=16)
    by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    at = DateTimeField()
    request = ForeignKeyField(AbsenceRequest, null=True, on_delete="SET NULL")

    class Meta:
        indexes = ((("activity", "student"), False),)


class RiskMark(BaseModel):
    """A student named in a class's weekly digest (or sent a nudge): how many weeks in a row, which rules."""

    classroom = ForeignKeyField(Classroom, on_delete="CASCADE")
    student = ForeignKeyField(User, on_delete="CASCADE")
    week = DateField()  # the school-time date of the digest
    weeks = IntegerField(default=1)  # weeks in a row at risk (第 n 周)
    rules = CharField(max_length=64)  # the rules hit, e.g. "absences,rate"

    class Meta:
        indexes = ((("classroom", "week", "student"), True),)


class RiskDigest(BaseModel):
    """A class's weekly run, once: written with its marks and its outbox row (no row = not run yet)."""

    classroom = ForeignKeyField(Classroom, on_delete="CASCADE")
    week = DateField()
    at_risk = IntegerField(default=0)
    created_at = DateTimeField()

    class Meta:
        indexes = ((("classroom", "week"), True),)


MODELS += [ClassRules, AbsenceRequest, AttendanceChange, RiskMark, RiskDigest]


class SimMessage(BaseModel):
    """A bubble in the web simulator's phones (handlers/simulator.py): what a phone sent, the reply, a push."""

    openid = CharField(max_length=64, index=True)
    origin = CharField(max_length=8)  # user | reply | push
    text = TextField()
    created_at = DateTimeField()


MODELS.append(SimMessage)  # simulator:


class GradingRule(BaseModel):
    """A class's 平时成绩 rule as the teacher set it (成绩规则): every change is a new row, so the latest row
    is the rule and the rows before it are the record of who changed what, when (handlers/gradebook.py)."""

    classroom = ForeignKeyField(Classroom, on_delete="CASCADE")
    author = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField()
    attendance = IntegerField()  # weights, whole numbers summing to 100
    quizzes = IntegerField()
    participation = IntegerField()
    late = IntegerField()  # a late check-in is worth this percent of a present one
    excused = CharField(max_length=8)  # omit (left out of the denominator) | absent | present
    ranks = BooleanField()  # students see a band (前 30 %) in 我的成绩

    class Meta:
        indexes = ((("classroom", "created_at"), False),)


MODELS.append(GradingRule)  # gradebook:


# The teaching team (handlers/team.py): the owner is Classroom.owner (no ClassStaff row); each assistant is a row.
OWNER, ASSISTANT = "owner", "assistant"


class Section(BaseModel):
    """A section (分组) of a class, e.g. one TA's tutorial group: its own 6-digit join code (never a class's code)."""

    classroom = ForeignKeyField(Classroom, on_delete="CASCADE")
    name = CharField(max_length=32)
    code = CharField(max_length=6, unique=True)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField()

    class Meta:
        indexes = ((("classroom", "name"), True),)


class ClassStaff(BaseModel):
    """A member of a class's teaching team other than its owner: an assistant (助教), who may run its lessons."""

    classroom = ForeignKeyField(Classroom, on_delete="CASCADE")
    user = ForeignKeyField(User, on_delete="CASCADE")
    role = CharField(max_length=16, default=ASSISTANT)  # "owner" | "assistant" (rows are assistants: see above)
    can_export = BooleanField(default=False)  # 助教权限 <n> 导出 开: may export identity data
    added_at = DateTimeField()
    added_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    # 助教分组 <n> <名称>: the assistant sees and marks only this section's students (handlers/sections.py)
    section = ForeignKeyField(Section, null=True, on_delete="CASCADE")  # (a section is never deleted alone)

    class Meta:
        indexes = ((("classroom", "user"), True), (("user", "classroom"), False))


class StaffInvite(BaseModel):
    """A one-time 添加助教 code: whoever sends `助教 <code>` before it expires joins the class's team."""

    classroom = ForeignKeyField(Classroom, on_delete="CASCADE")
    code = CharField(max_length=8, unique=True)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField()
    expires_at = DateTimeField(index=True)
    used_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    used_at = DateTimeField(null=True)


MODELS += [Section, ClassStaff, StaffInvite]  # team:


class Tally(BaseModel):
    """What is left of an archived class's records after its retention (handlers/privacy.py): counts only,
    per class (members), lesson (不懂, 点名) or activity (check-in statuses, quiz right/wrong, survey answers,
    discussion posts), never who."""

    classroom = ForeignKeyField(Classroom, on_delete="CASCADE")
    lesson = ForeignKeyField(Lesson, null=True, on_delete="CASCADE")
    activity = ForeignKeyField(Activity, null=True, on_delete="CASCADE")
    what = CharField(max_length=48)  # e.g. members, status:present, right:1, answer:B, posts, lost, roll_calls
    count = IntegerField()


MODELS.append(Tally)  # privacy:


class SectionSeat(BaseModel):
    """Who is in which section of a class (handlers/sections.py): a student who joined with the section's code
    (`user`), or a student number the staff assigned (`student_no`, before or after that student joins). A
    student's section is the seat of their number when there is one (the staff's word), else their own seat."""

    classroom = ForeignKeyField(Classroom, on_delete="CASCADE")
    section = ForeignKeyField(Section, on_delete="CASCADE")
    user = ForeignKeyField(User, null=True, on_delete="CASCADE")
    student_no = CharField(max_length=32, null=True)
    by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    at = DateTimeField()

    class Meta:
        indexes = ((("classroom", "user"), True), (("classroom", "student_no"), True))


MODELS.append(SectionSeat)  # sections:
