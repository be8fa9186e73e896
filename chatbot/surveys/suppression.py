"""Minimum group sizes: a group smaller than the minimum is not shown, nor is a group whose
figure could be worked out from the total and the groups shown (complementary suppression).
"""

from __future__ import annotations

from collections.abc import Mapping

from chatbot.config import Routing


def min_group_size(routing: Routing, *, at_least: int = 0) -> int:
    """The fewest answers a group (a department, or everyone) needs before its score or
    distribution is shown: `pulse.min_group_size`, or a reader's stricter minimum (the
    dashboard's `TECHHELP_MIN_GROUP`)."""
    return max(routing.pulse.min_group_size, at_least)


def suppressed(counts: Mapping[str, int], minimum: int) -> set[str]:
    """The groups (a partition of the respondents) whose figures are not shown beside the total
    of all of them: those with fewer than `minimum` answers, and then, as statistical agencies
    do, the smallest of the others until the hidden groups together hold none or at least
    `minimum` answers, so that the total minus the shown groups never reveals a small group.
    When the total itself is under the minimum, nothing is shown."""
    total = sum(counts.values())
    if total < minimum:
        return set(counts)
    hidden = {name for name, n in counts.items() if n < minimum}
    others = sorted((n, name) for name, n in counts.items() if name not in hidden)
    while others and 0 < sum(counts[name] for name in hidden) < minimum:
        hidden.add(others.pop(0)[1])
    return hidden
