"""Teams activities as the core reads them: who (the Entra object id), what text (plain, the
bot's mention gone, other people's mentions kept as `@Name`), which button or form, and the
conversation references a proactive message will need."""

from __future__ import annotations

from typing import Any

import pytest

from chatbot.platforms.teams import translate

BOT = "28:bot-client-id"
SERVICE = "https://smba.trafficmanager.net/teams/"
CHANNEL = "19:triage@thread.tacv2"
TEAM = "19:general@thread.tacv2"


def base(kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "id": "1700000000123",
        "serviceUrl": SERVICE,
        "channelId": "msteams",
        "from": {"id": "29:ann", "name": "Ann Lee", "aadObjectId": "aad-ann"},
        "recipient": {"id": BOT, "name": "TechHelp"},
        "conversation": {"id": "a:ann-1on1", "conversationType": "personal", "tenantId": "t1"},
        **extra,
    }


def mention(bf_id: str, name: str, aad: str | None = None) -> dict[str, Any]:
    who = {"id": bf_id, "name": name} | ({"aadObjectId": aad} if aad else {})
    return {"type": "mention", "mentioned": who, "text": f"<at>{name}</at>"}


def channel_message(text: str, entities: list[dict[str, Any]]) -> dict[str, Any]:
    return base(
        "message",
        text=text,
        textFormat="plain",
        entities=entities,
        conversation={
            "id": f"{CHANNEL};messageid=1700000000123",
            "conversationType": "channel",
            "tenantId": "t1",
        },
        channelData={
            "team": {"id": TEAM},
            "channel": {"id": CHANNEL},
            "tenant": {"id": "t1"},
        },
    )


def test_personal_message_is_a_message_event_from_the_entra_id() -> None:
    inbound = translate.parse(base("message", text="printer on floor 3 is jammed"))
    event = inbound.event
    assert event is not None
    assert (event.platform, event.kind, event.name) == ("teams", "message", "")
    assert event.user == "aad-ann" and event.user_name == "Ann Lee"
    assert event.text == "printer on floor 3 is jammed"
    assert event.channel == "a:ann-1on1"
    (ref,) = inbound.references
    assert (ref.kind, ref.ref, ref.conversation_id, ref.user_id, ref.service_url) == (
        "person",
        "aad-ann",
        "a:ann-1on1",
        "29:ann",
        SERVICE,
    )


def test_channel_message_loses_the_bots_mention_and_keeps_others_as_text() -> None:
    html = (
        "<p><at>TechHelp</at>&nbsp;the VPN is down for <at>Bob Roe</at> &amp; me "
        '&lt;script&gt;<br>see <a href="https://status.example">status</a></p>'
    )
    inbound = translate.parse(
        channel_message(
            html,
            [mention(BOT, "TechHelp"), mention("29:bob", "Bob Roe", "aad-bob")],
        )
    )
    event = inbound.event
    assert event is not None
    assert (
        event.text
        == "the VPN is down for @Bob Roe & me <script>\nsee status (https://status.example)"
    )
    assert event.mentions == {"@Bob Roe": "aad-bob"}
    assert event.channel == CHANNEL  # the channel, not the thread's conversation id


def test_a_mention_known_only_by_bot_framework_id_is_left_for_the_app_to_resolve() -> None:
    inbound = translate.parse(
        channel_message(
            "<at>TechHelp</at> for <at>Bob</at>",
            [mention(BOT, "TechHelp"), mention("29:bob", "Bob")],
        )
    )
    assert inbound.event is not None and inbound.event.text == "for @Bob"
    assert inbound.unresolved == {"@Bob": "29:bob"}


def test_channel_message_not_addressed_to_the_bot_is_ignored() -> None:
    inbound = translate.parse(channel_message("<p>lunch anyone?</p>", []))
    assert inbound.event is None


def test_typed_mention_markup_stays_text() -> None:
    """What a person types as `<at>` arrives HTML-escaped: it is text, never a mention."""
    inbound = translate.parse(
        base("message", text="&lt;at&gt;Everyone&lt;/at&gt; [x](https://e.vil)")
    )
    assert inbound.event is not None
    assert inbound.event.text == "<at>Everyone</at> [x](https://e.vil)"
    assert inbound.event.mentions == {}


def test_redelivery_has_the_same_key_and_other_conversations_do_not_collide() -> None:
    one = translate.parse(base("message", text="hi")).event
    again = translate.parse(base("message", text="hi")).event
    elsewhere = translate.parse(
        base("message", text="hi", conversation={"id": "a:bob", "conversationType": "personal"})
    ).event
    assert one is not None and again is not None and elsewhere is not None
    assert one.key == again.key
    assert one.key != elsewhere.key


def invoke(verb: str, data: dict[str, Any]) -> dict[str, Any]:
    return base(
        "invoke",
        name="adaptiveCard/action",
        replyToId="card-activity-1",
        value={
            "action": {"type": "Action.Execute", "verb": verb, "data": data},
            "trigger": "manual",
        },
    )


def test_button_is_an_action_with_its_value_and_where_the_card_is() -> None:
    inbound = translate.parse(invoke("rating.rate:4", {"_value": "TH-7"}))
    event = inbound.event
    assert inbound.invoke and event is not None
    assert (event.kind, event.name, event.value, event.user) == (
        "action",
        "rating.rate:4",
        "TH-7",
        "aad-ann",
    )
    assert '"activity": "card-activity-1"' in (event.reply_to or "")


def test_form_submit_is_a_form_event_with_multiple_and_datetime_values() -> None:
    data = {
        "_form": "techalert.send",
        "_context": "ctx-1",
        "_multiple": ["audience"],
        "_datetime": ["starts_at"],
        "message": "Email down",
        "audience": "channels,department:Finance",
        "starts_at.date": "2026-12-01",
        "starts_at.time": "09:30",
    }
    event = translate.parse(invoke("form.submit", data)).event
    assert event is not None
    assert (event.kind, event.name, event.context) == ("form", "techalert.send", "ctx-1")
    assert event.values == {
        "message": "Email down",
        "audience": "channels\ndepartment:Finance",
        "starts_at": "2026-12-01 09:30",
    }


def test_personal_install_records_the_person_and_tells_the_core() -> None:
    inbound = translate.parse(base("installationUpdate", action="add"))
    assert inbound.event is not None
    assert (inbound.event.kind, inbound.event.name, inbound.event.user) == (
        "event",
        "app.installed",
        "aad-ann",
    )
    assert [(r.kind, r.ref, r.installed) for r in inbound.references] == [
        ("person", "aad-ann", True)
    ]
    removed = translate.parse(base("installationUpdate", action="remove", id="2"))
    assert removed.event is None
    assert [(r.kind, r.installed) for r in removed.references] == [("person", False)]


def test_team_install_records_the_team_and_channel() -> None:
    inbound = translate.parse(
        base(
            "conversationUpdate",
            membersAdded=[{"id": BOT}],
            conversation={"id": TEAM, "conversationType": "channel", "tenantId": "t1"},
            channelData={
                "eventType": "teamMemberAdded",
                "team": {"id": TEAM, "name": "IT"},
                "tenant": {"id": "t1"},
            },
        )
    )
    assert inbound.event is None
    assert {(r.kind, r.ref, r.conversation_id) for r in inbound.references} == {
        ("team", TEAM, TEAM),
        ("channel", TEAM, TEAM),
    }


@pytest.mark.parametrize(
    "broken",
    [
        base("message", text="x", serviceUrl="http://plain.example/"),
        {**base("message", text="x"), "from": {"id": "29:x", "name": "no aad id"}},
        {**base("message", text="x"), "id": ""},
        invoke("", {}),
        {**base("message"), "conversation": "not an object"},
    ],
)
def test_unusable_activities_are_refused(broken: dict[str, Any]) -> None:
    with pytest.raises(translate.BadActivity):
        translate.parse(broken)


def test_other_activity_types_mean_nothing() -> None:
    assert translate.parse(base("typing")).event is None
    assert translate.parse({"type": "messageReaction"}).event is None
