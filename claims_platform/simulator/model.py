"""The synthetic payer source: an Oracle claims schema changing one committed row at a time.

`PayerSource` holds the current rows of the live entities (plans, members, enrollments, providers,
claims in flight) and, for each simulated day, draws the day's business events, runs them in time
order and hands every committed change to a sink. It knows nothing about files: the runner decides
where changes land. All randomness comes from one `random.Random(seed)`, drawn in the same order
whatever the output options, so every format and layout shows the same history.

Simulated business hours are 08:00-17:00 US Eastern (standard time), i.e. 13:00-22:00 UTC, so the
UTC date of every commit is the business date.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from operator import itemgetter
from typing import Any, Protocol

from claims_platform.contracts import TableContract

from .claims import ClaimDesk
from .codes import (
    COST_SHARE,
    ORG_PREFIXES,
    PILOT_PLAN_NAMES,
    PLANS,
    PROVIDER_KINDS,
    CostShare,
)
from .encoding import (
    US_PER_DAY,
    US_PER_SECOND,
    date_of,
    date_text,
    day_number,
    month_end,
    month_start,
    next_month_start,
    timestamp_text,
    years_between,
)
from .layout import TableLayout
from .people import Identities

TABLES = ("PLAN", "MEMBER", "ENROLLMENT", "PROVIDER", "CLAIM", "CLAIM_LINE")
BUSINESS_OPEN_US = 13 * 3600 * US_PER_SECOND
BUSINESS_SPAN_US = 9 * 3600 * US_PER_SECOND
HISTORY_DAYS = 21  # default days of claim history before the full load
HISTORY_DAYS_MAX = 3 * 365
_WEEKEND_FACTOR = 0.2
_CLAIMS_PER_MEMBER_DAY = 0.06
# Mean days a claim stays in the claims desk's aged pool: how old the claims that late
# replacements and voids name are, typically.
_AGED_POOL_DAYS = 90
_RUN_OUT_DAYS = 365  # claims may arrive for a year after coverage ends (timely filing)

# Maintenance events: (handler name, events per member per day, floor per day). The floor keeps
# every kind of change present in small demo populations.
_MAINTENANCE = (
    ("_ev_move", 0.0008, 0.1),
    ("_ev_phone", 0.0006, 0.1),
    ("_ev_last_name", 0.0003, 0.05),
    ("_ev_touch", 0.0008, 0.15),
    ("_ev_new_family", 0.0005, 0.12),
    ("_ev_newborn", 0.00015, 0.04),
    ("_ev_mistaken_member", 0.0003, 0.2),
    ("_ev_terminate_family", 0.0005, 0.12),
    ("_ev_plan_change", 0.0004, 0.15),
    ("_ev_provider_network", 0.0002, 0.2),
    ("_ev_provider_move", 0.0001, 0.05),
    ("_ev_provider_new", 0.0001, 0.03),
    ("_ev_provider_withdrawn", 0.00005, 0.2),
    ("_ev_plan_rename", 0.0, 0.2),
    ("_ev_pilot_plan", 0.0, 0.15),
)
# Replacements and voids (claims desk): also simulated in the history before the full load, so
# claims incurred then are corrected on the same terms as later ones.
_ADJUSTMENTS = (
    ("replace", 0.0015, 0.15),
    ("void", 0.0006, 0.1),
)


class Sink(Protocol):
    """Receives committed changes (in commit order) and rows leaving memory for good."""

    def emit(self, table: str, op: str, row: list[Any], ts: int, ts_text: str) -> None: ...
    def retire(self, table: str, row: list[Any]) -> None: ...


class PayerSource:
    """The state and daily business of the synthetic payer (see the module docstring)."""

    def __init__(
        self,
        contracts: Mapping[str, TableContract],
        *,
        seed: int,
        members: int,
        start: date,
        sink: Sink,
        history_days: int = HISTORY_DAYS,
    ) -> None:
        missing = [t for t in TABLES if t not in contracts]
        if missing:
            raise ValueError(f"the simulator needs contracts for {missing}")
        if members < 1:
            raise ValueError("members must be at least 1")
        if not 0 <= history_days <= HISTORY_DAYS_MAX:
            raise ValueError(f"history_days must be between 0 and {HISTORY_DAYS_MAX}")
        self.rng = random.Random(seed)
        self.population = members
        self.sink = sink
        self.layouts = {t: TableLayout(contracts[t]) for t in TABLES}
        self.P = self.layouts["PLAN"]
        self.M = self.layouts["MEMBER"]
        self.E = self.layouts["ENROLLMENT"]
        self.V = self.layouts["PROVIDER"]
        self.ids = Identities(self.rng)
        self.start_day = day_number(start)
        self.history_days = history_days
        self.today = self.start_day
        self.loading = True
        self._last_us = 0
        pool_size = max(50, members // 10)
        finals_per_day = members * _CLAIMS_PER_MEMBER_DAY * (5 + 2 * _WEEKEND_FACTOR) / 7
        self.desk = ClaimDesk(
            self,
            self.layouts["CLAIM"],
            self.layouts["CLAIM_LINE"],
            pool_size,
            aged_admission=min(1.0, pool_size / (finals_per_day * _AGED_POOL_DAYS)),
        )

        self.plans: dict[str, list[Any]] = {}
        self._plans_by_lob: dict[str, list[str]] = {}
        self.members: dict[str, list[Any]] = {}
        self._profile: dict[str, tuple[int, str]] = {}  # member -> (birth day, gender)
        self._families: dict[str, list[str]] = {}  # subscriber -> members sharing the coverage
        self._family_ids: list[str] = []
        self._claimants: list[str] = []
        self.enrollments: dict[str, list[Any]] = {}
        self._member_enrollments: dict[str, list[str]] = {}
        self.providers: dict[str, list[Any]] = {}
        self._pools: dict[str, list[str]] = {k.name: [] for k in PROVIDER_KINDS}
        self._pool_all: list[str] = []
        self._later: dict[int, list[tuple[str, Any]]] = {}
        self._next = {"plan": 1, "member": 1, "enrollment": 1, "provider": 1}
        self._removed_members = 0

    # --- clock and output ----------------------------------------------------------------------

    def commit(self, at: int) -> tuple[int, str]:
        """Commit time for a change wanted at `at`: strictly after the previous commit."""
        ts = at if at > self._last_us else self._last_us + 1
        self._last_us = ts
        return ts, timestamp_text(ts)

    def emit(self, table: str, op: str, row: list[Any], ts: int, ts_text: str) -> None:
        if not self.loading:
            self.sink.emit(table, op, row, ts, ts_text)

    def retire(self, table: str, row: list[Any]) -> None:
        self.sink.retire(table, row)

    def _put(self, table: TableLayout, op: str, row: list[Any], at: int) -> list[Any]:
        ts, text = self.commit(at)
        if op != "D":
            row[table.UPDATED_AT] = text
        self.emit(table.name, op, row, ts, text)
        return row

    def _update(
        self, table: TableLayout, store: dict[str, list[Any]], key: str, at: int, **changes: Any
    ) -> None:
        row = store[key].copy()
        for name, value in changes.items():
            row[getattr(table, name)] = value
        store[key] = self._put(table, "U", row, at)

    def _time_on(self, day: int) -> int:
        return day * US_PER_DAY + BUSINESS_OPEN_US + int(self.rng.random() * BUSINESS_SPAN_US)

    def _past_text(self, days_back_max: int, days_back_min: int = 1) -> str:
        """UPDATED_AT of a row last changed before the simulation started."""
        day = self.start_day - self.rng.randint(days_back_min, max(days_back_min, days_back_max))
        return timestamp_text(self._time_on(day))

    def _id(self, kind: str) -> str:
        n = self._next[kind]
        self._next[kind] = n + 1
        if kind == "plan":
            return f"PLN{n:03d}"
        if kind == "member":
            return f"M{n:07d}"
        if kind == "enrollment":
            return f"E{n:07d}"
        return f"P{n:06d}"

    def _pick(self, seq: Any) -> Any:
        return seq[int(self.rng.random() * len(seq))]

    def _poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        rng = self.rng
        if lam > 30:
            return max(0, round(rng.gauss(lam, math.sqrt(lam))))
        limit, k, p = math.exp(-lam), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k

    def _later_at(self, day: int, handler: str, payload: Any) -> None:
        self._later.setdefault(day, []).append((handler, payload))

    # --- context for the claims desk -----------------------------------------------------------

    def random_claimant(self) -> str:
        return self._pick(self._claimants)

    def member_profile(self, member_id: str) -> tuple[int, str]:
        return self._profile[member_id]

    def coverage(self, member_id: str, day: int) -> str | None:
        """Plan of the member's enrollment covering `day`, if any."""
        E, text = self.E, date_text(day)
        for eid in self._member_enrollments.get(member_id, ()):
            row = self.enrollments[eid]
            term = row[E.TERMINATION_DATE]
            if row[E.EFFECTIVE_DATE] <= text and (term is None or text <= term):
                return row[E.PLAN_ID]
        return None

    def last_plan(self, member_id: str) -> str | None:
        eids = self._member_enrollments.get(member_id)
        return self.enrollments[eids[-1]][self.E.PLAN_ID] if eids else None

    def plan_design(self, plan_id: str | None) -> tuple[str, CostShare]:
        row = self.plans.get(plan_id or "")
        if row is None:
            return "COMMERCIAL", COST_SHARE[("COMMERCIAL", "PPO")]
        lob = row[self.P.LINE_OF_BUSINESS]
        return lob, COST_SHARE[(lob, row[self.P.PRODUCT_TYPE])]

    def random_provider(self, kind: str) -> str | None:
        pool = self._pools.get(kind)
        return self._pick(pool) if pool else None

    def in_network(self, provider_id: str) -> bool:
        return self.providers[provider_id][self.V.NETWORK_STATUS] == "IN"

    # --- the initial state ---------------------------------------------------------------------

    def bootstrap(self) -> None:
        """Build the state the full load copies: plans, providers, members and recent claims."""
        for name, lob, product, funding in PLANS:
            row = self._plan_row(self._id("plan"), name, lob, product, funding)
            row[self.P.UPDATED_AT] = self._past_text(900, 400)
            self.plans[row[self.P.PLAN_ID]] = row
            self._plans_by_lob.setdefault(lob, []).append(row[self.P.PLAN_ID])
        kinds = list(PROVIDER_KINDS)
        provider_count = max(len(kinds) * 2, self.population // 8)
        weights = [k.weight for k in kinds]
        for i in range(provider_count):
            kind = kinds[i] if i < len(kinds) else self.rng.choices(kinds, weights)[0]
            row = self._provider_row(kind.name)
            row[self.V.UPDATED_AT] = self._past_text(700)
            self._add_provider(row, kind.name)
        while len(self.members) < self.population:
            self._bootstrap_family(self.population - len(self.members))
        # Claims of the history before the load: replay their life cycle without emitting
        # anything. The intake is the daily one, so a lag triangle shows no step at the start date.
        for day in range(self.start_day - self.history_days, self.start_day):
            self.today = day
            events: list[tuple[int, int, Callable[[int, Any], None], Any]] = []
            factor = 1.0 if date_of(day).weekday() < 5 else _WEEKEND_FACTOR
            lam = self.population * _CLAIMS_PER_MEMBER_DAY * factor
            for _ in range(self._poisson(lam)):
                events.append((self._time_on(day), len(events), self.desk.receive, None))
            for claim_id in self.desk.due(day):
                events.append((self._time_on(day), len(events), self.desk.step, claim_id))
            for name, rate, floor in _ADJUSTMENTS:
                handler = getattr(self.desk, name)
                for _ in range(self._poisson(max(self.population * rate, floor) * factor)):
                    events.append((self._time_on(day), len(events), handler, None))
            events.sort(key=itemgetter(0, 1))
            for at, _, handler, arg in events:
                handler(at, arg)
        self.today = self.start_day

    def snapshot(self, table: str) -> list[list[Any]] | Iterator[list[Any]]:
        """Current rows of a table (the full load reads this before any change)."""
        if table == "CLAIM":
            return self.desk.rows()[0]
        if table == "CLAIM_LINE":
            return self.desk.rows()[1]
        return iter(self._store(table).values())

    def live_rows(self, table: str) -> Iterator[list[Any]]:
        """Rows still held in memory (claims that are final have been retired already)."""
        return iter(self.snapshot(table))

    def finish_load(self) -> None:
        """The full load is written: from now on changes are emitted."""
        self.loading = False
        self.emit = self.sink.emit  # type: ignore[method-assign]  # skip the loading check per row
        self.desk.finish_load()

    def _store(self, table: str) -> dict[str, list[Any]]:
        return {
            "PLAN": self.plans,
            "MEMBER": self.members,
            "ENROLLMENT": self.enrollments,
            "PROVIDER": self.providers,
        }[table]

    def _plan_row(self, plan_id: str, name: str, lob: str, product: str, funding: str) -> list[Any]:
        P = self.P
        row = P.blank()
        row[P.PLAN_ID] = plan_id
        row[P.PLAN_NAME] = name
        row[P.LINE_OF_BUSINESS] = lob
        row[P.PRODUCT_TYPE] = product
        row[P.FUNDING_TYPE] = funding
        return row

    def _provider_row(self, kind_name: str) -> list[Any]:
        V, ids, rnd = self.V, self.ids, self.rng.random
        kind = next(k for k in PROVIDER_KINDS if k.name == kind_name)
        row = V.blank()
        row[V.PROVIDER_ID] = self._id("provider")
        row[V.NPI] = ids.npi()
        row[V.ENTITY_TYPE_CODE] = kind.entity_type
        t = int(rnd() * len(kind.taxonomies))
        row[V.TAXONOMY_CODE] = kind.taxonomies[t]
        city, state, zip5 = ids.place()
        if kind.entity_type == "1":
            gender = ids.gender()
            credential = kind.credentials[t] if kind.credentials else "MD"
            name = f"{ids.first_name(gender)} {ids.last_name()} {credential}"
        else:
            name = f"{self._pick(ORG_PREFIXES)} {self._pick(kind.org_suffixes)}"
            if rnd() < 0.4:
                name += f" - {city}"
            if rnd() < 0.2:
                name += self._pick((", LLC", ", Inc.", ", PLLC"))
        row[V.PROVIDER_NAME] = name
        row[V.STATE] = state
        row[V.ZIP5] = zip5
        row[V.NETWORK_STATUS] = "IN" if rnd() < 0.85 else "OUT"
        return row

    def _add_provider(self, row: list[Any], kind: str) -> None:
        provider_id = row[self.V.PROVIDER_ID]
        self.providers[provider_id] = row
        self._pools[kind].append(provider_id)
        self._pool_all.append(provider_id)

    def _family_plan(self) -> tuple[str, str]:
        r = self.rng.random()
        lob = "COMMERCIAL" if r < 0.65 else "MEDICARE_ADVANTAGE" if r < 0.85 else "MEDICAID"
        return lob, self._pick(self._plans_by_lob[lob])

    def _family_people(self, lob: str, on_day: int, limit: int) -> list[list[Any]]:
        """Member rows (UPDATED_AT unset) of a new subscriber family, subscriber first."""
        rng, ids = self.rng, self.ids
        if lob == "MEDICARE_ADVANTAGE":
            sub_age = rng.randint(65, 92)
        elif lob == "MEDICAID":
            sub_age = rng.randint(19, 50)
        else:
            sub_age = rng.randint(22, 64)
        sub_born = on_day - sub_age * 365 - rng.randint(0, 364)
        last = ids.last_name()
        city, state, zip5 = ids.place()
        address = (ids.street_address(), city, state, zip5)
        phone = ids.phone()
        sub_gender = ids.gender()
        people = [self._member_row(None, "18", sub_gender, sub_born, last, address, phone)]
        sub_id = people[0][self.M.MEMBER_ID]
        if lob != "MEDICARE_ADVANTAGE" and rng.random() < (0.5 if lob == "COMMERCIAL" else 0.2):
            gender = {"F": "M", "M": "F"}.get(sub_gender, ids.gender())
            born = sub_born + rng.randint(-6 * 365, 6 * 365)
            spouse_last = last if rng.random() < 0.8 else ids.last_name()
            people.append(self._member_row(sub_id, "01", gender, born, spouse_last, address, phone))
        if lob != "MEDICARE_ADVANTAGE":
            oldest = min(25 if lob == "COMMERCIAL" else 18, sub_age - 18)
            kids = rng.choices((0, 1, 2, 3, 4), (40, 20, 25, 10, 5))[0] if oldest > 0 else 0
            for _ in range(kids):
                born = on_day - rng.randint(0, oldest * 365)
                people.append(
                    self._member_row(sub_id, "19", ids.gender(), born, last, address, phone)
                )
        return people[:limit]

    def _member_row(
        self,
        subscriber: str | None,
        relationship: str,
        gender: str,
        born: int,
        last: str,
        address: tuple[str, str, str, str],
        phone: str,
    ) -> list[Any]:
        M, ids = self.M, self.ids
        row = M.blank()
        member_id = self._id("member")
        row[M.MEMBER_ID] = member_id
        row[M.SUBSCRIBER_ID] = subscriber or member_id
        row[M.RELATIONSHIP_CODE] = relationship
        first = ids.first_name(gender)
        row[M.FIRST_NAME] = first
        row[M.LAST_NAME] = last
        row[M.BIRTH_DATE] = date_text(born)
        row[M.GENDER] = gender
        row[M.SSN] = ids.ssn()
        row[M.ADDRESS_LINE1], row[M.CITY], row[M.STATE], row[M.ZIP5] = address
        age = years_between(born, self.today)
        row[M.PHONE] = phone if age < 18 or self.rng.random() < 0.5 else ids.phone()
        row[M.EMAIL] = ids.email(first, last) if age >= 13 else None
        self._profile[member_id] = (born, gender)
        return row

    def _enrollment_row(
        self, member_id: str, plan_id: str, eff: int, term: int | None
    ) -> list[Any]:
        E = self.E
        row = E.blank()
        row[E.ENROLLMENT_ID] = self._id("enrollment")
        row[E.MEMBER_ID] = member_id
        row[E.PLAN_ID] = plan_id
        row[E.EFFECTIVE_DATE] = date_text(eff)
        row[E.TERMINATION_DATE] = None if term is None else date_text(term)
        return row

    def _add_member(self, row: list[Any], family: bool = True) -> None:
        member_id = row[self.M.MEMBER_ID]
        self.members[member_id] = row
        if not family:
            return
        subscriber = row[self.M.SUBSCRIBER_ID]
        if subscriber not in self._families:
            self._families[subscriber] = []
            self._family_ids.append(subscriber)
        self._families[subscriber].append(member_id)
        self._claimants.append(member_id)

    def _add_enrollment(self, row: list[Any]) -> None:
        eid = row[self.E.ENROLLMENT_ID]
        self.enrollments[eid] = row
        self._member_enrollments.setdefault(row[self.E.MEMBER_ID], []).append(eid)

    def _bootstrap_family(self, limit: int) -> None:
        rng = self.rng
        lob, plan_id = self._family_plan()
        people = self._family_people(lob, self.start_day, limit)
        # Coverage began on the first of a month up to six years before the claim history, more
        # often recently: claims drawn in the history then find coverage as they do later.
        first_day = self.start_day - self.history_days
        eff = month_start(first_day - int(6 * 365 * rng.random() ** 2) - 1)
        r = rng.random()
        spans: list[tuple[str, int, int | None]]
        if r < 0.08 and eff < self.start_day - 400:
            # An earlier span in another plan of the same line of business: a past plan change.
            first = month_start(eff - rng.randint(60, 900))
            other = self._pick(self._plans_by_lob[lob])
            spans = [(other, first, eff - 1), (plan_id, eff, None)]
        elif r < 0.13:
            # Coverage that ended a while ago: a former member.
            term = month_end(self.start_day - rng.randint(30, 300))
            spans = [(plan_id, min(eff, month_start(term)), term)]
        elif r < 0.16:
            spans = [(plan_id, eff, month_end(self.start_day))]  # terminating this month
        else:
            spans = [(plan_id, eff, None)]
        ended = spans[-1][2]
        if ended is not None:
            self._retire_later(people[0][self.M.MEMBER_ID], ended)
        for row in people:
            row[self.M.UPDATED_AT] = self._past_text(500)
            self._add_member(row)
            born = self._profile[row[self.M.MEMBER_ID]][0]
            for span_plan, span_eff, span_term in spans:
                member_eff = max(span_eff, month_start(born))
                if span_term is not None and member_eff > span_term:
                    continue
                enrollment = self._enrollment_row(
                    row[self.M.MEMBER_ID], span_plan, member_eff, span_term
                )
                enrollment[self.E.UPDATED_AT] = self._past_text(400)
                self._add_enrollment(enrollment)

    # --- a simulated day -----------------------------------------------------------------------

    def run_day(self, k: int) -> None:
        """Run day `k` (0 = the start date): every change is emitted in commit order."""
        day = self.start_day + k
        self.today = day
        weekday = date_of(day).weekday() < 5
        factor = 1.0 if weekday else _WEEKEND_FACTOR
        events: list[tuple[int, int, Callable[[int, Any], None], Any]] = []

        def add(handler: Callable[[int, Any], None], arg: Any = None) -> None:
            events.append((self._time_on(day), len(events), handler, arg))

        for _ in range(self._poisson(self.population * _CLAIMS_PER_MEMBER_DAY * factor)):
            add(self.desk.receive)
        for claim_id in self.desk.due(day):
            add(self.desk.step, claim_id)
        for handler, payload in self._later.pop(day, []):
            add(getattr(self, handler), payload)
        for name, rate, floor in (*_MAINTENANCE, *_ADJUSTMENTS):
            handler = getattr(self.desk, name) if hasattr(self.desk, name) else getattr(self, name)
            for _ in range(self._poisson(max(self.population * rate, floor) * factor)):
                add(handler)
        events.sort(key=itemgetter(0, 1))
        for at, _, handler, arg in events:
            handler(at, arg)

    # --- member and enrollment events ----------------------------------------------------------

    def _random_family(self) -> list[str] | None:
        if not self._family_ids:
            return None
        return self._families[self._pick(self._family_ids)]

    def _open_enrollments(self, member_id: str) -> list[str]:
        E = self.E
        return [
            eid
            for eid in self._member_enrollments.get(member_id, ())
            if self.enrollments[eid][E.TERMINATION_DATE] is None
        ]

    def _family_coverage(self, family: list[str]) -> tuple[str, list[str]] | None:
        """(current plan, open enrollment ids) of a family with only current open spans."""
        E, today = self.E, date_text(self.today)
        eids = [eid for member in family for eid in self._open_enrollments(member)]
        if not eids or any(self.enrollments[e][E.EFFECTIVE_DATE] > today for e in eids):
            return None  # no coverage, or a future span pending: leave the family alone
        return self.enrollments[eids[0]][E.PLAN_ID], eids

    def _ev_move(self, at: int, _arg: Any = None) -> None:
        family = self._random_family()
        if family is None:
            return
        city, state, zip5 = self.ids.place()
        line1 = self.ids.street_address()
        for member_id in family:
            self._update(
                self.M,
                self.members,
                member_id,
                at,
                ADDRESS_LINE1=line1,
                CITY=city,
                STATE=state,
                ZIP5=zip5,
            )

    def _ev_phone(self, at: int, _arg: Any = None) -> None:
        member_id = self.random_claimant()
        self._update(self.M, self.members, member_id, at, PHONE=self.ids.phone())

    def _ev_last_name(self, at: int, _arg: Any = None) -> None:
        member_id = self.random_claimant()
        born, _ = self._profile[member_id]
        if years_between(born, self.today) < 18:
            return
        last = self.ids.last_name()
        first = self.members[member_id][self.M.FIRST_NAME]
        self._update(
            self.M, self.members, member_id, at, LAST_NAME=last, EMAIL=self.ids.email(first, last)
        )

    def _ev_touch(self, at: int, _arg: Any = None) -> None:
        """A no-op update: the application rewrites the row, only UPDATED_AT changes."""
        self._update(self.M, self.members, self.random_claimant(), at)

    def _ev_new_family(self, at: int, _arg: Any = None) -> None:
        lob, plan_id = self._family_plan()
        people = self._family_people(lob, self.today, 10)
        # New coverage starts the first of next month, or retroactively this month early on.
        eff = (
            month_start(self.today)
            if date_of(self.today).day <= 5
            else next_month_start(self.today)
        )
        for row in people:
            self._put(self.M, "I", row, at)
            self._add_member(row)
            enrollment = self._enrollment_row(row[self.M.MEMBER_ID], plan_id, eff, None)
            self._put(self.E, "I", enrollment, at)
            self._add_enrollment(enrollment)

    def _ev_newborn(self, at: int, _arg: Any = None) -> None:
        family = self._random_family()
        if family is None:
            return
        coverage = self._family_coverage(family)
        subscriber = self.members[family[0]]
        born_sub, _ = self._profile[family[0]]
        if coverage is None or not 18 <= years_between(born_sub, self.today) <= 45:
            return
        plan_id, _ = coverage
        born = self.today - self.rng.randint(0, 20)
        M = self.M
        address = (
            subscriber[M.ADDRESS_LINE1],
            subscriber[M.CITY],
            subscriber[M.STATE],
            subscriber[M.ZIP5],
        )
        row = self._member_row(
            family[0],
            "19",
            self.ids.gender(),
            born,
            subscriber[M.LAST_NAME],
            address,
            subscriber[M.PHONE],
        )
        self._put(M, "I", row, at)
        self._add_member(row)
        enrollment = self._enrollment_row(row[M.MEMBER_ID], plan_id, month_start(born), None)
        self._put(self.E, "I", enrollment, at)
        self._add_enrollment(enrollment)

    def _ev_mistaken_member(self, at: int, _arg: Any = None) -> None:
        """A dependent keyed in error: inserted with coverage, deleted a few days later."""
        family = self._random_family()
        if family is None:
            return
        coverage = self._family_coverage(family)
        if coverage is None:
            return
        plan_id, _ = coverage
        M, subscriber = self.M, self.members[family[0]]
        born = self.today - self.rng.randint(365, 17 * 365)
        address = (
            subscriber[M.ADDRESS_LINE1],
            subscriber[M.CITY],
            subscriber[M.STATE],
            subscriber[M.ZIP5],
        )
        row = self._member_row(
            family[0],
            "19",
            self.ids.gender(),
            born,
            subscriber[M.LAST_NAME],
            address,
            subscriber[M.PHONE],
        )
        self._put(M, "I", row, at)
        self._add_member(row, family=False)  # never a claimant: no claim may point at it
        enrollment = self._enrollment_row(row[M.MEMBER_ID], plan_id, month_start(self.today), None)
        self._put(self.E, "I", enrollment, at)
        self._add_enrollment(enrollment)
        self._later_at(self.today + self.rng.randint(1, 4), "_remove_member", row[M.MEMBER_ID])

    def _remove_member(self, at: int, member_id: str) -> None:
        for eid in self._member_enrollments.pop(member_id, []):
            self._put(self.E, "D", self.enrollments.pop(eid), at)
        row = self.members.pop(member_id)
        self._put(self.M, "D", row, at)
        self._removed_members += 1
        if self._removed_members % 2:
            # Every other one is keyed again under the same MEMBER_ID once the paperwork is sorted
            # out (a counter, not a coin, so even short runs show a re-inserted key).
            self._later_at(self.today + self.rng.randint(2, 8), "_restore_member", row)

    def _restore_member(self, at: int, row: list[Any]) -> None:
        M = self.M
        family = self._families.get(row[M.SUBSCRIBER_ID])
        coverage = self._family_coverage(family) if family else None
        if coverage is None:
            return
        row = self._put(M, "I", row.copy(), at)
        self._add_member(row)
        enrollment = self._enrollment_row(
            row[M.MEMBER_ID], coverage[0], month_start(self.today), None
        )
        self._put(self.E, "I", enrollment, at)
        self._add_enrollment(enrollment)

    def _ev_terminate_family(self, at: int, _arg: Any = None) -> None:
        family = self._random_family()
        coverage = self._family_coverage(family) if family else None
        if coverage is None:
            return
        end = month_end(self.today)
        for eid in coverage[1]:
            self._update(self.E, self.enrollments, eid, at, TERMINATION_DATE=date_text(end))
        self._retire_later(family[0], end)

    def _retire_later(self, subscriber: str, coverage_end: int) -> None:
        day = max(coverage_end, self.today) + _RUN_OUT_DAYS + self.rng.randint(0, 60)
        self._later_at(day, "_retire_family", subscriber)

    def _retire_family(self, _at: int, subscriber: str) -> None:
        """A family out of coverage for over a year leaves memory (its rows stay in the source).

        Nothing picks it any more (no claim, no demographic change), so memory follows the live
        population rather than every member who ever enrolled.
        """
        family = self._families.get(subscriber)
        if family is None or any(self._open_enrollments(m) for m in family):
            return
        del self._families[subscriber]
        self._family_ids.remove(subscriber)
        for member_id in family:
            self._claimants.remove(member_id)
            for eid in self._member_enrollments.pop(member_id, []):
                self.retire(self.E.name, self.enrollments.pop(eid))
            self.retire(self.M.name, self.members.pop(member_id))
            del self._profile[member_id]

    def _ev_plan_change(self, at: int, _arg: Any = None) -> None:
        """Terminate the family's spans at month end and open new ones in another plan."""
        family = self._random_family()
        coverage = self._family_coverage(family) if family else None
        if coverage is None:
            return
        plan_id, eids = coverage
        lob = self.plans[plan_id][self.P.LINE_OF_BUSINESS]
        choices = [p for p in self._plans_by_lob[lob] if p != plan_id]
        if not choices:
            return
        new_plan = self._pick(choices)
        eff = next_month_start(self.today)
        end = date_text(eff - 1)
        new_rows = []
        for eid in eids:
            self._update(self.E, self.enrollments, eid, at, TERMINATION_DATE=end)
            member_id = self.enrollments[eid][self.E.MEMBER_ID]
            enrollment = self._enrollment_row(member_id, new_plan, eff, None)
            self._put(self.E, "I", enrollment, at)
            self._add_enrollment(enrollment)
            new_rows.append(enrollment)
        days_left = eff - self.today
        if days_left > 2 and self.rng.random() < 0.25:
            change = (eids, new_rows, eff)
            self._later_at(
                self.today + self.rng.randint(1, days_left - 2), "_cancel_change", change
            )

    def _cancel_change(self, at: int, change: tuple[list[str], list[list[Any]], int]) -> None:
        """The member withdraws the plan change before it takes effect: new spans deleted."""
        old_eids, new_rows, eff = change
        E = self.E
        if self.today >= eff or any(r[E.ENROLLMENT_ID] not in self.enrollments for r in new_rows):
            return
        for row in new_rows:
            eid = row[E.ENROLLMENT_ID]
            self._put(E, "D", self.enrollments.pop(eid), at)
            self._member_enrollments[row[E.MEMBER_ID]].remove(eid)
        for eid in old_eids:
            self._update(E, self.enrollments, eid, at, TERMINATION_DATE=None)
        if eff - self.today > 1 and self.rng.random() < 0.5:
            self._later_at(
                self.today + self.rng.randint(1, eff - self.today - 1), "_redo_change", change
            )

    def _redo_change(self, at: int, change: tuple[list[str], list[list[Any]], int]) -> None:
        """The withdrawal is reversed: the same enrollment keys are inserted again."""
        old_eids, new_rows, eff = change
        E = self.E
        if self.today >= eff or any(self.enrollments[e][E.TERMINATION_DATE] for e in old_eids):
            return
        for eid in old_eids:
            self._update(E, self.enrollments, eid, at, TERMINATION_DATE=date_text(eff - 1))
        for row in new_rows:
            again = self._put(E, "I", row.copy(), at)
            self._add_enrollment(again)

    # --- provider and plan events --------------------------------------------------------------

    def _ev_provider_network(self, at: int, _arg: Any = None) -> None:
        provider_id = self._pick(self._pool_all)
        status = "OUT" if self.providers[provider_id][self.V.NETWORK_STATUS] == "IN" else "IN"
        self._update(self.V, self.providers, provider_id, at, NETWORK_STATUS=status)

    def _ev_provider_move(self, at: int, _arg: Any = None) -> None:
        _, state, zip5 = self.ids.place()
        self._update(self.V, self.providers, self._pick(self._pool_all), at, STATE=state, ZIP5=zip5)

    def _new_provider_kind(self) -> str:
        kinds = PROVIDER_KINDS
        return self.rng.choices(kinds, [k.weight for k in kinds])[0].name

    def _ev_provider_new(self, at: int, _arg: Any = None) -> None:
        kind = self._new_provider_kind()
        row = self._put(self.V, "I", self._provider_row(kind), at)
        self._add_provider(row, kind)

    def _ev_provider_withdrawn(self, at: int, _arg: Any = None) -> None:
        """A provider set up during credentialing and removed before seeing any member."""
        kind = self._new_provider_kind()
        row = self._put(self.V, "I", self._provider_row(kind), at)
        self.providers[row[self.V.PROVIDER_ID]] = row  # not in a pool: no claim points at it
        self._later_at(
            self.today + self.rng.randint(1, 5), "_remove_provider", (row[self.V.PROVIDER_ID], kind)
        )

    def _remove_provider(self, at: int, payload: tuple[str, str]) -> None:
        provider_id, kind = payload
        row = self.providers.pop(provider_id)
        self._put(self.V, "D", row, at)
        if self.rng.random() < 0.35:
            self._later_at(self.today + self.rng.randint(2, 10), "_restore_provider", (row, kind))

    def _restore_provider(self, at: int, payload: tuple[list[Any], str]) -> None:
        row, kind = payload
        row = row.copy()
        row[self.V.NETWORK_STATUS] = "IN"
        self._add_provider(self._put(self.V, "I", row, at), kind)

    def _ev_plan_rename(self, at: int, _arg: Any = None) -> None:
        catalogue = [p for plans in self._plans_by_lob.values() for p in plans]
        plan_id = self._pick(catalogue)
        name = self.plans[plan_id][self.P.PLAN_NAME]
        name = name[: -len(" Plus")] if name.endswith(" Plus") else name + " Plus"
        self._update(self.P, self.plans, plan_id, at, PLAN_NAME=name)

    def _ev_pilot_plan(self, at: int, _arg: Any = None) -> None:
        """A pilot plan set up and withdrawn again without enrolling anyone."""
        lob = self._pick(("COMMERCIAL", "MEDICARE_ADVANTAGE", "MEDICAID"))
        product = self._pick(("HMO", "PPO", "EPO", "HDHP"))
        funding = self._pick(("FULLY_INSURED", "ASO")) if lob == "COMMERCIAL" else "FULLY_INSURED"
        name = f"Summit {self._pick(PILOT_PLAN_NAMES)} {product} Pilot"
        row = self._put(
            self.P, "I", self._plan_row(self._id("plan"), name, lob, product, funding), at
        )
        self.plans[row[self.P.PLAN_ID]] = row
        self._later_at(self.today + self.rng.randint(1, 5), "_remove_pilot", row[self.P.PLAN_ID])

    def _remove_pilot(self, at: int, plan_id: str) -> None:
        row = self.plans.pop(plan_id)
        self._put(self.P, "D", row, at)
        if self.rng.random() < 0.5:
            self._later_at(self.today + self.rng.randint(1, 5), "_restore_pilot", row)

    def _restore_pilot(self, at: int, row: list[Any]) -> None:
        row = self._put(self.P, "I", row.copy(), at)
        self.plans[row[self.P.PLAN_ID]] = row
