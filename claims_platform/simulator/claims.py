"""The claims desk of the synthetic payer: intake, pend, adjudication, payment, replacement, void.

A claim lives in memory only while it is in flight. Once final (paid, denied or void) its rows are
handed to `retire` and dropped, so memory follows the claims in flight, not the claims ever seen;
two small bounded pools of final claims are kept as candidates for later replacements and voids.

Timing follows what actuarial run-out (lag triangles, completion factors) depends on: most claims
arrive within weeks of service, a few percent months later (up to past the plan's timely-filing
limit, and then mostly denied); a few pended claims wait months for medical review; and some
replacements and voids name claims paid months before.
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from itertools import accumulate
from typing import Any, Protocol

from .codes import (
    CAT_ER,
    CAT_OFFICE,
    CAT_PREVENTIVE,
    COMMON_DX_COUNT,
    DENIAL_REASONS,
    EM_VISITS,
    NOT_COVERED_REASON,
    OFTEN_BUNDLED,
    POA_VALUES,
    PREV,
    PRICE_FACTOR,
    PRICES,
    REVENUE_PRICES,
    SCENARIOS,
    SIDED,
    TIMELY_FILING_REASON,
    UNITS,
    VAX_ADMIN,
    CostShare,
    Scenario,
    icd10cm_codes,
    preventive_visit,
)
from .encoding import date_of, date_text, money, years_between
from .layout import TableLayout

# Procedures that make an office visit on the same claim a separately identifiable service (25).
_PROCEDURES_FOR_25 = frozenset(
    {"20610", "96372", "11102", "17000", "17110", "12001", "12002", "93000", "96374"}
)
_PCP_KINDS = frozenset({"pcp", "midlevel", "fqhc"})
_LOB_MA = "MEDICARE_ADVANTAGE"
_ZERO = money(0)
# Codes that may carry a modifier (the rest never do: skip the modifier draw for them).
_MODIFIED = SIDED | EM_VISITS | OFTEN_BUNDLED

# Days from the last date of service to receipt: a mixture, since one exponential cannot give both
# the bulk within weeks and the tail of months (resubmissions, coordination of benefits, providers
# billing in batches). (share, first day, mean extra days); the whole drawn with one random number.
_RECEIPT_LAG = ((0.82, 1, 7.0), (0.14, 14, 30.0), (0.04, 45, 90.0))
_RECEIPT_LAG_MAX = 400  # a few arrive after even the longest timely-filing limit
# Timely-filing limits (days after service) by line of business: Medicare's calendar year, typical
# commercial and Medicaid contract terms. A claim received later is denied (CARC 29) unless an
# exception applies (retroactive eligibility, coordination of benefits).
_TIMELY_FILING_DAYS = {"COMMERCIAL": 180, "MEDICAID": 180, _LOB_MA: 365}
_TIMELY_FILING_DENIED = 0.8
# Pended claims that go to medical review wait one to four months for a decision.
_REVIEW_SHARE = 0.08
_REVIEW_DAYS = (30, 120)
# Share of replacements and voids that name a claim from the aged pool (see ClaimDesk._final), and
# the oldest original they name: corrections are bound by timely filing too.
_AGED_PICK = 0.35
_ADJUSTMENT_MAX_DAYS = 365


class ClaimContext(Protocol):
    """What the claims desk needs from the rest of the source."""

    rng: random.Random
    today: int

    def commit(self, at: int) -> tuple[int, str]: ...
    def emit(self, table: str, op: str, row: list[Any], ts: int, ts_text: str) -> None: ...
    def retire(self, table: str, row: list[Any]) -> None: ...
    def random_claimant(self) -> str: ...
    def member_profile(self, member_id: str) -> tuple[int, str]: ...
    def coverage(self, member_id: str, day: int) -> str | None: ...
    def last_plan(self, member_id: str) -> str | None: ...
    def plan_design(self, plan_id: str | None) -> tuple[str, CostShare]: ...
    def random_provider(self, kind: str) -> str | None: ...
    def in_network(self, provider_id: str) -> bool: ...


class _Claim:
    """An in-flight claim: its current rows plus the amounts the adjudication will need."""

    __slots__ = (
        "allowed",
        "billed",
        "cats",
        "cost",
        "covered",
        "kind",
        "late",
        "lines",
        "restore",
        "row",
        "shown",
        "step",
    )

    def __init__(self) -> None:
        self.row: list[Any] = []
        self.lines: list[list[Any]] = []
        self.billed: list[int] = []  # cents per line, as billed
        self.allowed: list[int] = []  # cents per line the plan allows when it pays the line
        self.cats: list[int] = []  # cost-share category per line
        self.shown: list[tuple[int, int]] = []  # (allowed, paid) cents the line rows show now
        self.cost: CostShare | None = None
        self.kind = ""  # billing provider kind (PCP or specialist copay)
        self.covered = True
        self.late = False
        self.step = ""
        self.restore: tuple[list[Any], int, int, int] | None = None

    def add_line(self, line: list[Any], billed: int, allowed: int, cat: int) -> None:
        """Append a line not adjudicated yet (it shows zero allowed and paid)."""
        self.lines.append(line)
        self.billed.append(billed)
        self.allowed.append(allowed)
        self.cats.append(cat)
        self.shown.append((0, 0))


class ClaimDesk:
    """Creates claims and moves them through their life cycle, one committed change at a time."""

    def __init__(
        self,
        ctx: ClaimContext,
        claim: TableLayout,
        line: TableLayout,
        final_pool_size: int,
        aged_admission: float = 0.0,
    ) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.C = claim
        self.L = line
        self.claims: dict[str, _Claim] = {}
        self.preload_final: list[_Claim] = []  # final before the full load: loaded, then retired
        self.loading = True
        self._due: dict[int, list[str]] = {}
        # Final claims kept as candidates for a later replacement or void: two bounded samples.
        # The recent pool turns over within days (corrections right after payment); the aged pool
        # admits a claim with probability `aged_admission`, so its claims stay for months
        # (corrections after audits, recoupments). A claim is in at most one pool, so no claim is
        # replaced or voided twice.
        self._final_pool: list[_Claim] = []
        self._aged_pool: list[_Claim] = []
        self._final_pool_size = final_pool_size
        self._aged_admission = aged_admission
        self._next_id = 1
        self._scenario_cum = list(accumulate(s.weight for s in SCENARIOS))
        dx = icd10cm_codes()
        self._dx_all = dx
        self._dx_common = dx[:COMMON_DX_COUNT]
        self._poa_cum = list(accumulate(w for _, w in POA_VALUES))
        self._denial_cum = list(accumulate(w for _, _, w in DENIAL_REASONS))

    # --- scheduling ----------------------------------------------------------------------------

    def due(self, day: int) -> list[str]:
        """Claims whose next step falls on `day` (removed from the schedule)."""
        return self._due.pop(day, [])

    def _schedule(self, claim: _Claim, step: str, lo: int, hi: int) -> None:
        claim.step = step
        day = self.ctx.today + lo + int(self.rng.random() * (hi - lo + 1))
        self._due.setdefault(day, []).append(claim.row[self.C.CLAIM_ID])

    def step(self, at: int, claim_id: str) -> None:
        """Run the scheduled step of a claim (a claim deleted meanwhile is skipped)."""
        claim = self.claims.get(claim_id)
        if claim is None:
            return
        getattr(self, "_step_" + claim.step)(claim, at)

    def rows(self) -> tuple[list[list[Any]], list[list[Any]]]:
        """Current (claim rows, line rows) of the claims held: in flight, plus pre-load finals."""
        held = sorted(
            [*self.preload_final, *self.claims.values()], key=lambda c: c.row[self.C.CLAIM_ID]
        )
        return [c.row for c in held], [line for c in held for line in c.lines]

    def finish_load(self) -> None:
        """After the full load: claims already final leave memory like any final claim."""
        self.loading = False
        for claim in self.preload_final:
            self._retire(claim)
        self.preload_final = []

    # --- helpers -------------------------------------------------------------------------------

    def _new_id(self) -> str:
        claim_id = f"C{self._next_id:08d}"
        self._next_id += 1
        return claim_id

    def _put(self, table: TableLayout, op: str, row: list[Any], at: int) -> list[Any]:
        ts, text = self.ctx.commit(at)
        row[table.UPDATED_AT] = text
        self.ctx.emit(table.name, op, row, ts, text)
        return row

    def _update_claim(self, claim: _Claim, at: int, *changes: tuple[int, Any]) -> None:
        """Commit an update of the claim header: (column position, value) pairs."""
        row = claim.row.copy()
        for position, value in changes:
            row[position] = value
        claim.row = self._put(self.C, "U", row, at)

    def _totals(self, claim: _Claim) -> tuple[tuple[int, str], ...]:
        """Header totals as the sums of what the claim's current lines show."""
        C = self.C
        allowed = paid = 0
        for a, p in claim.shown:
            allowed += a
            paid += p
        return (
            (C.TOTAL_BILLED, money(sum(claim.billed))),
            (C.TOTAL_ALLOWED, money(allowed)),
            (C.TOTAL_PAID, money(paid)),
        )

    def _pick(self, seq: tuple[Any, ...] | list[Any]) -> Any:
        return seq[int(self.rng.random() * len(seq))]

    # --- intake --------------------------------------------------------------------------------

    def receive(self, at: int, _arg: object = None) -> None:
        """A new original claim arrives: header and lines inserted, status RECEIVED."""
        ctx, rng, rnd = self.ctx, self.rng, self.rng.random
        today = ctx.today
        for _attempt in range(8):
            member_id = ctx.random_claimant()
            born, gender = ctx.member_profile(member_id)
            sc = SCENARIOS[bisect(self._scenario_cum, rnd() * self._scenario_cum[-1])]
            if sc.gender and gender != sc.gender:
                continue
            stay = rng.randint(*sc.stay) if sc.stay[1] else 0
            thru = today - self._receipt_lag()
            start = thru - stay
            if start < born or years_between(born, start) < sc.min_age:
                continue
            plan_id = ctx.coverage(member_id, start)
            # Most claims fall in a covered span; a few (run-out after termination) do not.
            if plan_id is None and rnd() > 0.15:
                continue
            lob, cost = ctx.plan_design(plan_id or ctx.last_plan(member_id))
            if sc.lob and lob not in sc.lob:
                continue
            billing = ctx.random_provider(sc.billing)
            if billing is None:
                continue
            self._open(
                sc, member_id, born, billing, start, thru, lob, cost, plan_id is not None, at
            )
            return

    def _receipt_lag(self) -> int:
        """Days from the last date of service to receipt (see _RECEIPT_LAG)."""
        u = self.rng.random()
        for share, first, mean in _RECEIPT_LAG:
            if u < share:
                # The uniform rescaled within its component is uniform again: an exponential draw
                # by inversion, so the mixture costs one random number.
                extra = int(-mean * math.log(1.0 - u / share))
                return min(first + extra, _RECEIPT_LAG_MAX)
            u -= share
        return _RECEIPT_LAG[0][1]

    def _open(
        self,
        sc: Scenario,
        member_id: str,
        born: int,
        billing: str,
        start: int,
        thru: int,
        lob: str,
        cost: CostShare,
        covered: bool,
        at: int,
    ) -> None:
        ctx, rnd, C = self.ctx, self.rng.random, self.C
        claim = _Claim()
        claim.cost, claim.kind, claim.covered = cost, sc.billing, covered
        claim.late = ctx.today - thru > _TIMELY_FILING_DAYS.get(lob, 180)
        claim_id = self._new_id()
        age = years_between(born, start)
        in_network = ctx.in_network(billing)
        if sc.rendering == "self":
            rendering: str | None = billing
        elif sc.rendering and sc.form == "P":
            rendering = ctx.random_provider(sc.rendering)
        else:
            rendering = None
        pos = self._pick(sc.pos) if sc.form == "P" else None

        specs = []
        billed_prev = False
        for spec in sc.lines:
            billed_now = billed_prev if spec.follows else spec.prob >= 1.0 or rnd() < spec.prob
            billed_prev = billed_now
            if billed_now:
                specs.append(spec)
        if not specs:
            specs.append(sc.lines[0])
        codes = []
        for spec in specs:
            code = self._pick(spec.codes)
            if code == PREV:
                code = preventive_visit(age)
            elif code == VAX_ADMIN:
                code = "G0008" if lob == _LOB_MA else "90471"
            codes.append(code)
        wants_25 = any(c in _PROCEDURES_FOR_25 for c in codes)
        factor = PRICE_FACTOR.get(lob, 1.0)

        L = self.L
        n = len(specs)
        template = L.blank()
        template[L.CLAIM_ID] = claim_id
        template[L.PLACE_OF_SERVICE] = pos
        template[L.RENDERING_PROVIDER_ID] = rendering
        self._reset_line(template, 0)
        institutional = sc.form == "I"
        for i, (spec, code) in enumerate(zip(specs, codes, strict=True)):
            line = template.copy()
            line[L.LINE_NUMBER] = i + 1
            if institutional and spec.revenue == "0120":
                line_from, line_thru = start, max(start, thru)
            elif institutional:
                line_from = line_thru = start + int(rnd() * (thru - start + 1))
            else:
                line_from = line_thru = start if i == 0 else thru if i == n - 1 else start + 1
                line_from = line_thru = min(line_from, thru)
            line[L.SERVICE_FROM_DATE] = date_text(line_from)
            line[L.SERVICE_THRU_DATE] = date_text(line_thru)
            line[L.PROCEDURE_CODE] = code
            if code is not None and code in _MODIFIED:
                line[L.MODIFIER_1], line[L.MODIFIER_2] = self._modifiers(code, i, wants_25)
            if institutional:
                line[L.REVENUE_CODE] = spec.revenue
            if code in UNITS:
                low, high = UNITS[code]
                units = low + int(rnd() * (high - low + 1))
            elif spec.revenue == "0120":
                units = max(1, thru - start)
            else:
                units = 1
            line[L.UNITS] = units
            if code is not None:
                price = PRICES[code]
            elif sc.billing == "snf" and spec.revenue == "0120":
                price = 60_000  # a skilled-nursing day costs a fraction of a hospital day
            else:
                price = REVENUE_PRICES.get(spec.revenue or "", 10_000)
            base = price * units
            billed = math.ceil(base * (1.6 + 1.6 * rnd()) / 100) * 100
            allowed = round(base * factor * (0.95 + 0.1 * rnd()))
            if not in_network:
                allowed = round(allowed * 0.7)
            line[L.BILLED_AMT] = money(billed)
            claim.add_line(line, billed, min(allowed, billed), spec.category)

        row = C.blank()
        row[C.CLAIM_ID] = claim_id
        row[C.FREQUENCY_CODE] = "1"
        row[C.CLAIM_FORM_TYPE] = sc.form
        row[C.MEMBER_ID] = member_id
        row[C.BILLING_PROVIDER_ID] = billing
        if sc.form == "I":
            # The last digit of a UB-04 type of bill is the claim frequency; some systems drop the
            # leading zero.
            bill_type = sc.bill_type + "1"
            row[C.BILL_TYPE_CODE] = bill_type.lstrip("0") if rnd() < 0.1 else bill_type
        row[C.STATEMENT_FROM_DATE] = date_text(start)
        row[C.STATEMENT_THRU_DATE] = date_text(thru)
        row[C.RECEIVED_DATE] = date_text(ctx.today)
        row[C.CLAIM_STATUS] = "RECEIVED"
        row[C.DIAGNOSIS_CODES] = self._diagnoses(sc, age)
        for position, value in self._totals(claim):
            row[position] = value
        claim.row = row
        self._insert(claim, at)
        if self.rng.random() < 0.3:
            self._schedule(claim, "pend", 1, 2)
        else:
            self._schedule(claim, "adjudicate", 1, 4)

    def _insert(self, claim: _Claim, at: int) -> None:
        self.claims[claim.row[self.C.CLAIM_ID]] = claim
        self._put(self.C, "I", claim.row, at)
        for line in claim.lines:
            self._put(self.L, "I", line, at)

    def _reset_line(self, line: list[Any], billed: int) -> None:
        """Amounts of a line not adjudicated yet: billed known, everything else zero."""
        L = self.L
        zero = "0.00"
        line[L.BILLED_AMT] = money(billed) if billed else zero
        line[L.ALLOWED_AMT] = line[L.PAID_AMT] = zero
        line[L.DEDUCTIBLE_AMT] = line[L.COPAY_AMT] = line[L.COINSURANCE_AMT] = zero
        line[L.LINE_STATUS] = "PENDED"
        line[L.ADJUSTMENTS] = "[]"

    def _modifiers(
        self, code: str | None, index: int, wants_25: bool
    ) -> tuple[str | None, str | None]:
        rnd = self.rng.random
        if code is None:
            return None, None
        if code in SIDED:
            side = "LT" if rnd() < 0.5 else "RT"
            return side, ("59" if rnd() < 0.1 else None)
        if code in EM_VISITS and wants_25 and rnd() < 0.85:
            return "25", None
        if index > 0 and code in OFTEN_BUNDLED and rnd() < 0.3:
            return "59", None
        return None, None

    def _diagnoses(self, sc: Scenario, age: int) -> str:
        rnd = self.rng.random
        count = 1 + bisect((0.4, 0.7, 0.9), rnd())
        pool = sc.dx
        if sc.lines[0].codes[0] == PREV and age < 18:
            pool = ("Z00129", "Z00121")
        codes = [self._pick(pool)]
        while len(codes) < count:
            code = self._pick(self._dx_common if rnd() < 0.6 else self._dx_all)
            if code not in codes:
                codes.append(code)
        inpatient = sc.bill_type == "011"
        parts = []
        for seq, code in enumerate(codes, 1):
            if inpatient:
                poa = '"' + POA_VALUES[bisect(self._poa_cum, rnd() * self._poa_cum[-1])][0] + '"'
            else:
                poa = "null"  # present-on-admission applies to inpatient claims only
            parts.append(f'{{"seq":{seq},"code":"{code}","poa":{poa}}}')
        return "[" + ",".join(parts) + "]"

    # --- life-cycle steps ----------------------------------------------------------------------

    def _touch_lines(self, claim: _Claim, at: int) -> None:
        for i, line in enumerate(claim.lines):
            claim.lines[i] = self._put(self.L, "U", line.copy(), at)

    def _step_pend(self, claim: _Claim, at: int) -> None:
        self._update_claim(claim, at, (self.C.CLAIM_STATUS, "PENDED"))
        self._touch_lines(claim, at)
        r = self.rng.random()
        if r < 0.06:
            self._schedule(claim, "delete", 1, 6)  # e.g. a duplicate submission removed
        elif r < 0.16 and len(claim.lines) > 1:
            self._schedule(claim, "drop_line", 1, 3)
        elif r >= 1.0 - _REVIEW_SHARE:
            self._schedule(claim, "adjudicate", *_REVIEW_DAYS)  # medical review
        else:
            self._schedule(claim, "adjudicate", 2, 10)

    def _step_drop_line(self, claim: _Claim, at: int) -> None:
        line = claim.lines.pop()
        saved = (line, claim.billed.pop(), claim.allowed.pop(), claim.cats.pop())
        claim.shown.pop()
        self._put_delete(self.L, line, at)
        # Some removed lines are restored under the same key before adjudication.
        claim.restore = saved if self.rng.random() < 0.4 else None
        self._update_claim(claim, at, *self._totals(claim))
        self._schedule(claim, "adjudicate", 1, 5)

    def _put_delete(self, table: TableLayout, row: list[Any], at: int) -> None:
        ts, text = self.ctx.commit(at)
        # A delete carries the before image; the writer reduces it to the key when asked to.
        self.ctx.emit(table.name, "D", row, ts, text)

    def _step_delete(self, claim: _Claim, at: int) -> None:
        for line in reversed(claim.lines):
            self._put_delete(self.L, line, at)
        self._put_delete(self.C, claim.row, at)
        del self.claims[claim.row[self.C.CLAIM_ID]]

    def _step_adjudicate(self, claim: _Claim, at: int) -> None:
        L, rnd = self.L, self.rng.random
        if claim.restore is not None:
            line, billed, allowed, cat = claim.restore
            claim.restore = None
            claim.add_line(self._put(L, "I", line.copy(), at), billed, allowed, cat)
        if not claim.covered:
            claim_denial: tuple[str, str] | None = NOT_COVERED_REASON
        elif claim.late and rnd() < _TIMELY_FILING_DENIED:
            claim_denial = TIMELY_FILING_REASON
        elif rnd() < 0.03:
            claim_denial = ("CO", "16")
        else:
            claim_denial = None
        denied_count = 0
        for i, old in enumerate(claim.lines):
            reason = claim_denial
            if reason is None and len(claim.lines) > 1:
                bundled = old[L.PROCEDURE_CODE] in OFTEN_BUNDLED
                if rnd() < (0.2 if bundled else 0.04):
                    reason = ("CO", "97") if bundled else self._denial_reason()
            elif reason is None and rnd() < 0.04:
                reason = self._denial_reason()
            line = old.copy()
            billed = claim.billed[i]
            if reason is not None:
                denied_count += 1
                claim.shown[i] = (0, 0)
                self._fill_line(line, billed, 0, 0, 0, 0, "DENIED")
                amount = money(billed)
                line[L.ADJUSTMENTS] = (
                    f'[{{"group":"{reason[0]}","carc":"{reason[1]}","amount":{amount}}}]'
                    if billed
                    else "[]"
                )
            else:
                allowed = claim.allowed[i]
                deductible, copay, coinsurance = self._cost_share(claim, i, allowed)
                claim.shown[i] = (allowed, allowed - deductible - copay - coinsurance)
                self._fill_line(line, billed, allowed, deductible, copay, coinsurance, "PAID")
                adjustments = []
                if billed > allowed:
                    adjustments.append(("CO", "45", billed - allowed))
                if deductible:
                    adjustments.append(("PR", "1", deductible))
                if copay:
                    adjustments.append(("PR", "3", copay))
                if coinsurance:
                    adjustments.append(("PR", "2", coinsurance))
                line[L.ADJUSTMENTS] = (
                    "["
                    + ",".join(
                        f'{{"group":"{g}","carc":"{c}","amount":{money(a)}}}'
                        for g, c, a in adjustments
                    )
                    + "]"
                )
            claim.lines[i] = self._put(L, "U", line, at)
        if denied_count == len(claim.lines):
            status = "DENIED"
        elif denied_count:
            status = "PARTIAL"
        else:
            status = "PAID"
        self._update_claim(
            claim,
            at,
            (self.C.CLAIM_STATUS, status),
            (self.C.ADJUDICATED_DATE, date_text(self.ctx.today)),
            *self._totals(claim),
        )
        if status == "DENIED":
            self._final(claim)
        else:
            # Payments go out in the next check run (Tuesdays and Fridays).
            weekday = date_of(self.ctx.today).weekday()
            wait = min((d - weekday) % 7 or 7 for d in (1, 4))
            self._schedule(claim, "pay", wait, wait)

    def _denial_reason(self) -> tuple[str, str]:
        cum = self._denial_cum
        group, carc, _ = DENIAL_REASONS[bisect(cum, self.rng.random() * cum[-1])]
        return group, carc

    def _fill_line(
        self,
        line: list[Any],
        billed: int,
        allowed: int,
        deductible: int,
        copay: int,
        coinsurance: int,
        status: str,
    ) -> None:
        L = self.L
        line[L.BILLED_AMT] = money(billed)
        if allowed:
            line[L.ALLOWED_AMT] = money(allowed)
            line[L.PAID_AMT] = money(allowed - deductible - copay - coinsurance)
            line[L.DEDUCTIBLE_AMT] = money(deductible) if deductible else _ZERO
            line[L.COPAY_AMT] = money(copay) if copay else _ZERO
            line[L.COINSURANCE_AMT] = money(coinsurance) if coinsurance else _ZERO
        else:
            line[L.ALLOWED_AMT] = line[L.PAID_AMT] = line[L.DEDUCTIBLE_AMT] = _ZERO
            line[L.COPAY_AMT] = line[L.COINSURANCE_AMT] = _ZERO
        line[L.LINE_STATUS] = status

    def _cost_share(self, claim: _Claim, i: int, allowed: int) -> tuple[int, int, int]:
        """(deductible, copay, coinsurance) in cents; copay and coinsurance never both on a line."""
        cost = claim.cost
        cat = claim.cats[i]
        if cost is None or cat == CAT_PREVENTIVE or allowed == 0:
            return 0, 0, 0
        rnd = self.rng.random
        deductible = 0
        if cost.deductible_rate and rnd() < cost.deductible_rate:
            deductible = min(allowed, int(cost.deductible_max * (0.02 + 0.5 * rnd() ** 2)))
        rest = allowed - deductible
        if cat in (CAT_OFFICE, CAT_ER) and cost.uses_copays:
            if cat == CAT_ER:
                copay = cost.copay_er
            else:
                copay = cost.copay_pcp if claim.kind in _PCP_KINDS else cost.copay_specialist
            return deductible, min(rest, copay), 0
        return deductible, 0, (rest * cost.coinsurance_pct + 50) // 100

    def _step_pay(self, claim: _Claim, at: int) -> None:
        self._update_claim(claim, at, (self.C.PAID_DATE, date_text(self.ctx.today)))
        self._final(claim)

    def _final(self, claim: _Claim) -> None:
        self.claims.pop(claim.row[self.C.CLAIM_ID], None)
        if self.loading:
            self.preload_final.append(claim)
        else:
            self._retire(claim)
        if claim.row[self.C.FREQUENCY_CODE] != "8":
            rnd = self.rng.random
            pool = self._aged_pool if rnd() < self._aged_admission else self._final_pool
            if len(pool) < self._final_pool_size:
                pool.append(claim)
            else:
                # A random slot: a claim's stay in the pool is geometric, so the age of the claims
                # picked decays smoothly instead of stopping at a fixed horizon.
                pool[int(rnd() * len(pool))] = claim

    def _retire(self, claim: _Claim) -> None:
        self.ctx.retire(self.C.name, claim.row)
        for line in claim.lines:
            self.ctx.retire(self.L.name, line)

    def _take_final(self) -> _Claim | None:
        aged = self.rng.random() < _AGED_PICK
        pool = self._aged_pool if aged and self._aged_pool else self._final_pool
        if not pool:
            return None
        i = int(self.rng.random() * len(pool))
        claim = pool[i]
        pool[i] = pool[-1]
        pool.pop()
        # Too old to correct: dropped from the pool, and this adjustment does not happen.
        decided = claim.row[self.C.ADJUDICATED_DATE]
        if decided is not None and decided < date_text(self.ctx.today - _ADJUSTMENT_MAX_DAYS):
            return None
        return claim

    # --- replacement and void ------------------------------------------------------------------

    def replace(self, at: int, _arg: object = None) -> None:
        """A corrected claim (frequency 7) replaces a final one under a new CLAIM_ID."""
        original = self._take_final()
        if original is None:
            return
        C, L, rnd = self.C, self.L, self.rng.random
        claim = _Claim()
        claim.cost, claim.kind = original.cost, original.kind
        claim.covered = original.covered
        claim_id = self._new_id()
        keep = len(original.lines)
        if keep > 1 and rnd() < 0.3:
            keep -= 1  # the correction removes a line billed in error
        for i in range(keep):
            line = original.lines[i].copy()
            line[L.CLAIM_ID] = claim_id
            billed = original.billed[i]
            self._reset_line(line, billed)
            claim.add_line(line, billed, original.allowed[i], original.cats[i])
        if rnd() < 0.5:
            i = int(rnd() * keep)
            line = claim.lines[i]
            units = line[L.UNITS] or 1
            new_units = units + 1 if units == 1 or rnd() < 0.5 else units - 1
            per_billed, per_allowed = claim.billed[i] // units, claim.allowed[i] // units
            line[L.UNITS] = new_units
            claim.billed[i] = per_billed * new_units
            claim.allowed[i] = min(per_allowed * new_units, claim.billed[i])
            line[L.BILLED_AMT] = money(claim.billed[i])
        row = original.row.copy()
        row[C.CLAIM_ID] = claim_id
        row[C.ORIGINAL_CLAIM_ID] = original.row[C.CLAIM_ID]
        row[C.FREQUENCY_CODE] = "7"
        if row[C.BILL_TYPE_CODE]:
            row[C.BILL_TYPE_CODE] = row[C.BILL_TYPE_CODE][:-1] + "7"
        row[C.RECEIVED_DATE] = date_text(self.ctx.today)
        row[C.ADJUDICATED_DATE] = row[C.PAID_DATE] = None
        row[C.CLAIM_STATUS] = "RECEIVED"
        for position, value in self._totals(claim):
            row[position] = value
        claim.row = row
        self._insert(claim, at)
        self._schedule(claim, "adjudicate", 1, 4)

    def void(self, at: int, _arg: object = None) -> None:
        """A void (frequency 8) cancels a final claim: a new claim without lines, status VOID."""
        original = self._take_final()
        if original is None:
            return
        C = self.C
        row = original.row.copy()
        row[C.CLAIM_ID] = self._new_id()
        row[C.ORIGINAL_CLAIM_ID] = original.row[C.CLAIM_ID]
        row[C.FREQUENCY_CODE] = "8"
        if row[C.BILL_TYPE_CODE]:
            row[C.BILL_TYPE_CODE] = row[C.BILL_TYPE_CODE][:-1] + "8"
        today = date_text(self.ctx.today)
        row[C.RECEIVED_DATE] = row[C.ADJUDICATED_DATE] = today
        row[C.PAID_DATE] = None
        row[C.CLAIM_STATUS] = "VOID"
        row[C.TOTAL_BILLED] = row[C.TOTAL_ALLOWED] = row[C.TOTAL_PAID] = money(0)
        claim = _Claim()
        claim.row = row
        self._put(C, "I", row, at)
        self._final(claim)
