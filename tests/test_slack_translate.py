"""The Slack adapter's inbound half: what the core receives from a slash command and from a
message in the bot's Messages tab."""

from __future__ import annotations

from chatbot.platforms.slack import translate


def test_a_command_is_named_without_its_slash_and_keeps_who_it_mentions() -> None:
    event = translate.command(
        {
            "command": "/techhelp",
            "text": "for <@UBOB|bob> via phone <!channel> &lt;b&gt; <@UCAROL>",
            "user_id": "USTAFF",
            "trigger_id": "t1",
        }
    )
    assert event.kind == "command" and event.name == "techhelp"
    assert event.text == "for @bob via phone @channel <b> @UCAROL"
    assert event.mentions == {"@bob": "UBOB", "@UCAROL": "UCAROL"}


def test_only_what_a_person_types_in_the_messages_tab_is_a_message() -> None:
    def body(**event: object) -> dict[str, object]:
        base = {"type": "message", "channel_type": "im", "user": "UALICE", "text": "status"}
        return {"event_id": "Ev1", "event": {**base, **event}}

    event = translate.direct_message(body())
    assert event is not None
    assert (event.kind, event.name, event.text, event.key) == ("message", "", "status", "event:Ev1")
    assert translate.direct_message(body(bot_id="B1")) is None  # the bot's own post
    assert translate.direct_message(body(subtype="message_changed")) is None
    assert translate.direct_message(body(channel_type="channel")) is None
    assert translate.direct_message(body(text="  ")) is None
    assert translate.direct_message(body(user={"id": "UALICE"})) is None  # not a person's id
