"""Pulse checks: surveys, their runs, answers and results. Keyword-only, the caller's transaction.

A survey is sent as runs keyed (survey, scheduled time), so a run is stored once however often
the clock computes it. Button values are signed (HMAC over run, option, the holder's ballot and
the person it was sent to) with a key derived from SLACK_SIGNING_SECRET, or generated and stored
in `secrets` on first use when none is set: a click counts only from the person the button was
made for, and only if they are one of the run's recipients.

Anonymity (see the README's threat model): an answer is stored as counts per run, department
and option (`survey_tallies`), and a click rewrites every option of the person's department, so
nothing in the database says which option one click added. Who answered is kept per recipient
(`survey_recipients.version`, for the reminder and App Home), never with what. Changing an answer
needs the previous option: it travels in the person's own thank-you buttons (signed), with a
random ballot token that keys their comment, so the database holds no link from a person to an
answer or a comment that anyone, with or without the key, could recompute.

The package, by what each part does: `runs.py` (surveys, runs, recipients, what is due),
`signing.py` (signed buttons, keys, ballots), `budget.py` (the contact budget), `answers.py`
(answers and comments as counts; the tallies), `results.py` (a run's figures),
`suppression.py` (minimum group sizes, complementary suppression), `trends.py` (averages per
period), `request_satisfaction.py` (the ratings after resolution as a series).
"""

from chatbot.surveys.answers import (
    MAX_COMMENT,
    NOT_SENT,
    Answered,
    RunView,
    SurveyView,
    recipient_version,
    record_answer,
    record_comment,
    run_for_answer,
)
from chatbot.surveys.budget import within_budget
from chatbot.surveys.request_satisfaction import aware, published_until, satisfaction_trend
from chatbot.surveys.results import (
    distribution,
    figures,
    questionnaire_figures,
    scale_average,
)
from chatbot.surveys.runs import (
    MAX_QUESTION,
    SCALE,
    add_run,
    audience_people,
    awaiting,
    close_run,
    copy_key,
    create_survey,
    due,
    get_survey,
    latest_run,
    non_responders,
    open_run,
    parse_options,
    reminder_key,
    runs_of,
    stop_survey,
    surveys,
)
from chatbot.surveys.signing import (
    FRESH,
    INVALID,
    Ballot,
    button_value,
    key_from_secret,
    read_button,
    run_of_value,
    signing_key,
)
from chatbot.surveys.suppression import min_group_size, suppressed

__all__ = [
    "aware",
    "published_until",
    "Answered",
    "Ballot",
    "FRESH",
    "INVALID",
    "MAX_COMMENT",
    "MAX_QUESTION",
    "NOT_SENT",
    "RunView",
    "SCALE",
    "SurveyView",
    "add_run",
    "audience_people",
    "awaiting",
    "button_value",
    "close_run",
    "copy_key",
    "create_survey",
    "distribution",
    "due",
    "figures",
    "questionnaire_figures",
    "get_survey",
    "key_from_secret",
    "latest_run",
    "min_group_size",
    "non_responders",
    "open_run",
    "parse_options",
    "read_button",
    "recipient_version",
    "record_answer",
    "record_comment",
    "reminder_key",
    "run_for_answer",
    "run_of_value",
    "runs_of",
    "satisfaction_trend",
    "scale_average",
    "signing_key",
    "stop_survey",
    "suppressed",
    "surveys",
    "within_budget",
]
