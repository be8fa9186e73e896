"""Rollups: the dashboard's figures kept up to date as requests and ratings are written, so that a
page reads a few thousand counters instead of every request of its range.

The database keeps them, with triggers created by migration 0014: every insert, update or delete
of a request or a rating adds its contribution to the rollup rows it belongs to (or takes the old
one away and adds the new one), in the writer's own transaction. So the figures are exact the
moment a write commits, whoever wrote (the bot, the clock, an operator's SQL, a bulk load), a
crash rolls the rollups back with the write, and concurrent writers are serialised on the rollup
rows they share by the database's own row locks (PostgreSQL's `INSERT … ON CONFLICT DO UPDATE`
adds to the committed value; SQLite has one writer at a time).

Tables (their models are in `chatbot.db.models`): per UTC day of creation, requests by
department and category (`rollup_request_categories`) and by department and intake
(`rollup_request_intake`: created, resolved, resolved and rated); requests by department, state
and tier (`rollup_request_states`); ratings per UTC day rated and department of the request
(`rollup_ratings`); and the distribution of first-response and resolution times per day and per
week, per department and for every department (`rollup_durations`), counted in steps (`STEPS`).

`recompute(conn)` computes every rollup from the rows, as the triggers should have left it: the
migration fills the tables with it, and tests compare the two.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

# Durations are counted in steps that grow with them, rounded up to the step: the minute up to an
# hour, 5 minutes up to 10 hours, 15 minutes up to a day, the hour up to a week, then the day. A
# service target on a step (any whole minutes up to an hour, hours up to a week) is judged exactly.
# (limit in seconds, step in seconds), in order.
STEPS: tuple[tuple[int, int], ...] = (
    (3_600, 60),
    (36_000, 300),
    (86_400, 900),
    (604_800, 3_600),
)
LAST_STEP = 86_400
EVERY_DEPARTMENT = "*"  # `rollup_durations.scope` of every department's row (else "department")
KINDS = ("first_response", "resolution")


@dataclass(frozen=True)
class Dialect:
    """The SQL expressions rollups need, per database."""

    name: str

    @property
    def pg(self) -> bool:
        return self.name == "postgresql"

    def day(self, column: str) -> str:
        """The UTC date of a timestamp, as YYYY-MM-DD."""
        if self.pg:
            return f"to_char(timezone('UTC', {column}), 'YYYY-MM-DD')"
        return f"date({column})"

    def week(self, column: str) -> str:
        """The Monday (UTC) of a timestamp's week, as YYYY-MM-DD."""
        if self.pg:
            return f"to_char(date_trunc('week', timezone('UTC', {column})), 'YYYY-MM-DD')"
        return f"date({column}, '-6 days', 'weekday 1')"

    def seconds(self, later: str, earlier: str) -> str:
        """Whole seconds from `earlier` to `later` (rounded: stored times are exact to the
        microsecond, their float difference is not)."""
        if self.pg:
            return f"CAST(round(extract(epoch from ({later}) - ({earlier}))) AS BIGINT)"
        return f"CAST(round((julianday({later}) - julianday({earlier})) * 86400.0) AS INTEGER)"

    def step_minutes(self, later: str, earlier: str) -> str:
        """The duration's step (`STEPS`), as minutes: rounded up, 0 for none or a negative one."""
        s = self.seconds(later, earlier)
        whens = " ".join(
            f"WHEN {s} <= {limit} THEN (({s} + {step - 1}) / {step}) * {step // 60}"
            for limit, step in STEPS
        )
        return (
            f"CASE WHEN {s} <= 0 THEN 0 {whens} "
            f"ELSE (({s} + {LAST_STEP - 1}) / {LAST_STEP}) * {LAST_STEP // 60} END"
        )


@dataclass(frozen=True)
class Contribution:
    """What one row adds to one rollup table: its key and its values, as SQL over the row (the
    alias `{r}`), when `when` holds."""

    table: str
    key: tuple[tuple[str, str], ...]  # (column, expression)
    values: tuple[tuple[str, str], ...]
    when: str = "1 = 1"
    # False for a change that the rows' own contribution already counts (a rating's part in its
    # request's "resolved and rated"): a recomputation from the rows counts it once.
    recomputed: bool = True


def request_contributions(d: Dialect) -> list[Contribution]:
    """A request's contributions, as SQL over the row `{r}` (NEW or OLD in a trigger)."""
    department = "coalesce({r}.department, '')"
    day = d.day("{r}.created_at")
    rated = (
        "CASE WHEN {r}.resolved_at IS NOT NULL AND EXISTS "
        "(SELECT 1 FROM ratings WHERE ratings.request_id = {r}.id) THEN 1 ELSE 0 END"
    )
    found = [
        Contribution(
            "rollup_request_categories",
            (("day", day), ("department", department), ("category", "{r}.category")),
            (("requests", "1"),),
        ),
        Contribution(
            "rollup_request_intake",
            (
                ("day", day),
                ("department", department),
                ("platform", "{r}.platform"),
                ("intake_channel", "{r}.intake_channel"),
                ("by_message", "{r}.by_message"),
            ),
            (
                ("requests", "1"),
                ("resolved", "CASE WHEN {r}.resolved_at IS NOT NULL THEN 1 ELSE 0 END"),
                ("rated", rated),
            ),
        ),
        Contribution(
            "rollup_request_states",
            (("department", department), ("state", "{r}.state"), ("tier", "{r}.tier")),
            (("requests", "1"),),
        ),
    ]
    for kind, end in (("first_response", "first_response_at"), ("resolution", "resolved_at")):
        for period, start in (("day", day), ("week", d.week("{r}.created_at"))):
            for scope, who in (("department", department), (EVERY_DEPARTMENT, "''")):
                found.append(
                    Contribution(
                        "rollup_durations",
                        (
                            ("period", f"'{period}'"),
                            ("start", start),
                            ("scope", f"'{scope}'"),
                            ("department", who),
                            ("urgency", "{r}.urgency"),
                            ("kind", f"'{kind}'"),
                            ("minutes", d.step_minutes(f"{{r}}.{end}", "{r}.created_at")),
                        ),
                        (("requests", "1"),),
                        when=f"{{r}}.{end} IS NOT NULL",
                    )
                )
    return found


def rating_contributions(d: Dialect) -> list[Contribution]:
    """A rating's contributions, as SQL over the rating row `{r}`: to the ratings of its day and
    its request's department, and to its request's "resolved and rated" count."""
    request = "(SELECT {col} FROM requests WHERE requests.id = {r}.request_id)"
    return [
        Contribution(
            "rollup_ratings",
            (
                ("day", d.day("{r}.rated_at")),
                ("department", request.replace("{col}", "coalesce(department, '')")),
            ),
            (("ratings", "1"), ("score", "{r}.score")),
        ),
        Contribution(
            "rollup_request_intake",
            (
                ("day", request.replace("{col}", d.day("created_at"))),
                ("department", request.replace("{col}", "coalesce(department, '')")),
                ("platform", request.replace("{col}", "platform")),
                ("intake_channel", request.replace("{col}", "intake_channel")),
                ("by_message", request.replace("{col}", "by_message")),
            ),
            (("requests", "0"), ("resolved", "0"), ("rated", "1")),
            when=f"{request.replace('{col}', 'resolved_at')} IS NOT NULL",
            recomputed=False,
        ),
    ]


def ratings_of_request(d: Dialect) -> Contribution:
    """A request's ratings, counted under its department (`{r}` the request): moved when a
    request changes department."""
    return Contribution(
        "rollup_ratings",
        (("day", d.day("ratings.rated_at")), ("department", "coalesce({r}.department, '')")),
        (("ratings", "1"), ("score", "ratings.score")),
    )


def upsert(c: Contribution, row: str, sign: int, *, source: str = "", where: str = "") -> str:
    """The statement adding (`sign` 1) or taking away (-1) `c` for the row `row` (and the rows
    of `source`, a FROM clause, that `where` picks)."""
    keys = [column for column, _ in c.key]
    values = [column for column, _ in c.values]
    exprs = [e for _, e in c.key] + [(e if sign > 0 else f"-({e})") for _, e in c.values]
    select = ", ".join(exprs).replace("{r}", row)
    update = ", ".join(f"{v} = {c.table}.{v} + excluded.{v}" for v in values)
    return (
        f"INSERT INTO {c.table} ({', '.join(keys + values)}) "
        f"SELECT {select} {source} WHERE {where}{c.when.replace('{r}', row)} "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {update}"
    )


# The request columns a rollup depends on: an update that changes none of them changes no rollup.
WATCHED = (
    "created_at",
    "department",
    "category",
    "platform",
    "intake_channel",
    "by_message",
    "state",
    "tier",
    "urgency",
    "first_response_at",
    "resolved_at",
)


def request_statements(d: Dialect, op: str) -> list[str]:
    """The statements a request's insert, update or delete runs."""
    contributions = request_contributions(d)
    moved = ratings_of_request(d)
    out: list[str] = []
    if op in ("UPDATE", "DELETE"):
        out += [upsert(c, "OLD", -1) for c in contributions]
    if op == "UPDATE":
        for row, sign in (("OLD", -1), ("NEW", 1)):
            out.append(
                upsert(
                    moved,
                    row,
                    sign,
                    source="FROM ratings",
                    where=f"ratings.request_id = {row}.id AND ",
                )
            )
    if op in ("INSERT", "UPDATE"):
        out += [upsert(c, "NEW", 1) for c in contributions]
    return out


def rating_statements(d: Dialect, op: str) -> list[str]:
    contributions = rating_contributions(d)
    out: list[str] = []
    if op in ("UPDATE", "DELETE"):
        out += [upsert(c, "OLD", -1) for c in contributions]
    if op in ("INSERT", "UPDATE"):
        out += [upsert(c, "NEW", 1) for c in contributions]
    return out


TRIGGERS = (("requests", request_statements), ("ratings", rating_statements))
OPS = ("INSERT", "UPDATE", "DELETE")


def create_triggers(conn: Connection) -> None:
    d = Dialect(conn.dialect.name)
    for table, statements in TRIGGERS:
        if d.pg:
            _pg_trigger(conn, d, table, statements)
            continue
        for op in OPS:
            when = ""
            if op == "UPDATE" and table == "requests":
                when = "WHEN " + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in WATCHED)
            body = ";\n".join(statements(d, op)) + ";"
            conn.execute(
                text(
                    f"CREATE TRIGGER rollup_{table}_{op.lower()} AFTER {op} ON {table} "
                    f"FOR EACH ROW {when} BEGIN\n{body}\nEND"
                )
            )


def _pg_trigger(conn: Connection, d: Dialect, table: str, statements: Any) -> None:
    branches = []
    for op in OPS:
        body = ";\n    ".join(statements(d, op))
        branches.append(f"IF TG_OP = '{op}' THEN\n    {body};\n  END IF;")
    function = f"rollup_{table}"
    conn.execute(
        text(
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  "
            + "\n  ".join(branches)
            + "\n  RETURN NULL;\nEND\n$$"
        )
    )
    for op in OPS:
        when = ""
        if op == "UPDATE" and table == "requests":
            when = (
                "WHEN (" + " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in WATCHED) + ")"
            )
        conn.execute(
            text(
                f"CREATE TRIGGER rollup_{table}_{op.lower()} AFTER {op} ON {table} "
                f"FOR EACH ROW {when} EXECUTE FUNCTION {function}()"
            )
        )


def trigger_names() -> list[str]:
    return [f"rollup_{table}_{op.lower()}" for table, _ in TRIGGERS for op in OPS]


def ensure(conn: Connection) -> bool:
    """Create the triggers and refill the rollups if a trigger is missing; True if it was.

    A later migration that rebuilds `requests` or `ratings` on SQLite (Alembic's batch mode
    copies the table and drops the old one) drops that table's triggers with it: checked at
    every upgrade, so the rollups never silently stop counting."""
    if conn.dialect.name == "postgresql":
        found = conn.execute(
            text("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'rollup%' AND NOT tgisinternal")
        ).scalars()
    else:
        found = conn.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'rollup_%'")
        ).scalars()
    tables = conn.execute(
        text(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'rollup_durations'"
            if conn.dialect.name == "postgresql"
            else "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
            "AND name = 'rollup_durations'"
        )
    ).scalar()
    if not tables or set(trigger_names()) <= set(found):
        return False
    drop_triggers(conn)
    create_triggers(conn)
    rebuild(conn)
    return True


def drop_triggers(conn: Connection) -> None:
    d = Dialect(conn.dialect.name)
    for table, _ in TRIGGERS:
        for op in OPS:
            on = f" ON {table}" if d.pg else ""
            conn.execute(text(f"DROP TRIGGER IF EXISTS rollup_{table}_{op.lower()}{on}"))
        if d.pg:
            conn.execute(text(f"DROP FUNCTION IF EXISTS rollup_{table}()"))


ROLLUP_TABLES = (
    "rollup_request_categories",
    "rollup_request_intake",
    "rollup_request_states",
    "rollup_ratings",
    "rollup_durations",
)


def _grouped(c: Contribution, source: str) -> tuple[str, list[str]]:
    """A full recomputation of one contribution over every row of `source` (alias r)."""
    keys = ", ".join(e for _, e in c.key).replace("{r}", "r")
    values = ", ".join(f"sum({e}) AS {name}" for name, e in c.values).replace("{r}", "r")
    names = [name for name, _ in c.key] + [name for name, _ in c.values]
    where = c.when.replace("{r}", "r")
    positions = ", ".join(str(n + 1) for n in range(len(c.key)))
    return (
        f"SELECT {keys}, {values} FROM {source} r WHERE {where} GROUP BY {positions}",
        names,
    )


def recompute(conn: Connection) -> dict[str, Counter[tuple[Any, ...]]]:
    """Every rollup computed from the rows: {table: {(key..., value name): total}}, zeros left
    out (a rollup row may hold zeros once its rows moved away)."""
    d = Dialect(conn.dialect.name)
    result: dict[str, Counter[tuple[Any, ...]]] = {t: Counter() for t in ROLLUP_TABLES}
    parts = [(c, "requests") for c in request_contributions(d)] + [
        (c, "ratings") for c in rating_contributions(d) if c.recomputed
    ]
    for c, source in parts:
        sql, names = _grouped(c, source)
        key_count = len(c.key)
        for row in conn.execute(text(sql)):
            for name, value in zip(names[key_count:], row[key_count:], strict=True):
                if value:
                    result[c.table][(*_normal(row[:key_count]), name)] += int(value)
    return {t: +counted for t, counted in result.items()}


def stored(conn: Connection) -> dict[str, Counter[tuple[Any, ...]]]:
    """The rollup tables as they are, in the shape of `recompute`."""
    result: dict[str, Counter[tuple[Any, ...]]] = {}
    d = Dialect(conn.dialect.name)
    for table in ROLLUP_TABLES:
        contribution = next(
            c for c in [*request_contributions(d), *rating_contributions(d)] if c.table == table
        )
        keys = [name for name, _ in contribution.key]
        values = [name for name, _ in contribution.values]
        counted: Counter[tuple[Any, ...]] = Counter()
        for row in conn.execute(text(f"SELECT {', '.join(keys + values)} FROM {table}")):
            for name, value in zip(values, row[len(keys) :], strict=True):
                if value:
                    counted[(*_normal(row[: len(keys)]), name)] += int(value)
        result[table] = counted
    return result


def _normal(key: Any) -> tuple[Any, ...]:
    return tuple(bool(v) if isinstance(v, bool) else v for v in key)


def rebuild(conn: Connection) -> None:
    """Empty every rollup and fill it from the rows (the migration; a repair)."""
    d = Dialect(conn.dialect.name)
    for table in ROLLUP_TABLES:
        conn.execute(text(f"DELETE FROM {table}"))
    parts = [(c, "requests") for c in request_contributions(d)] + [
        (c, "ratings") for c in rating_contributions(d) if c.recomputed
    ]
    for c, source in parts:
        sql, names = _grouped(c, source)
        values = [name for name, _ in c.values]
        update = ", ".join(f"{v} = {c.table}.{v} + excluded.{v}" for v in values)
        keys = [name for name, _ in c.key]
        conn.execute(
            text(
                f"INSERT INTO {c.table} ({', '.join(names)}) {sql} "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {update}"
            )
        )
