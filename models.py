"""Every table of Ketang; unique keys decide duplicates, never a check-then-insert."""

from __future__ import annotations

from peewee import (
    BooleanField,
    CharField,
    DatabaseProxy,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

db = DatabaseProxy()

STUDENT, TEACHER = "student", "teacher"
CHECKIN, QUIZ = "checkin", "quiz"
OPEN, CLOSED = "open", "closed"
PRESENT, LATE = "present", "late"
PENDING, SENT = "pending", "sent"


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


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

    @property
    def is_teacher(self) -> bool:
        return self.role == TEACHER

    @property
    def display_name(self) -> str:
        return self.name or f"未实名({self.openid[-4:]})"


class Classroom(BaseModel):
    name = CharField(max_length=64)
    code = CharField(max_length=6, unique=True)
    owner = ForeignKeyField(User, backref="owned_classes", on_delete="CASCADE")
    created_at = DateTimeField()


class Membership(BaseModel):
    user = ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    classroom = ForeignKeyField(Classroom, backref="memberships", on_delete="CASCADE")
    joined_at = DateTimeField()
    notices_seen_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("user", "classroom"), True),)


class Lesson(BaseModel):
    classroom = ForeignKeyField(Classroom, backref="lessons", on_delete="CASCADE")
    started_at = DateTimeField()
    ended_at = DateTimeField(null=True)
    # 1 while the lesson is open, NULL after: the unique key allows one open lesson per class.
    live = IntegerField(null=True, default=1)

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


class Response(BaseModel):
    activity = ForeignKeyField(Activity, backref="responses", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="responses", on_delete="CASCADE")
    answer = CharField(max_length=64, default="")
    status = CharField(max_length=16, default=PRESENT)
    created_at = DateTimeField()
    updated_at = DateTimeField()

    class Meta:
        indexes = ((("activity", "user"), True),)


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


# Pushes and the scheduler process (bot/push.py, bot/wechat_api.py, handlers/schedule.py).
UNREAD, READ = "unread", "read"  # kept for the student's next reply / shown with 公告
DROPPED, SKIPPED, FAILED = "dropped", "skipped", "failed"  # unsubscribed / no channel / gave up
ANNOUNCEMENT_KINDS = ("announcement",)  # kept unread when no channel reaches the student; others are skipped


class ScheduledAnnouncement(BaseModel):
    """An announcement to post at *due_at* (定时公告); the scheduler publishes it once."""

    classroom = ForeignKeyField(Classroom, backref="scheduled", on_delete="CASCADE")
    author = ForeignKeyField(User, on_delete="CASCADE")
    text = TextField()
    due_at = DateTimeField(index=True)
    created_at = DateTimeField()
    published_at = DateTimeField(null=True)


class WechatState(BaseModel):
    """Shared WeChat API state owned by the scheduler: the access token, a quota pause."""

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


MODELS = [User, Classroom, Membership, Lesson, Activity, Response, Announcement, InboundMessage, Outbox, Dialog, FailedAttempt]
MODELS += [ScheduledAnnouncement, WechatState, ClassQr]
