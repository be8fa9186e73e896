"""The client liaison program at the core: check-in schedules from each department's cadence and
its recorded meetings (`schedule`), the notes, asks and follow-ups and their search (`notes`),
and a department's briefing (`briefing`). IT's alone: callers check who asks."""

from chatbot.liaison.briefing import Briefing, Trend
from chatbot.liaison.briefing import build as build_briefing
from chatbot.liaison.notes import (
    Ask,
    FollowUp,
    NoteHit,
    asks_by_theme_and_quarter,
    asks_of,
    open_follow_ups,
    record_meeting,
    search_notes,
    timeline,
)
from chatbot.liaison.schedule import CheckIn, after, last_meeting, next_check_in

__all__ = [
    "Ask",
    "Briefing",
    "CheckIn",
    "FollowUp",
    "NoteHit",
    "Trend",
    "after",
    "asks_by_theme_and_quarter",
    "asks_of",
    "build_briefing",
    "last_meeting",
    "next_check_in",
    "open_follow_ups",
    "record_meeting",
    "search_notes",
    "timeline",
]
