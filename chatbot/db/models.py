"""The schema. Idempotency lives here: unique keys on inbound interactions, deliveries, ratings."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from chatbot.addresses import Address

# A platform's id of a person (a Slack user id, a Teams Entra object id, a console name) where
# a table names who did something or whom it concerns: Teams' ids are longer than Slack's.
ACCOUNT_ID = 255

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        from datetime import UTC

        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}

    if TYPE_CHECKING:
        # Every model here is mapped to a Table (SQLAlchemy allows any FromClause): Core
        # statements on `Model.__table__` (the outbox's, the inbox's) type-check as such.
        __table__: ClassVar[Table]


class Person(Base):
    """One identity, whatever the platforms it uses: a name and a department (from configuration
    or the directory). How to reach them is an `Account` per platform."""

    __tablename__ = "people"
    # Links a person's accounts on several platforms when the directories give it.
    __table_args__ = (Index("ix_people_email", "email", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    department: Mapped[str | None] = mapped_column(String(100), index=True)
    first_seen: Mapped[datetime]

    accounts: Mapped[list[Account]] = relationship(back_populates="person", order_by="Account.id")


class Account(Base):
    """A person's account on one platform (Slack user id, Teams user id, console name), as the
    platform's directory lists it."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("platform", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[str] = mapped_column(String(512))
    name: Mapped[str | None] = mapped_column(String(200))
    # The e-mail address the platform's directory gives the account (lower case): what a person
    # named by e-mail in the configuration is recognised by, on this platform.
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    first_seen: Mapped[datetime]
    # From the platform's directory: an account that can be messaged (not a bot, deleted or guest).
    active: Mapped[bool] = mapped_column(default=False, index=True)
    synced_at: Mapped[datetime | None]

    person: Mapped[Person] = relationship(back_populates="accounts")


class Request(Base):
    """A request to IT (`TH-<id>`)."""

    __tablename__ = "requests"
    __table_args__ = (
        # The dashboard's range-and-department aggregates, and App Home's "my latest requests".
        Index("ix_requests_department_created", "department", "created_at"),
        Index("ix_requests_requester_updated", "requester", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    requester: Mapped[str] = mapped_column(String(ACCOUNT_ID), index=True)
    logged_by: Mapped[str | None] = mapped_column(String(ACCOUNT_ID))
    intake_channel: Mapped[str] = mapped_column(String(16))  # techhelp|form|phone|email|walk-in
    # Asked by a message to the bot on a platform that also has the command (Slack's Messages
    # tab): the intake KPI's "<platform> DM" (`chatbot.reports.intake_channel`).
    by_message: Mapped[bool] = mapped_column(default=False)
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(100))
    urgency: Mapped[str] = mapped_column(String(16))
    queue: Mapped[str] = mapped_column(String(100))
    tier: Mapped[int] = mapped_column(Integer)
    service: Mapped[str | None] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(String(100), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)  # open|claimed|resolved
    assignee: Mapped[str | None] = mapped_column(String(ACCOUNT_ID))
    resolution: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    card_delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))

    events: Mapped[list[RequestEvent]] = relationship(
        back_populates="request", order_by="RequestEvent.id"
    )

    @property
    def ref(self) -> str:
        return f"TH-{self.id}"


class RequestEvent(Base):
    """Every change to a request: who, what, when."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    actor: Mapped[str] = mapped_column(String(ACCOUNT_ID))
    kind: Mapped[str] = mapped_column(
        String(32)
    )  # created|claimed|escalated|resolved|reopened|rated
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime]

    request: Mapped[Request] = relationship(back_populates="events")


class Rating(Base):
    """One satisfaction rating per request; a second click changes it."""

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), unique=True)
    rater: Mapped[str] = mapped_column(String(ACCOUNT_ID))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime] = mapped_column(index=True)


class Interaction(Base):
    """A log of every inbound interaction. `key` is unique, so a retried delivery is seen twice
    only here: the handler does not run a second time."""

    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))  # command|action|form|event
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(String(ACCOUNT_ID))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(index=True)


class InboxEvent(Base):
    """An event stored before its ack and handled after it (`chatbot.inbox`); deleted in the
    transaction that handles it. `key` is the interaction's: a retried delivery is stored once."""

    __tablename__ = "inbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    event: Mapped[dict[str, Any]] = mapped_column()
    received_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]  # claimed by a worker until then
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # that worker (`WorkerBeat.id`)
    # What the event is about, per person (a survey run): a newer event of the same subject
    # makes an older one still stored unnecessary (the last click a person made stands).
    subject: Mapped[str | None] = mapped_column(String(255), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class WorkerBeat(Base):
    """The registry of live workers (`chatbot.liveness`): each delivery and inbox worker of
    every process beats here every second; what a worker whose beat stopped had claimed is taken
    over by a live one at once, not when a lease runs out."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]


class RateBudget(Base):
    """A posting rate shared by every process (`chatbot.delivery.pacing`): the next free slot
    of the timeline, in seconds since the epoch; a process reserves a few slots at a time."""

    __tablename__ = "rate_budgets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_slot: Mapped[float] = mapped_column(Float)


class Delivery(Base):
    """The outbox: one row for everything the bot sends. Stored in the same transaction as the
    change that caused it; a worker sends it and records where it landed (the conversation and
    the platform's message id). It knows addresses and messages, not what they are about."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "not_before"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))  # post|update|home|upload
    # The destination (`chatbot.addresses.Address`): person, channel or thread, with its id.
    address_kind: Mapped[str] = mapped_column(String(16))
    address_id: Mapped[str] = mapped_column(String(512))
    thread_id: Mapped[str | None] = mapped_column(String(512))  # a thread address's message
    message: Mapped[dict[str, Any]] = mapped_column()
    thread_of: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    edit_of: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # pending|sending|sent|failed|cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # the worker sending it
    attempt_started: Mapped[datetime | None]
    in_doubt: Mapped[bool] = mapped_column(default=False)  # an attempt may have been delivered
    # A view (App Home) marked out of date: its owner builds the message when it is sent, so a
    # refresh costs one UPDATE and a burst of refreshes one build (`delivery.rebuild_later`).
    rebuild: Mapped[bool] = mapped_column(default=False)
    last_error: Mapped[str | None] = mapped_column(String(500))
    # Where it landed: the conversation (a person's direct-message channel, say) and the
    # platform's id of the message, which later edits and thread replies use.
    sent_conversation: Mapped[str | None] = mapped_column(String(512))
    message_id: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # The fan-out this copy belongs to (`alert:7`): its delivery count and report are a query.
    batch: Mapped[str | None] = mapped_column(String(64), index=True)


class Alert(Base):
    """An IT alert (`AL-<id>`). Each copy posted is an `AlertCopy`, so updating or resolving
    every copy is a query on the alert's own table."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    severity: Mapped[str] = mapped_column(String(16))  # outage|degraded|maintenance|info
    service: Mapped[str | None] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(ACCOUNT_ID))
    platform: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)  # scheduled|active|resolved
    # {"channels": bool, "everyone": bool, "departments": [names]}
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(index=True)
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    # Scheduled notices: posted by the clock at `post_at` (None: at once); a maintenance window
    # starting at `starts_at` gets a reminder in every copy's thread then (`window_noted_at`).
    post_at: Mapped[datetime | None]
    starts_at: Mapped[datetime | None]
    window_noted_at: Mapped[datetime | None]

    @property
    def ref(self) -> str:
        return f"AL-{self.id}"

    @property
    def posted_at(self) -> datetime:
        """When its copies went (or go) out: the scheduled time, or its creation."""
        return self.post_at or self.created_at


class AlertCopy(Base):
    """One copy of an alert: where it went and the delivery that posts it (edits and thread
    replies refer to that delivery)."""

    __tablename__ = "alert_copies"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # person | channel
    address_id: Mapped[str] = mapped_column(String(512))

    @property
    def address(self) -> Address:
        return Address(self.platform, self.kind, self.address_id)  # type: ignore[arg-type]


class AffectedVote(Base):
    """ "I'm affected" on an alert: one per person."""

    __tablename__ = "affected_votes"
    __table_args__ = (UniqueConstraint("alert_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(ACCOUNT_ID))
    # "alert": the button on the alert; "techhelp": a /techhelp request that followed the alert
    # instead of opening a duplicate (the deflection IT counts).
    source: Mapped[str] = mapped_column(String(16), default="alert")
    at: Mapped[datetime]
    # The platform of `user_id`'s account, where they are told the alert is resolved (None on
    # a vote from before it was recorded that no interaction names: the alert's platform).
    platform: Mapped[str | None] = mapped_column(String(16))


class ClockState(Base):
    """What the scheduler has done: the last time each schedule was run up to, and the lease of
    the one `chatbot clock` allowed to act (a second one waits instead of sending twice)."""

    __tablename__ = "clock_state"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[datetime | None]
    holder: Mapped[str | None] = mapped_column(String(100))


class Secret(Base):
    """Server secrets generated on first use (the key that signs buttons and hashes anonymous
    respondents, when `TECHHELP_SECRET_KEY` is not set)."""

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class Survey(Base):
    """A pulse check: a question, its options, an audience and a schedule. Each sending is a
    `SurveyRun`; a one-off survey has one run, a recurring one a run per fire time."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Surveys from the YAML configuration are found again by name ("config:<name>").
    name: Mapped[str | None] = mapped_column(String(100), unique=True)
    question: Mapped[str] = mapped_column(Text)  # a questionnaire's: its title
    options: Mapped[list[str]] = mapped_column(JSON)  # labels; "1".."5" for the scale
    scale: Mapped[bool] = mapped_column(default=True)  # options are scores 1..n: averages apply
    # {"everyone": true} | {"departments": [...]} | {"staff": true} | {"users": [...]}
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    schedule: Mapped[str | None] = mapped_column(String(100))  # crontab; None: one-off
    timezone: Mapped[str] = mapped_column(String(64))
    anonymous: Mapped[bool] = mapped_column(default=True)
    reminder_hours: Mapped[float | None]
    close_hours: Mapped[float]
    author: Mapped[str] = mapped_column(String(ACCOUNT_ID))
    platform: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))  # command|form|config|cli
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    # A questionnaire's items (None: a one-question pulse, `question` and `options` above):
    # [{"id", "question", "kind": scale|choice|comment, "options", "section"}]. Answers are
    # counted per item (`SurveyTally.item`); `id` carries an item's trend across wordings.
    items: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    @property
    def ref(self) -> str:
        return f"PS-{self.id}"


class SurveyRun(Base):
    """One sending of a survey, keyed (survey, scheduled time): a double tick cannot send it
    twice. `state`: scheduled → open → closed."""

    __tablename__ = "survey_runs"
    __table_args__ = (
        UniqueConstraint("survey_id", "scheduled_for"),
        Index("ix_survey_runs_due", "state", "scheduled_for"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    scheduled_for: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime | None] = mapped_column(index=True)  # the dashboard's date range
    remind_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    closes_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    # Recipients per department ("" for none), for response rates per department.
    recipients_by_department: Mapped[dict[str, Any]] = mapped_column(default=dict)
    held_back: Mapped[int] = mapped_column(Integer, default=0)  # over the contact budget
    # A questionnaire's items as this run was sent (the survey's may change by the next run):
    # its counts per item index are read under these. None: a pulse, or sent before 0018.
    items: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    survey: Mapped[Survey] = relationship()


class SurveyRecipient(Base):
    """Who a run was sent to, and whether they answered: never what. `version` counts their
    answers (0: not yet); the buttons they hold carry it signed, so only their latest message can
    change their answer. The option is kept here only for named surveys."""

    __tablename__ = "survey_recipients"

    run_id: Mapped[int] = mapped_column(ForeignKey("survey_runs.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(ACCOUNT_ID), primary_key=True)
    # The platform of the account `user_id` names: reminders go to it. (An account id names
    # one account whatever the platform: Slack's `U…`, Teams' Entra object ids, console names.)
    platform: Mapped[str] = mapped_column(String(16))
    department: Mapped[str] = mapped_column(String(100), default="")  # "" for none
    version: Mapped[int] = mapped_column(Integer, default=0)
    option: Mapped[int | None] = mapped_column(Integer)  # named surveys only


class SurveyTally(Base):
    """The answers of a run as counts per department and option: no row per answer, so there is
    no order, id or time of an answer to match to a person. Every row of a run is created when it
    is sent, and a click rewrites every option of the person's department, whichever it chose."""

    __tablename__ = "survey_tallies"

    run_id: Mapped[int] = mapped_column(ForeignKey("survey_runs.id"), primary_key=True)
    # A questionnaire's item (its index in `Survey.items`); 0 for a one-question pulse.
    item: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    department: Mapped[str] = mapped_column(String(100), primary_key=True)  # "" for none
    option: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class SurveyCommentBox(Base):
    """A run's comments in one row: {hash of the ballot token: {"text", "user"}}, keys sorted, so
    neither storage order nor a row per comment says when a comment came. The ballot token is
    random, drawn at a person's first answer and kept only in their own message's signed
    buttons; "user" is set on named surveys only."""

    __tablename__ = "survey_comments"

    run_id: Mapped[int] = mapped_column(ForeignKey("survey_runs.id"), primary_key=True)
    comments: Mapped[dict[str, Any]] = mapped_column(default=dict)


class TeamsConversation(Base):
    """A Microsoft Teams conversation reference, recorded from `installationUpdate`,
    `conversationUpdate` and messages (or made by creating a 1:1 conversation): what a proactive
    message needs. `kind` is "person" (`ref`: their Entra object id; the 1:1 conversation and
    their Bot Framework id `29:…`), "channel" (`ref`: the channel's conversation id) or "team"
    (`ref`: the team id, whose roster is the Teams directory)."""

    __tablename__ = "teams_conversations"
    __table_args__ = (UniqueConstraint("kind", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # person | channel | team
    ref: Mapped[str] = mapped_column(String(512))
    conversation_id: Mapped[str] = mapped_column(String(512))
    service_url: Mapped[str] = mapped_column(String(512))
    tenant_id: Mapped[str | None] = mapped_column(String(128))
    user_id: Mapped[str | None] = mapped_column(String(512))  # a person's `29:…` id
    name: Mapped[str | None] = mapped_column(String(200))
    installed: Mapped[bool] = mapped_column(default=True)  # False once the app is removed
    updated_at: Mapped[datetime]


class TeamsSend(Base):
    """Where a Teams post landed, committed the moment the Bot Connector answers, before the
    outbox records its round: a send found here is never posted again (Teams has no
    idempotency key and no way to read a conversation back)."""

    __tablename__ = "teams_sends"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)  # the delivery's key
    conversation_id: Mapped[str] = mapped_column(String(512))
    activity_id: Mapped[str] = mapped_column(String(512))
    at: Mapped[datetime]


class LiaisonMeeting(Base):
    """A check-in of a department's IT liaison with the department, as recorded by IT staff
    (`/liaison note`). For IT alone: never shown outside staff and admins."""

    __tablename__ = "liaison_meetings"
    __table_args__ = (Index("ix_liaison_meetings_department_met", "department", "met_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department: Mapped[str] = mapped_column(String(100))
    met_on: Mapped[date] = mapped_column(Date)
    attendees: Mapped[str] = mapped_column(Text)
    discussed: Mapped[str] = mapped_column(Text)
    platform: Mapped[str] = mapped_column(String(16))
    recorded_by: Mapped[str] = mapped_column(String(ACCOUNT_ID))
    recorded_at: Mapped[datetime]


class LiaisonAsk(Base):
    """What a department plans or asks IT for, tagged with a theme: the planning view's rows."""

    __tablename__ = "liaison_asks"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("liaison_meetings.id"), index=True)
    department: Mapped[str] = mapped_column(String(100), index=True)
    met_on: Mapped[date] = mapped_column(Date, index=True)
    theme: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)


class LiaisonFollowUp(Base):
    """A follow-up of a check-in: its owner (a configured-style entry, an id on `platform` or
    an e-mail) is reminded on its due date (`reminded_at`) and marks it done from the message."""

    __tablename__ = "liaison_follow_ups"
    __table_args__ = (Index("ix_liaison_follow_ups_open_due", "done_at", "due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("liaison_meetings.id"), index=True)
    department: Mapped[str] = mapped_column(String(100), index=True)
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(512))
    platform: Mapped[str] = mapped_column(String(16))
    due_on: Mapped[date] = mapped_column(Date)
    reminded_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(ACCOUNT_ID))


class LiaisonBriefing(Base):
    """A briefing stored for a department's check-in due on `due_on`: once, whatever the ticks
    or restarts (the key of the schedule the clock asks the database about)."""

    __tablename__ = "liaison_briefings"

    department: Mapped[str] = mapped_column(String(100), primary_key=True)
    due_on: Mapped[date] = mapped_column(Date, primary_key=True)
    sent_at: Mapped[datetime]


# --- rollups: the dashboard's figures, kept by the database's triggers (`chatbot.db.rollups`) ---
# A day is the UTC date (YYYY-MM-DD) a request was created (a rating: rated); a department is ""
# for none. Counts may be zero where rows moved away.


class RollupRequestCategory(Base):
    """Requests created per day, department and category."""

    __tablename__ = "rollup_request_categories"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    department: Mapped[str] = mapped_column(String(100), primary_key=True)
    category: Mapped[str] = mapped_column(String(100), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)


class RollupRequestIntake(Base):
    """Requests created per day, department and intake (platform, intake channel, by message):
    how many, how many are resolved, and how many of those are rated."""

    __tablename__ = "rollup_request_intake"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    department: Mapped[str] = mapped_column(String(100), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    intake_channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    by_message: Mapped[bool] = mapped_column(primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    resolved: Mapped[int] = mapped_column(Integer, default=0)
    rated: Mapped[int] = mapped_column(Integer, default=0)


class RollupRequestState(Base):
    """Requests per department, state and tier, now."""

    __tablename__ = "rollup_request_states"

    department: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), primary_key=True)
    tier: Mapped[int] = mapped_column(Integer, primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)


class RollupRating(Base):
    """Ratings per day rated and department of the request: how many, and their scores' sum."""

    __tablename__ = "rollup_ratings"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    department: Mapped[str] = mapped_column(String(100), primary_key=True)
    ratings: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[int] = mapped_column(Integer, default=0)


class RollupDuration(Base):
    """How many requests took so long (`minutes`, a step of `chatbot.db.rollups.STEPS`) to a
    first response or to resolution (`kind`), per urgency, per day or per week of creation
    (`period`, `start`), per department (`scope` "department") or for every one (`scope` "*",
    department "")."""

    __tablename__ = "rollup_durations"

    period: Mapped[str] = mapped_column(String(8), primary_key=True)  # day | week
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    department: Mapped[str] = mapped_column(String(100), primary_key=True)
    start: Mapped[str] = mapped_column(String(10), primary_key=True)
    urgency: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    minutes: Mapped[int] = mapped_column(Integer, primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)


class SearchDocument(Base):
    """A document of the full-text index (`chatbot.search`): what a capability wants found.
    SQLite indexes it in the FTS5 table `search_fts` (kept in step by triggers), PostgreSQL in
    an expression GIN index; both are made by the migration, not by these models."""

    __tablename__ = "search_documents"
    __table_args__ = (
        UniqueConstraint("kind", "key"),
        # What changed last, per kind: the scorer's cheap "is my model current?" question.
        Index("ix_search_documents_kind_updated", "kind", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # "kb": an article; other capabilities' own
    key: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(Text)
    keywords: Mapped[str] = mapped_column(Text)  # " ; "-joined
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class KbArticle(Base):
    """A knowledge-base article: from the `TECHHELP_KB` folder (`source` "folder", `slug` its
    file's path there) or saved by staff from a resolved request ("request"). A withdrawn
    article (its file removed) stays, for the history of what was suggested."""

    __tablename__ = "kb_articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(255), unique=True)
    source: Mapped[str] = mapped_column(String(16))  # folder | request
    state: Mapped[str] = mapped_column(String(16), index=True)  # published | draft | withdrawn
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    service: Mapped[str | None] = mapped_column(String(100))
    digest: Mapped[str | None] = mapped_column(String(64))  # of the file, to skip unchanged ones
    from_request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"))
    created_by: Mapped[str | None] = mapped_column(String(ACCOUNT_ID))
    published_by: Mapped[str | None] = mapped_column(String(ACCOUNT_ID))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @property
    def ref(self) -> str:
        return f"KB-{self.id}"


class KbSuggestion(Base):
    """An article suggested with a request's confirmation, and what the person did with it."""

    __tablename__ = "kb_suggestions"
    __table_args__ = (UniqueConstraint("request_id", "article_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1 = first suggested
    created_at: Mapped[datetime] = mapped_column(index=True)
    shown_at: Mapped[datetime | None]  # "Show" pressed
    # "This solved it" pressed: the request is self-served
    solved_at: Mapped[datetime | None] = mapped_column(index=True)


class KbLookup(Base):
    """A search of the knowledge base: a request's text at intake or `/techhelp search`, with
    how many articles it found (none: a content gap to write next)."""

    __tablename__ = "kb_lookups"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # request | search
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(ACCOUNT_ID))
    department: Mapped[str | None] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    found: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"))
    at: Mapped[datetime] = mapped_column(index=True)
