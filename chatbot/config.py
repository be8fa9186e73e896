"""Settings from the environment (and `.env`), plus the optional YAML file named by TECHHELP_CONFIG.

Everything is built explicitly by `load_settings()`; nothing reads the environment at import time.
Tests build settings from a dict with `Settings.from_values(values)`, which reads neither the
environment nor `.env` (Flask's `create_app(test_config)`), and never patch `os.environ`.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from chatbot.addresses import LOCAL, Address

if TYPE_CHECKING:
    from microsoft_teams.api.auth.cloud_environment import CloudEnvironment

Urgency = Literal["low", "normal", "high", "critical"]
URGENCIES: tuple[Urgency, ...] = ("low", "normal", "high", "critical")
TIERS: tuple[int, ...] = (1, 2, 3)


class ConfigError(Exception):
    """The configuration cannot be used; the message names the field."""


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    keywords: list[str] = []
    queue: str = "Service Desk"
    tier: Annotated[int, Field(ge=1, le=3)] = 1
    urgency: Urgency = "normal"


class UrgencyRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    urgency: Urgency
    keywords: list[str]


def is_email(entry: str) -> bool:
    """An entry of a list of people that names them by e-mail address, not by a platform's id."""
    return "@" in entry


def listed(entries: list[str], user_id: str, email: str | None = None) -> bool:
    """Whether a list of people (ids on one platform, and e-mail addresses, which name a person
    on any platform) holds the account `user_id` whose directory e-mail is `email`."""
    if user_id in entries:
        return True
    if not email:
        return False
    email = email.lower()
    return any(is_email(entry) and entry.lower() == email for entry in entries)


def parse_cadence(value: str) -> str:
    """A check-in cadence in its one spelling: `weekly`, `monthly`, `quarterly` or `every N
    weeks` (N from 1 to 52). ValueError naming the accepted forms otherwise."""
    words = value.strip().lower().split()
    if len(words) == 1 and words[0] in ("weekly", "monthly", "quarterly"):
        return words[0]
    every = len(words) == 3 and words[0] == "every" and words[2] in ("week", "weeks")
    if every and words[1].isdigit() and 1 <= int(words[1]) <= 52:
        return f"every {int(words[1])} weeks"
    raise ValueError(
        f"unknown cadence {value!r}: use weekly, monthly, quarterly or every N weeks (N 1-52)"
    )


class Department(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    # The service delivery manager: an id on the TECHHELP_* platform, or an e-mail address.
    manager: str | None = None
    # The IT liaison (IT staff, named like `manager`) and how often they meet the department
    # (`weekly`, `monthly`, `quarterly`, `every N weeks`): the client liaison program.
    liaison: str | None = None
    cadence: str | None = None
    members: list[str] = []  # ids on the TECHHELP_* platform, or e-mail addresses

    @field_validator("cadence")
    @classmethod
    def _cadence(cls, value: str | None) -> str | None:
        return None if value is None else parse_cadence(value)


class LiaisonSettings(BaseModel):
    """The client liaison program's timing."""

    model_config = ConfigDict(extra="forbid")

    # The liaison's briefing goes this many days before a check-in is due (0: on the day).
    briefing_days: Annotated[int, Field(ge=0, le=60)] = 3
    # When overdue check-ins are listed in the IT channel (crontab in `timezone`).
    overdue_report: str = "0 9 * * mon"

    @field_validator("overdue_report")
    @classmethod
    def _crontab(cls, value: str) -> str:
        return _check_crontab(value)


class Queue(BaseModel):
    """A queue's own people: besides `staff` and the admins, who may act on its cards."""

    model_config = ConfigDict(extra="forbid")

    name: str
    members: list[str] = []


class ServiceTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_response_minutes: Annotated[int, Field(gt=0)]
    resolution_hours: Annotated[float, Field(gt=0)]


def _default_categories() -> list[Category]:
    return [
        Category(
            name="Hardware",
            keywords=["printer", "laptop", "monitor", "mouse", "keyboard", "dock", "headset"],
        ),
        Category(
            name="Accounts & Access",
            keywords=["password", "login", "log in", "locked", "mfa", "2fa", "access", "account"],
            urgency="high",
        ),
        Category(
            name="Network",
            keywords=["wifi", "wi-fi", "vpn", "network", "internet", "connection"],
            tier=2,
        ),
        Category(
            name="Email & Calendar",
            keywords=["email", "e-mail", "outlook", "calendar", "mailbox", "inbox"],
        ),
        Category(
            name="Software",
            keywords=["install", "software", "license", "licence", "app", "excel", "update"],
        ),
        Category(
            name="New system or project",
            keywords=["new system", "project", "build", "we need a", "solution"],
            queue="Business Relationship",
            tier=3,
            urgency="low",
        ),
    ]


def _default_urgency_rules() -> list[UrgencyRule]:
    return [
        UrgencyRule(
            urgency="critical", keywords=["outage", "everyone", "all users", "whole office"]
        ),
        UrgencyRule(
            urgency="high", keywords=["urgent", "asap", "down", "can't work", "cannot work"]
        ),
        UrgencyRule(urgency="low", keywords=["when you can", "no rush", "how do i", "question"]),
    ]


def _default_targets() -> dict[Urgency, ServiceTarget]:
    return {
        "critical": ServiceTarget(first_response_minutes=15, resolution_hours=4),
        "high": ServiceTarget(first_response_minutes=60, resolution_hours=8),
        "normal": ServiceTarget(first_response_minutes=240, resolution_hours=24),
        "low": ServiceTarget(first_response_minutes=480, resolution_hours=72),
    }


def _default_service_keywords() -> dict[str, list[str]]:
    return {
        "Email": ["e-mail", "outlook", "mailbox", "inbox"],
        "VPN": ["remote access", "globalprotect", "anyconnect"],
        "Wi-Fi": ["wifi", "wireless"],
        "Printing": ["printer", "printers", "print"],
        "Phones": ["phone", "voicemail", "desk phone"],
    }


class Outreach(BaseModel):
    """A recurring message about the single point of intake, posted by `chatbot clock`."""

    model_config = ConfigDict(extra="forbid")

    name: str
    channels: list[str]
    schedule: str  # crontab: minute hour day month weekday, in `timezone`
    template: str = "techhelp/help.md.j2"
    # The platform whose channel ids `channels` are (default: `techhelp_platform`'s): an
    # organisation on Slack and Teams lists an outreach per platform.
    platform: str | None = None

    @field_validator("schedule")
    @classmethod
    def _crontab(cls, value: str) -> str:
        return _check_crontab(value)


def _check_crontab(value: str) -> str:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value)
    except ValueError as exc:
        raise ValueError(f"not a crontab schedule ({exc})") from None
    return value


# Named recurrences for surveys (at 09:00 local unless a crontab is given).
RECURRENCES: dict[str, str] = {
    "weekly": "0 9 * * mon",
    "monthly": "0 9 1 * *",
    "quarterly": "0 9 1 1,4,7,10 *",
    "yearly": "0 9 15 1 *",
}


class SurveyAudience(BaseModel):
    """Who gets a survey: everyone, IT staff, departments, the departments' managers, or a list
    of people (any of them together)."""

    model_config = ConfigDict(extra="forbid")

    everyone: bool = False
    staff: bool = False
    departments: list[str] = []
    users: list[str] = []
    managers: bool = False  # the `manager` of each department (of `departments`, when given)

    @model_validator(mode="after")
    def _someone(self) -> SurveyAudience:
        if not (self.everyone or self.staff or self.departments or self.users or self.managers):
            raise ValueError("choose everyone, staff, departments, managers or users")
        return self


ITEM_KINDS = ("scale", "choice", "comment")
MAX_ITEMS = 20


class SurveyItemConfig(BaseModel):
    """One item of a questionnaire: a 1–5 scale, a single choice among `options`, or a free
    comment; `section` groups items under a heading; `id` names the item across years, so a
    reworded item keeps its trend (default: its question)."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    question: Annotated[str, Field(min_length=1, max_length=500)]
    kind: Literal["scale", "choice", "comment"] | None = None  # default: choice when options
    options: list[Annotated[str, Field(min_length=1, max_length=75)]] = []
    section: Annotated[str, Field(min_length=1, max_length=100)] | None = None

    @field_validator("options")
    @classmethod
    def _option_count(cls, value: list[str]) -> list[str]:
        if value and not 2 <= len(value) <= 10:
            raise ValueError(f"give 2 to 10 options (this item has {len(value)})")
        if len(set(value)) != len(value):
            raise ValueError("the options must differ from each other")
        return value

    @model_validator(mode="after")
    def _kind(self) -> SurveyItemConfig:
        if self.kind is None:
            self.kind = "choice" if self.options else "scale"
        if self.kind == "choice" and not self.options:
            raise ValueError("a choice item needs 2 to 10 options")
        if self.kind != "choice" and self.options:
            raise ValueError(f"a {self.kind} item takes no options")
        return self

    def stored(self) -> dict[str, Any]:
        """As `Survey.items` keeps it."""
        return {
            "id": self.id or self.question,
            "question": self.question,
            "kind": self.kind,
            "options": list(self.options),
            "section": self.section,
        }


class SurveyConfig(BaseModel):
    """A recurring pulse check from the configuration, sent by `chatbot clock`."""

    model_config = ConfigDict(extra="forbid")

    name: str
    # A one-question pulse's question; a questionnaire's title (default: its name).
    question: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    options: list[Annotated[str, Field(min_length=1, max_length=75)]] = []  # empty: 1–5 scale
    # A questionnaire (up to 20 items) instead of one question.
    items: Annotated[list[SurveyItemConfig], Field(max_length=MAX_ITEMS)] | None = None
    audience: SurveyAudience = Field(default_factory=lambda: SurveyAudience(everyone=True))
    # weekly | monthly | quarterly | yearly | a crontab, in `timezone`; none: sent only by
    # `chatbot survey send --name NAME`.
    schedule: str | None = None
    anonymous: bool = True
    reminder_hours: Annotated[float, Field(gt=0)] | None = 24
    close_hours: Annotated[float, Field(gt=0)] = 72

    @field_validator("options")
    @classmethod
    def _option_count(cls, value: list[str]) -> list[str]:
        if value and not 2 <= len(value) <= 10:
            raise ValueError("give 2 to 10 options, or none for the 1–5 scale")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return RECURRENCES.get(value.strip().lower()) or _check_crontab(value)

    @model_validator(mode="after")
    def _question_or_items(self) -> SurveyConfig:
        if self.items is not None:
            if not self.items:
                raise ValueError("items: a questionnaire needs at least one item")
            if self.options:
                raise ValueError("options: a questionnaire's options belong to its items")
            ids = [item.id or item.question for item in self.items]
            if len(ids) != len(set(ids)):
                raise ValueError("items: each item needs its own question or id")
        elif not self.question:
            raise ValueError("question: give a question, or items for a questionnaire")
        return self

    @property
    def title(self) -> str:
        return self.question or self.name

    @field_validator("close_hours")
    @classmethod
    def _reminder_first(cls, value: float, info: ValidationInfo) -> float:
        # As `/pulse` refuses it; caught here, it stops start-up instead of every clock tick.
        reminder = info.data.get("reminder_hours")
        if reminder is not None and reminder >= value:
            raise ValueError("must be later than reminder_hours: the reminder comes first")
        return value


class PulseSettings(BaseModel):
    """Privacy and fatigue limits of pulse checks."""

    model_config = ConfigDict(extra="forbid")

    min_group_size: Annotated[int, Field(ge=1)] = 3  # fewer answers: no score is shown
    min_comments: Annotated[int, Field(ge=1)] = 5  # fewer comments: none are shown
    # Unsolicited direct messages (surveys, reminders) per person per 7 days; alerts bypass it.
    weekly_contact_budget: Annotated[int, Field(ge=1)] = 3
    # Defaults of `/pulse send` and of the form.
    reminder_hours: Annotated[float, Field(gt=0)] | None = 24
    close_hours: Annotated[float, Field(gt=0)] = 72


class Routing(BaseModel):
    """The YAML file's content: who handles what, and how requests are recognised."""

    model_config = ConfigDict(extra="forbid")

    default_category: str = "General"
    categories: list[Category] = Field(default_factory=_default_categories)
    urgency_rules: list[UrgencyRule] = Field(default_factory=_default_urgency_rules)
    departments: list[Department] = []
    # The service desk (may log requests for others): ids on the TECHHELP_* platform, or e-mail
    # addresses (a person's account on any platform whose directory gives that address).
    staff: list[str] = []
    # Optional: the members of a queue act on the cards of that queue's requests only.
    queues: list[Queue] = []
    service_targets: dict[Urgency, ServiceTarget] = Field(default_factory=_default_targets)
    services: list[str] = ["Email", "VPN", "Wi-Fi", "Printing", "Phones", "HR system", "Other"]
    # Words that name a service in a request: while an alert about it is active, a /techhelp
    # request using one is offered "this looks like known issue AL-n".
    service_keywords: dict[str, list[str]] = Field(default_factory=_default_service_keywords)
    timezone: str = "UTC"
    outreach: list[Outreach] = []
    pulse: PulseSettings = Field(default_factory=PulseSettings)
    surveys: list[SurveyConfig] = []
    # The weekly digest to TECHHELP_IT_CHANNEL (crontab in `timezone`); null turns it off.
    digest: str | None = "0 8 * * mon"
    liaison: LiaisonSettings = Field(default_factory=LiaisonSettings)

    @field_validator("digest")
    @classmethod
    def _digest_crontab(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"not a crontab schedule ({exc})") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> Routing:
        names = [c.name for c in self.categories]
        if len(names) != len(set(names)):
            raise ValueError("category names must be unique")
        surveys = [s.name for s in self.surveys]
        if len(surveys) != len(set(surveys)):
            raise ValueError("survey names must be unique")
        routed = {c.queue for c in self.categories} | {self.category(self.default_category).queue}
        for queue in self.queues:
            if queue.name not in routed:
                raise ValueError(
                    f"queues: no category is routed to queue {queue.name!r} "
                    f"(the queues are: {', '.join(sorted(routed))})"
                )
        queues = [q.name for q in self.queues]
        if len(queues) != len(set(queues)):
            raise ValueError("queue names must be unique")
        return self

    def category(self, name: str) -> Category:
        for category in self.categories:
            if category.name == name:
                return category
        return Category(name=self.default_category)

    def department_of(self, user_id: str, email: str | None = None) -> Department | None:
        """The department that lists the account `user_id` (or its directory e-mail)."""
        for department in self.departments:
            if listed(department.members, user_id, email):
                return department
        return None

    @property
    def names_emails(self) -> bool:
        """Whether any list of people names someone by e-mail (else no lookup is needed)."""
        people = [*self.staff, *(m for q in self.queues for m in q.members)]
        people += [
            m for d in self.departments for m in (*d.members, d.manager or "", d.liaison or "")
        ]
        return any(is_email(entry) for entry in people)


def _split_ids(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return list(value)


CsvList = Annotated[list[str], NoDecode]

# A dashboard token shorter than this, or of fewer distinct characters, stops start-up: it
# could be guessed (a 2-character one fell in 394 tries).
MIN_TOKEN_LENGTH = 32
MIN_TOKEN_SYMBOLS = 12


_EXPLICIT: ContextVar[bool] = ContextVar("explicit_settings", default=False)


class PlatformIds(BaseModel):
    """The channels and admins of one platform, as that platform names them."""

    triage_channel: str | None = None
    alert_channels: list[str] = []
    it_channel: str | None = None
    admins: list[str] = []

    @property
    def configured(self) -> bool:
        return bool(self.triage_channel or self.alert_channels or self.it_channel or self.admins)


# TEAMS_CLOUD's values (the Teams SDK's `cloud_environment.from_name` names) and each cloud's
# Bot Connector URL for proactive messages to a conversation not heard from yet (Microsoft's
# published endpoints: "Send proactive messages", and the Agents SDK's TeamsServiceEndpoints).
# Microsoft publishes none for China (21Vianet): there TEAMS_SERVICE_URL is required.
TEAMS_CLOUDS = ("Public", "USGov", "USGovDoD", "China")
TEAMS_SERVICE_URLS = {
    "Public": "https://smba.trafficmanager.net/teams/",
    "USGov": "https://smba.infra.gov.teams.microsoft.us/teams/",
    "USGovDoD": "https://smba.infra.dod.teams.microsoft.us/teams/",
}

# Platforms configured by variables of their own (`TEAMS_TRIAGE_CHANNEL`, …) beside the
# TECHHELP_* ones, which name ids on `techhelp_platform`. Adding one is its four settings below
# and a line here.
EXTRA_PLATFORMS: tuple[str, ...] = ("teams",)


class Settings(BaseSettings):
    """Process settings. Names match the environment variables in the README."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = "sqlite:///techhelp.db"
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    port: int = 3000
    techhelp_triage_channel: str | None = None
    techhelp_alert_channels: CsvList = []
    techhelp_it_channel: str | None = None
    techhelp_admins: CsvList = []
    # The platform whose ids TECHHELP_TRIAGE_CHANNEL, _ALERT_CHANNELS, _IT_CHANNEL, _ADMINS and
    # the YAML's staff and departments hold ("console" in `chatbot shell`).
    techhelp_platform: str = "slack"
    # Microsoft Teams (`chatbot.platforms.teams`): the bot's Entra app registration and its
    # cloud; the three URLs override the cloud's endpoints (tests, clouds the SDK does not know).
    teams_client_id: str | None = None
    teams_client_secret: str | None = None
    teams_tenant_id: str | None = None
    teams_cloud: str = "Public"
    teams_login_endpoint: str | None = None
    teams_openid_metadata_url: str | None = None
    teams_service_url: str | None = None
    teams_triage_channel: str | None = None
    teams_alert_channels: CsvList = []
    teams_it_channel: str | None = None
    teams_admins: CsvList = []
    # Signs survey buttons and keys anonymous respondents; unset: a random key is generated and
    # stored in the database (`secrets`) on first use.
    techhelp_secret_key: str | None = None
    techhelp_config: Path | None = None
    techhelp_rating_delay: Annotated[float, Field(ge=0)] = 0
    # Self-service: the folder of Markdown articles, and how long a request's triage card waits
    # while its suggested articles are open (seconds; 0: it is posted at once).
    techhelp_kb: Path | None = None
    techhelp_kb_grace: Annotated[float, Field(ge=0)] = 120
    techhelp_dashboard_token: str | None = None
    # The reverse proxy (an address, or `*`) whose X-Forwarded-Proto and X-Forwarded-For
    # `chatbot serve` believes; from anyone else those headers are dropped.
    techhelp_trusted_proxy: str | None = None
    # When set, GET /metrics asks for `Authorization: Bearer <this>`.
    techhelp_metrics_token: str | None = None
    # Satisfaction figures of a group (a department, a week) with fewer answers are hidden.
    techhelp_min_group: Annotated[int, Field(ge=1)] = 3
    web_threads: Annotated[int, Field(ge=4)] = 48
    delivery_concurrency: Annotated[int, Field(ge=1)] = 4
    # Pace chat.postMessage below Slack's workspace limit ("several hundred a minute"); unset:
    # send as fast as Slack answers and honour its 429s.
    delivery_rate: Annotated[float, Field(gt=0)] | None = None
    delivery_lease_seconds: Annotated[float, Field(gt=0)] = (
        60  # a send that outlives it is in doubt
    )
    console_user: str = "UCONSOLE"
    # "I'm affected" counts reach an alert's copies at most once per this many seconds.
    alert_count_interval: Annotated[float, Field(gt=0)] = 15

    routing: Routing = Field(default_factory=Routing)

    _split = field_validator(
        "techhelp_alert_channels",
        "techhelp_admins",
        "teams_alert_channels",
        "teams_admins",
        mode="before",
    )(_split_ids)

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Settings:
        """Settings from these values and the defaults alone: not the environment, not `.env`
        (a test's configuration, whatever the machine running it has set)."""
        token = _EXPLICIT.set(True)
        try:
            return cls(**values)
        finally:
            _EXPLICIT.reset(token)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        if _EXPLICIT.get():
            return (init_settings,)
        return (init_settings, env_settings, dotenv_settings, file_secret_settings)

    @field_validator("techhelp_dashboard_token")
    @classmethod
    def _strong_token(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None  # the dashboard is closed
        if len(value) < MIN_TOKEN_LENGTH or len(set(value)) < MIN_TOKEN_SYMBOLS:
            raise ValueError(
                f"TECHHELP_DASHBOARD_TOKEN is too weak: use at least {MIN_TOKEN_LENGTH} random "
                "characters, e.g. the output of "
                '`python -c "import secrets; print(secrets.token_urlsafe(32))"`'
            )
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @property
    def slack_configured(self) -> bool:
        return bool(self.slack_bot_token)

    @field_validator("teams_cloud")
    @classmethod
    def _teams_cloud(cls, value: str) -> str:
        names = {name.lower(): name for name in TEAMS_CLOUDS}
        if value.lower() not in names:
            raise ValueError(
                f"TEAMS_CLOUD must be one of {', '.join(TEAMS_CLOUDS)} (got {value!r})"
            )
        return names[value.lower()]

    @field_validator("teams_login_endpoint", "teams_openid_metadata_url", "teams_service_url")
    @classmethod
    def _teams_https(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        variable = (info.field_name or "").upper()
        if parts.scheme != "https" or not parts.netloc:
            raise ValueError(f"{variable} must be an https:// URL (got {value!r})")
        if info.field_name == "teams_login_endpoint":
            return value.rstrip("/")
        return value

    @model_validator(mode="after")
    def _teams_complete(self) -> Settings:
        given = [
            name
            for name in ("teams_client_id", "teams_client_secret", "teams_tenant_id")
            if getattr(self, name)
        ]
        if given and len(given) < 3:
            missing = [
                name.upper()
                for name in ("teams_client_id", "teams_client_secret", "teams_tenant_id")
                if not getattr(self, name)
            ]
            raise ValueError(
                f"{', '.join(missing)} not set: Teams needs TEAMS_CLIENT_ID, "
                "TEAMS_CLIENT_SECRET and TEAMS_TENANT_ID together"
            )
        if given and self.teams_service_url is None and self.teams_cloud not in TEAMS_SERVICE_URLS:
            raise ValueError(
                f"TEAMS_SERVICE_URL not set: Microsoft publishes no default Bot Connector URL "
                f"for TEAMS_CLOUD={self.teams_cloud}; set the one your tenant's activities carry"
            )
        if given and not self.slack_configured and "techhelp_platform" not in self.model_fields_set:
            # Teams alone: the YAML's ids (staff, departments) and TECHHELP_* are Teams ids.
            self.techhelp_platform = "teams"
        return self

    @model_validator(mode="after")
    def _liaisons_are_staff(self) -> Settings:
        problems = liaison_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def teams_configured(self) -> bool:
        """The Teams endpoint and sender run: the app registration is complete."""
        return bool(self.teams_client_id and self.teams_client_secret and self.teams_tenant_id)

    def teams_cloud_environment(self) -> CloudEnvironment:
        """The cloud's endpoints (the Teams SDK's), with the TEAMS_* overrides applied."""
        from microsoft_teams.api.auth import cloud_environment

        return cloud_environment.with_overrides(
            cloud_environment.from_name(self.teams_cloud),
            login_endpoint=self.teams_login_endpoint,
            openid_metadata_url=self.teams_openid_metadata_url,
        )

    @property
    def teams_default_service_url(self) -> str:
        """The Bot Connector URL for proactive messages where no conversation gave one yet."""
        return self.teams_service_url or TEAMS_SERVICE_URLS[self.teams_cloud]

    def platform_ids(self) -> dict[str, PlatformIds]:
        """Channels and admins per platform: TECHHELP_* for `techhelp_platform`, then each
        platform of `EXTRA_PLATFORMS` with any of its own variables set."""
        found = {
            self.techhelp_platform: PlatformIds(
                triage_channel=self.techhelp_triage_channel,
                alert_channels=self.techhelp_alert_channels,
                it_channel=self.techhelp_it_channel,
                admins=self.techhelp_admins,
            )
        }
        for platform in EXTRA_PLATFORMS:
            ids = PlatformIds(
                triage_channel=getattr(self, f"{platform}_triage_channel"),
                alert_channels=getattr(self, f"{platform}_alert_channels"),
                it_channel=getattr(self, f"{platform}_it_channel"),
                admins=getattr(self, f"{platform}_admins"),
            )
            if platform == self.techhelp_platform:  # its own variables first, then TECHHELP_*
                base = found[platform]
                found[platform] = PlatformIds(
                    triage_channel=ids.triage_channel or base.triage_channel,
                    alert_channels=ids.alert_channels or base.alert_channels,
                    it_channel=ids.it_channel or base.it_channel,
                    admins=[*ids.admins, *base.admins],
                )
            elif ids.configured:
                found[platform] = ids
        return found

    def triage_channels(self) -> list[Address]:
        return [
            Address.channel(platform, ids.triage_channel)
            for platform, ids in self.platform_ids().items()
            if ids.triage_channel
        ]

    def alert_channels(self) -> list[Address]:
        return [
            Address.channel(platform, channel)
            for platform, ids in self.platform_ids().items()
            for channel in ids.alert_channels
        ]

    def it_channels(self) -> list[Address]:
        """Where survey results and digests go: each platform's IT channel, else its triage one."""
        return [
            Address.channel(platform, ids.it_channel or ids.triage_channel or "")
            for platform, ids in self.platform_ids().items()
            if ids.it_channel or ids.triage_channel
        ]

    @staticmethod
    def _prefer(addresses: list[Address], platform: str) -> Address | None:
        """The one of `platform` if there is one, else the first configured."""
        return next((a for a in addresses if a.platform == platform), None) or next(
            iter(addresses), None
        )

    def triage_channel(self, platform: str) -> Address | None:
        """The triage channel for a request from `platform`: its own, else the first one."""
        return self._prefer(self.triage_channels(), platform)

    def it_channel_for(self, platform: str) -> Address | None:
        return self._prefer(self.it_channels(), platform)

    @property
    def it_channel(self) -> str | None:
        return self.techhelp_it_channel or self.techhelp_triage_channel

    # Who may do what. People are listed by their id on a platform (it means them on that
    # platform only: TECHHELP_ADMINS and the YAML's lists on `techhelp_platform`, TEAMS_ADMINS on
    # Teams) or by e-mail address, which means their account on any platform whose directory
    # gives the account that address (`email`: the caller looks it up, `chatbot.identity`).

    def _on(self, platform: str, entries: list[str], user_id: str, email: str | None) -> bool:
        """Listed by id on the platform those ids belong to, or by e-mail on any."""
        if platform == self.techhelp_platform and user_id in entries:
            return True
        return listed([e for e in entries if is_email(e)], user_id, email)

    def is_admin(self, platform: str, user_id: str, email: str | None = None) -> bool:
        if platform == LOCAL:
            # The operator at the command line (`chatbot alert …`, `chatbot survey …`): whoever
            # can run it reaches the database, so acts as an administrator. No adapter names
            # its events "local".
            return True
        ids = self.platform_ids().get(platform)
        if ids is not None and user_id in ids.admins:
            return True
        everywhere = [a for ids in self.platform_ids().values() for a in ids.admins if is_email(a)]
        return listed(everywhere, user_id, email)

    @property
    def names_emails(self) -> bool:
        """Whether anyone is named by e-mail (else no directory lookup is needed)."""
        admins = [a for ids in self.platform_ids().values() for a in ids.admins]
        return self.routing.names_emails or any(is_email(a) for a in admins)

    def is_staff(self, platform: str, user_id: str, email: str | None = None) -> bool:
        """The service desk: the YAML's `staff` and the admins."""
        staff = self._on(platform, self.routing.staff, user_id, email)
        return staff or self.is_admin(platform, user_id, email)

    def is_service_desk(
        self, platform: str, user_id: str, queue: str | None = None, email: str | None = None
    ) -> bool:
        """May act on a triage card: staff and admins on every card; a queue's members (listed
        like `staff`) on the cards of their queue (`queue` None: any)."""
        if self.is_staff(platform, user_id, email):
            return True
        return any(
            self._on(platform, q.members, user_id, email)
            for q in self.routing.queues
            if queue is None or q.name == queue
        )


def liaison_problems(settings: Settings) -> list[str]:
    """Each department whose liaison is not IT staff (the YAML's `staff`, or an admin), by the
    field that names them: a liaison reads the notes, which are for IT alone."""
    it_people = [*settings.routing.staff]
    it_people += [a for ids in settings.platform_ids().values() for a in ids.admins]
    lowered = {entry.lower() for entry in it_people if is_email(entry)}
    problems = []
    for index, department in enumerate(settings.routing.departments):
        liaison = department.liaison
        if liaison is None:
            continue
        if liaison in it_people or (is_email(liaison) and liaison.lower() in lowered):
            continue
        problems.append(
            f"departments.{index}.liaison: {liaison!r} ({department.name}) is not IT staff: "
            "list them under `staff` (or in TECHHELP_ADMINS)"
        )
    return problems


def _describe(error: ValidationError, source: str) -> str:
    lines = [f"invalid configuration in {source}:"]
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  {field}: {item['msg']}")
    return "\n".join(lines)


def load_routing(path: Path) -> Routing:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"TECHHELP_CONFIG: cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"TECHHELP_CONFIG: {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"TECHHELP_CONFIG: {path} must hold a mapping at the top level")
    try:
        return Routing.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, str(path))) from exc


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and `.env`, then the YAML file; `overrides` win."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, "the environment")) from exc
    if settings.techhelp_config and "routing" not in overrides:
        settings = settings.model_copy(update={"routing": load_routing(settings.techhelp_config)})
        problems = liaison_problems(settings)
        if problems:
            raise ConfigError(
                f"invalid configuration in {settings.techhelp_config}:\n  " + "\n  ".join(problems)
            )
    return settings
