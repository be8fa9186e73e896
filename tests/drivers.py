"""People using a real `chatbot serve` on a platform, and what each of them was shown.

The in-process test platform (`tests/platform.py`) runs the shared scenarios against the core; a
driver here runs them through the process, over HTTP, as the platform's users would: what a
person does becomes the platform's own signed request, and what they were shown is read back
from the fake platform's record of what the bot sent. Both speak in the same words
(`tests.platform.words`), so one scenario reads the same on every platform (`test_parity.py`).

People and channels are named by role ("alice", "staff", "triage"); each driver maps a role to
its platform's ids.
"""

from __future__ import annotations

import html
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, text

from tests.conftest import Server, clock_once_in_process
from tests.fakes.payloads import block_actions
from tests.fakes.slack_api import dm_id
from tests.fakes.teams_payloads import (
    card_action,
    installation_update,
    members_added,
    person,
    personal_conversation_id,
    personal_message,
)
from tests.platform import words

SETTLE_TIMEOUT = 30.0
# A person mentioned in what someone says ("for @bob via phone …"): each platform writes it its way.
MENTION = re.compile(r"@(alice|bob|staff|admin)\b")


def email(role: str) -> str:
    """A person's address in their platform's directory, the same on every platform."""
    return f"{role}.tester@example.org"


@dataclass
class Shown:
    """One thing an address was shown (a new version of a message counts again)."""

    to: str  # a role ("alice", "triage")
    id: str  # the platform's id of the message: what an edit or a press refers to
    text: str  # as `words`
    buttons: list[tuple[str, Any]] = field(default_factory=list)  # (label, the platform's handle)
    images: int = 0  # pictures shown with it (a chart)


class Driver:
    """What every platform's driver does; subclasses speak the platform."""

    platform = ""
    people: dict[str, str] = {}
    channels: dict[str, str] = {}
    forms: dict[str, Any]  # role -> the form open for them, as the platform shows it

    @classmethod
    def ids(cls) -> dict[str, str]:
        """Each role's id on the platform: what its configuration names."""
        return cls.people | cls.channels

    def __init__(self, server: Server) -> None:
        self.server = server
        self.transcript: list[Shown] = []
        self.engine = create_engine(server.env["DATABASE_URL"], poolclass=None)

    # --- what a person does (platform-specific) ---

    def say(self, who: str, words_: str) -> None:
        raise NotImplementedError

    def press(self, who: str, label: str, *, card: str | None = None) -> None:
        raise NotImplementedError

    def fill(self, who: str, **values: str | datetime) -> dict[str, str]:
        """Submit the form open for `who` (a date and time given as an aware `datetime`, entered
        as the platform's picker sends it); the errors shown if it stays open."""
        raise NotImplementedError

    def sync_directory(self) -> None:
        """The platform's directory lists every person role; `chatbot clock` syncs it."""
        raise NotImplementedError

    def later(self, *updates: str, hours: float = 1) -> None:
        """Time passes for what the clock looks at: each SQL update moves a due time into the
        past (`:past`, `hours` ago), the last tick's clock lease runs out as it would, and the
        real `chatbot clock --once` runs a tick."""
        self.settle()
        past = {"past": _soon() - timedelta(hours=hours)}
        with self.engine.begin() as connection:
            for update in (*updates, "update clock_state set value = :past where name = 'lease'"):
                connection.execute(text(update), past)
        self.tick()

    def tick(self) -> None:
        """One tick of `chatbot clock --once`, composed in this process as the command composes
        it (its own holder, every platform's directory), beside the real `chatbot serve`: a
        process start per tick would cost more than the tick."""
        clock_once_in_process(self.server.env)

    def remind_now(self) -> None:
        """The open survey runs' reminders fall due."""
        self.later("update survey_runs set remind_at = :past where reminded_at is null")

    def open_form(self, who: str, command: str, title: str) -> None:
        """Ask for a form by command: it opens at once where the platform can (Slack's modal),
        else from the button of the card the bot answers with (Teams)."""
        self.say(who, command)
        self.settle()
        if who not in self.forms:
            self.press(who, title)
        assert who in self.forms, f"{command!r} opened no form for {who} on {self.platform}"

    # --- what was shown ---

    def received(self, where: str) -> list[str]:
        self.settle()
        return [shown.text for shown in self.transcript if shown.to == where]

    def last(self, where: str) -> str:
        shown = self.received(where)
        assert shown, f"{where} was shown nothing on {self.platform}"
        return shown[-1]

    def settle(self) -> None:
        """Wait until the process has delivered everything due and handled every stored
        click, then read what the fake platform was sent."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            with self.engine.connect() as connection:
                busy = connection.execute(
                    text(
                        "select (select count(*) from deliveries"
                        " where status in ('pending', 'sending') and not_before <= :soon)"
                        " + (select count(*) from inbox)"
                    ),
                    {"soon": _soon()},
                ).scalar_one()
            if not busy and self.quiet():
                break
            assert time.monotonic() < deadline, f"{busy} deliveries or clicks still waiting"
            time.sleep(0.05)
        self.collect()

    def collect(self) -> None:
        """Append what the fake recorded since the last look to the transcript."""
        raise NotImplementedError

    def recorded(self) -> int:
        """How many calls the fake platform has recorded."""
        raise NotImplementedError

    def quiet(self, window: float = 0.2) -> bool:
        """No call reached the fake for `window` seconds: what is said after an ack (a reply,
        a form opened) is said by then."""
        before = self.recorded()
        time.sleep(window)
        return self.recorded() == before

    # --- shared insides ---

    def role_of(self, platform_id: str) -> str:
        for role, ident in {**self.people, **self.channels}.items():
            if ident == platform_id:
                return role
        return platform_id

    def button(self, who: str, label: str, card: str | None) -> tuple[Shown, Any]:
        """The button labelled `label` on the newest current message `who` sees (their own, or
        a channel's) that mentions `card`."""
        self.settle()
        for shown in reversed(self.transcript):
            if shown.to != who and shown.to not in self.channels:
                continue
            if card and card not in shown.text:
                continue
            if self.newest(shown.id) is not shown:
                continue
            for button_label, handle in shown.buttons:
                if button_label.lower() == label.lower():
                    return shown, handle
        raise AssertionError(f"{who} sees no button {label!r} on {card or 'any message'}")

    def newest(self, message_id: str) -> Shown | None:
        return next((s for s in reversed(self.transcript) if s.id == message_id), None)


def _soon() -> datetime:
    """What falls due within a few seconds (a batched count's edit), as the database stores
    times (UTC, naive): settling waits for it too."""
    return datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=3)


# --- Slack --------------------------------------------------------------------------------------

_SLACK_ENTITY = re.compile(r"<[@#!]?([^>|]*)(?:\|([^>]*))?>")


def slack_words(blocks: list[dict[str, Any]] | None, fallback: str = "") -> str:
    """A Block Kit message as the words a person reads, buttons in brackets."""
    lines: list[str] = []
    for block in blocks or []:
        kind = block.get("type")
        if kind in ("header", "section"):
            lines.append((block.get("text") or {}).get("text", ""))
            for fact in block.get("fields") or []:  # "*Label*\nvalue", as the core's "Label: value"
                label, _, value = fact["text"].partition("\n")
                lines.append(f"{label}: {value}")
        elif kind == "context":
            lines.extend(e.get("text", "") for e in block.get("elements") or [])
        elif kind == "actions":
            labels = [e["text"]["text"] for e in block.get("elements") or [] if "text" in e]
            lines.append(" ".join(f"[{label}]" for label in labels))
    raw = "\n".join(lines) if lines else fallback
    raw = _SLACK_ENTITY.sub(lambda m: m.group(2) or "@" + m.group(1), raw)
    return words(html.unescape(raw))


def slack_buttons(blocks: list[dict[str, Any]] | None) -> list[tuple[str, Any]]:
    return [
        (element["text"]["text"], (element["action_id"], element.get("value", "")))
        for block in blocks or []
        if block.get("type") == "actions"
        for element in block.get("elements") or []
        if element.get("type") == "button"
    ]


class SlackDriver(Driver):
    platform = "slack"
    people = {"alice": "UALICE", "bob": "UBOB", "staff": "USTAFF", "admin": "UADMIN"}
    channels = {"triage": "CTRIAGE", "alerts": "CALERTS", "it": "CIT"}

    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self.fake = server.fake
        self.seen_calls = 0
        self.actor: dict[int, tuple[str, Shown | None]] = {}  # call index -> who acted, pressed
        self.forms: dict[str, dict[str, Any]] = {}  # role -> the view open for them
        self.opened_from: dict[str, Shown | None] = {}  # role -> the message its form came from
        self.seen_views = 0
        self.ts_channel: dict[str, str] = {}  # message ts -> role it went to

    def say(self, who: str, words_: str) -> None:
        user = self.people[who]
        words_ = MENTION.sub(lambda m: f"<@{self.people[m[1]]}|{m[1]}>", words_)
        self._step(who, None)
        if words_.startswith("/"):
            name, _, rest = words_.partition(" ")
            answer = self.server.command(rest.strip(), user=user, command=name)
            assert answer.status_code == 200, answer.text
            if answer.content:
                body = answer.json()
                self._show(who, f"reply-{uuid.uuid4()}", body.get("blocks"), body.get("text", ""))
            return
        body = {
            "token": "legacy",
            "team_id": "T0TEST",
            "api_app_id": "A0TEST",
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:10]}",
            "event_time": int(time.time()),
            "event": {
                "type": "message",
                "channel": dm_id(user),
                "channel_type": "im",
                "user": user,
                "text": words_,
                "ts": f"{time.time():.6f}",
            },
        }
        answer = self.server.post(json.dumps(body), content_type="application/json")
        assert answer.status_code == 200, answer.text

    def press(self, who: str, label: str, *, card: str | None = None) -> None:
        shown, (action_id, value) = self.button(who, label, card)
        channel = self.channels.get(shown.to)
        self._step(who, shown)
        body = block_actions(
            self.people[who],
            action_id,
            value,
            channel=channel or dm_id(self.people[who]),
            response_url=self.fake.response_url(f"act-{uuid.uuid4()}"),
        )
        answer = self.server.post(body)
        assert answer.status_code == 200, answer.text

    def fill(self, who: str, **values: str | datetime) -> dict[str, str]:
        # Slack's datetimepicker sends Unix seconds.
        typed = {
            k: str(int(v.timestamp())) if isinstance(v, datetime) else v for k, v in values.items()
        }
        self.settle()
        view = self.forms.pop(who, None)
        assert view is not None, f"no form is open for {who}"
        inputs = [b for b in view.get("blocks") or [] if b.get("type") == "input"]
        # Slack sends what a field shows: its initial value or option unless typed over.
        filled = {
            b["block_id"]: typed.get(
                b["block_id"],
                b["element"].get("initial_value")
                or (b["element"].get("initial_option") or {}).get("value", ""),
            )
            for b in inputs
        }
        unknown = set(typed) - set(filled)
        assert not unknown, f"the form has no field {unknown}"
        kinds = {b["block_id"]: b["element"]["type"] for b in inputs}
        # A reply to the submit through the opening click's response_url is about that message.
        opener = self.opened_from.pop(who, None)
        self._step(who, opener)
        answer = self.server.submit(
            view["callback_id"],
            filled,
            user=self.people[who],
            private_metadata=view.get("private_metadata", ""),
            selects=tuple(n for n, k in kinds.items() if k == "static_select"),
            multis=tuple(n for n, k in kinds.items() if k == "multi_static_select"),
        )
        assert answer.status_code == 200, answer.text
        shown = answer.json() if answer.content else {}
        if shown.get("response_action") == "update":  # what the form did, in the modal
            self._show(who, f"view-{uuid.uuid4()}", shown["view"]["blocks"], "")
        errors: dict[str, str] = shown.get("errors") or {}
        if errors:
            self.forms[who] = view
            self.opened_from[who] = opener
        return errors

    def recorded(self) -> int:
        return len(self.fake.calls())

    def sync_directory(self) -> None:
        self.fake.set_users(
            [
                {"id": ident, "name": role, "profile": {"real_name": role, "email": email(role)}}
                for role, ident in self.people.items()
            ]
        )
        self.tick()

    def _step(self, who: str, pressed: Shown | None) -> None:
        """What the fake records from here on answers this person's act."""
        self.settle()
        self.actor[len(self.fake.calls())] = (who, pressed)

    def _show(self, to: str, message_id: str, blocks: Any, fallback: str) -> None:
        self.transcript.append(
            Shown(to, message_id, slack_words(blocks, fallback), slack_buttons(blocks))
        )

    def collect(self) -> None:
        calls = self.fake.calls()
        who, pressed = "", None
        for index in range(self.seen_calls):
            if index in self.actor:
                who, pressed = self.actor[index]
        for index in range(self.seen_calls, len(calls)):
            who, pressed = self.actor.get(index, (who, pressed))
            call = calls[index]
            if call.status is not None or not (call.response or {}).get("ok", True):
                continue
            body = call.body
            if call.method == "chat.postMessage":
                ts = (call.response or {})["ts"]
                to = self.role_of(str(body["channel"]).removeprefix("D"))
                self.ts_channel[ts] = to
                self._show(to, ts, body.get("blocks"), body.get("text", ""))
            elif call.method == "files.completeUploadExternal":  # a file shared with a message
                to = self.role_of(str(body["channel_id"]).removeprefix("D"))
                blocks = body.get("blocks")
                if isinstance(blocks, str):
                    blocks = json.loads(blocks)
                shown = Shown(
                    to, f"file-{index}", slack_words(blocks, body.get("initial_comment", ""))
                )
                shown.images = len(
                    json.loads(body["files"]) if isinstance(body["files"], str) else body["files"]
                )
                self.transcript.append(shown)
            elif call.method == "chat.update":
                to = self.ts_channel.get(str(body.get("ts")), "")
                self._show(to, str(body.get("ts")), body.get("blocks"), body.get("text", ""))
            elif call.method == "response_url":
                if body.get("replace_original") and pressed is not None:
                    self._show(pressed.to, pressed.id, body.get("blocks"), body.get("text", ""))
                else:
                    to = (
                        who
                        if body.get("response_type") != "in_channel"
                        else pressed.to
                        if pressed
                        else who
                    )
                    self._show(to, f"reply-{index}", body.get("blocks"), body.get("text", ""))
        self.seen_calls = len(calls)
        views = self.fake.views
        for view in views[self.seen_views :]:
            if view.get("type") == "modal":
                self.forms[who] = view
                self.opened_from[who] = pressed
        self.seen_views = len(views)


# --- Microsoft Teams ----------------------------------------------------------------------------

_TEAMS_MARKUP = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>|~<])")


def teams_words(activity: dict[str, Any] | str) -> str:
    """An activity (or an invoke's text answer) as the words a person reads."""
    from tests.teams_driver import text_of

    raw = activity if isinstance(activity, str) else text_of(activity)
    raw = re.sub(r"</?at>", "", raw)
    return words(html.unescape(_TEAMS_MARKUP.sub(r"\1", raw)))


def teams_buttons(activity: dict[str, Any]) -> list[tuple[str, Any]]:
    from tests.teams_driver import actions_of

    return [
        (str(action["title"]), action)
        for action in actions_of(activity)
        if action.get("type") == "Action.Execute"
    ]


class TeamsDriver(Driver):
    platform = "teams"
    channels = {
        "triage": "19:triage@thread.tacv2",
        "alerts": "19:alerts@thread.tacv2",
        "it": "19:it@thread.tacv2",
    }

    # The roster members, as the fake's roster lists them; a person is known by their Entra id.
    members = {role: person(role, name=f"{role.title()} Tester") for role in SlackDriver.people}
    people = {role: str(member["aadObjectId"]) for role, member in members.items()}

    def __init__(self, server: Server, fake: Any) -> None:
        super().__init__(server)
        self.fake = fake
        self.conversations = {personal_conversation_id(fake, m): r for r, m in self.members.items()}
        self.seen_calls = 0
        self.forms: dict[str, tuple[dict[str, Any], Shown]] = {}  # role -> submit action, card

    def recorded(self) -> int:
        return len(self.fake.calls)

    def sync_directory(self) -> None:
        self.fake.members[:] = list(self.members.values())
        admin = self.members["admin"]
        added = members_added(self.fake, [], who=admin, include_bot=True)
        assert self.fake.post_activity(self.server.url, added).status_code == 200
        for member in self.members.values():
            installed = installation_update(self.fake, member)
            assert self.fake.post_activity(self.server.url, installed).status_code == 200
        self.settle()
        self.tick()

    def say(self, who: str, words_: str) -> None:
        self.settle()
        mentioned = [self.members[role] for role in MENTION.findall(words_)]
        words_ = MENTION.sub(lambda m: f"<at>{self.members[m[1]]['name']}</at>", words_)
        activity = personal_message(self.fake, self.members[who], words_)
        activity["entities"] = [
            {
                "type": "mention",
                "text": f"<at>{member['name']}</at>",
                "mentioned": {"id": member["id"], "name": member["name"]},
            }
            for member in mentioned
        ]
        answer = self.fake.post_activity(self.server.url, activity)
        assert answer.status_code in (200, 201, 202), answer.text

    def press(self, who: str, label: str, *, card: str | None = None) -> None:
        shown, action = self.button(who, label, card)
        self._invoke(who, shown, action, dict(action.get("data") or {}))

    def fill(self, who: str, **values: str | datetime) -> dict[str, str]:
        # Teams' Input.Date and Input.Time, in the configuration's time zone (UTC here).
        typed: dict[str, str] = {}
        for name, value in values.items():
            if isinstance(value, datetime):
                local = value.astimezone(UTC)
                typed |= {f"{name}.date": f"{local:%Y-%m-%d}", f"{name}.time": f"{local:%H:%M}"}
            else:
                typed[name] = value
        self.settle()
        opened = self.forms.pop(who, None)
        assert opened is not None, f"no form is open for {who}"
        action, shown = opened
        answer = self._invoke(who, shown, action, dict(action.get("data") or {}) | typed)
        if answer.get("type") == "application/vnd.microsoft.activity.message":
            self.forms[who] = opened  # the card keeps its inputs: the form is still open
            return {"form": teams_words(str(answer.get("value") or ""))}
        return {}

    def _invoke(
        self, who: str, shown: Shown, action: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        """Click `action` on message `shown`; what Teams shows the clicker from the answer."""
        channel = self.channels.get(shown.to)
        activity = card_action(
            self.fake,
            self.members[who],
            str(action["verb"]),
            data,
            reply_to_id=shown.id.partition("|")[0],
            channel_id=channel,
        )
        response = self.fake.post_activity(self.server.url, activity)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json() if response.content else {}
        # Teams shows the answer at once, then whatever the bot sends or edits after it.
        self.collect()
        if answer.get("type") == "application/vnd.microsoft.card.adaptive":
            card = {"attachments": [{"contentType": answer["type"], "content": answer["value"]}]}
            # The answer's card replaces the clicked one, for the clicker.
            replaced = Shown(who if not channel else shown.to, shown.id, teams_words(card))
            replaced.buttons = teams_buttons(card)
            self.transcript.append(replaced)
            submit = next((a for _, a in replaced.buttons if a.get("verb") == "form.submit"), None)
            if submit is not None:
                self.forms[who] = (submit, replaced)
        elif answer.get("type") == "application/vnd.microsoft.activity.message" and answer.get(
            "value"
        ):
            self.transcript.append(
                Shown(who, f"answer-{uuid.uuid4()}", teams_words(str(answer["value"])))
            )
        self.settle()
        return answer

    def collect(self) -> None:
        calls = self.fake.calls
        for call in calls[self.seen_calls :]:
            if (call.status or 0) // 100 != 2 or not isinstance(call.body, dict):
                continue
            if call.method not in ("POST", "PUT") or "/activities" not in call.path:
                continue
            path = call.path.removeprefix("/teams/v3/conversations/")
            conversation, _, rest = path.partition("/activities")
            channel = conversation.partition(";messageid=")[0]
            to = self.conversations.get(channel) or self.role_of(channel)
            if call.method == "POST":
                message_id = str((call.response or {}).get("id", ""))
            else:
                message_id = rest.strip("/")
            shown = Shown(to, message_id, teams_words(call.body), teams_buttons(call.body))
            shown.images = json.dumps(call.body).count('"type": "Image"')
            self.transcript.append(shown)
            submit = next((a for _, a in shown.buttons if a.get("verb") == "form.submit"), None)
            if submit is not None and to in self.people:
                self.forms[to] = (submit, shown)
        self.seen_calls = len(calls)


def serve(request: Any, tmp_path: Any, yaml: str = "", **env: str) -> Driver:
    """The real `chatbot serve` of the platform a test is parametrised with (`request.param`,
    "slack" or "teams"), configured by role: its channels and admin by the platform's ids, the
    service desk by e-mail (which names them on every platform whose directory gives their
    account that address), and `yaml` added to the configuration file."""
    slack = request.param == "slack"
    ids = (SlackDriver if slack else TeamsDriver).ids()
    config = tmp_path / "techhelp.yml"
    config.write_text(f"staff: [{email('staff')}]\n" + yaml)
    prefix = "TECHHELP" if slack else "TEAMS"
    server = request.getfixturevalue("make_server" if slack else "make_teams_server")(
        process=True,  # the real `chatbot serve`, on both platforms
        TECHHELP_CONFIG=str(config),
        **env,
        **{
            f"{prefix}_TRIAGE_CHANNEL": ids["triage"],
            f"{prefix}_ALERT_CHANNELS": ids["alerts"],
            f"{prefix}_IT_CHANNEL": ids["it"],
            f"{prefix}_ADMINS": ids["admin"],
        },
    ).start()
    if slack:
        return SlackDriver(server)
    return TeamsDriver(server, request.getfixturevalue("fake_teams"))


def said(chat: Driver, who: str, text: str) -> str:
    """What `who` was shown in answer to saying `text`."""
    before = len(chat.received(who))
    chat.say(who, text)
    return "\n".join(chat.received(who)[before:])
