"""`/pulse`: admins define one-click surveys; people answer from a direct message; the clock sends
scheduled runs, one reminder to non-responders, and posts the results to the IT channel at
closing time.

The package, by what each part does: `command.py` (`/pulse`), `form.py` (the survey form),
`sending.py` (runs sent, reminded, closed), `results.py` (the results message), `answers.py`
(clicks and comments), `clock.py` (the clock's job); `common.py` holds their routes and names.
"""

# Each part registers its routes on `routes` when imported.
from commands.pulse import answers, clock, command, form, questionnaire  # noqa: F401
from commands.pulse.common import routes
from commands.pulse.sending import answer_buttons

__all__ = ["answer_buttons", "routes"]
