"""Escaping and truncation: user text never becomes live; long text is cut with a note."""

from __future__ import annotations

from chatbot.text import Templates, Trusted, cut, escape, mention


def test_escape_and_trusted_mentions() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert mention("U123ABC") == "<@U123ABC>" and isinstance(mention("U1X"), Trusted)
    assert mention("<!here>") == "&lt;!here&gt;"  # not an id: shown as text


def test_cut_says_so_and_never_splits_an_entity() -> None:
    assert cut("short", 10) == "short"
    text = "a" * 95 + "&amp;" + "b" * 100
    result = cut(text, 120)
    assert len(result) <= 120 and "200 characters in all" in result
    assert "&am" not in result.replace("&amp;", "")


def test_every_template_renders_and_escapes_values() -> None:
    templates = Templates()

    class R:
        id = 7
        ref = "TH-7"
        text = "<!channel> help"
        requester = "UALICE"
        logged_by = None
        intake_channel = "techhelp"
        category = "Hardware"
        urgency = "high"
        queue = "Service Desk"
        state = "open"
        assignee = None
        resolution = "<@U0ADMIN> fixed"
        department = "Finance"

    rendered = templates.render("requester/resolved.md.j2", request=R, actor="USTAFF")
    assert "<@USTAFF>" in rendered and "&lt;@U0ADMIN&gt;" in rendered
    assert "<@U0ADMIN>" not in rendered
    status = templates.render("techhelp/status.md.j2", requests=[R])
    assert "&lt;!channel&gt;" in status
