-- Paid lag triangle as of a valuation month (macros/valuation.sql): money paid by incurred month
-- (month of statement_from_date) x development month (months from the incurred month to the
-- month the money moved), incremental and cumulative, by line of business, with the incurred
-- month's member months beside it. Built from payment events of the claim history as known at
-- the valuation, not from the current claims:
-- * a claim's own payment: total_paid on its paid_date;
-- * its reversal when a replacement (frequency 7) naming it is paid, or a void (frequency 8)
--   naming it is adjudicated: minus its total_paid in that month. So a correction moves money
--   in the month it is paid, and an incurred month's cumulative paid ends at what its
--   final-action claims paid.
-- One partition (valuation_month) per run: delete+insert replaces that month's rows only, and
-- `dbt build --full-refresh` leaves the table alone (full_refresh false): every partition is
-- rebuilt by re-running it, never wiped by a refresh of gold.
-- Every cell of the triangle has a row (zero where nothing moved), development 0 .. the age of
-- the incurred month at the valuation.
{%- set triangle_months = actuarial_parameter('triangle_months') %}

with

valuation as (

    {{ valuation_bounds() | indent(4) }}

),

{{ state_at_valuation(ref('stg_silver__claim'), ['claim_id'], 'claim') }},

{{ state_at_valuation(ref('stg_silver__enrollment'), ['enrollment_id'], 'enrollment') }},

{{ state_at_valuation(ref('stg_silver__plan'), ['plan_id'], 'plan') }},

coverage as (

    -- an open enrollment covers through the month development is measured to
    select
        enrollment_known.enrollment_id,
        enrollment_known.member_id,
        coalesce(plan_known.line_of_business, 'UNKNOWN') as line_of_business,
        enrollment_known.effective_date,
        coalesce(
            enrollment_known.termination_date, {{ month_end('valuation.as_of_month') }}
        ) as coverage_end_date
    from enrollment_known
    cross join valuation
    left join plan_known
        on enrollment_known.plan_id = plan_known.plan_id
    where enrollment_known.member_id is not null
        and enrollment_known.effective_date is not null

),

incurred_months as (

    select
        {{ add_months('valuation.as_of_month', '-month_offsets.n') }} as month_start,
        {{ month_end(add_months('valuation.as_of_month', '-month_offsets.n')) }} as month_end
    from valuation
    cross join ({{ integer_sequence(triangle_months) }}) as month_offsets

),

claims as (

    select
        claim_id,
        original_claim_id,
        frequency_code,
        claim_status,
        member_id,
        statement_from_date,
        adjudicated_date,
        paid_date,
        coalesce(total_paid, 0) as total_paid
    from claim_known
    where statement_from_date is not null

),

claim_payments as (

    select
        claims.claim_id,
        claims.paid_date as payment_date,
        claims.total_paid as amount
    from claims
    cross join valuation
    where claims.paid_date is not null
        and claims.paid_date <= valuation.valuation_date
        and claims.frequency_code is distinct from '8'
        and claims.claim_status is distinct from 'VOID'

),

superseding_claims as (

    -- when a replacement was paid or a void adjudicated, naming an original
    select
        claims.original_claim_id as claim_id,
        claims.claim_id as superseded_by,
        case
            when claims.frequency_code = '8' or claims.claim_status = 'VOID'
                then coalesce(claims.paid_date, claims.adjudicated_date)
            else claims.paid_date
        end as superseded_date
    from claim_known as claims
    where claims.frequency_code in ('7', '8')
        and claims.original_claim_id is not null
        and claims.original_claim_id <> claims.claim_id

),

supersessions as (

    -- an original is reversed once, by the first claim superseding it
    select claim_id, superseded_date
    from (
        select
            superseding_claims.claim_id,
            superseding_claims.superseded_date,
            row_number() over (
                partition by superseding_claims.claim_id
                order by superseding_claims.superseded_date, superseding_claims.superseded_by
            ) as supersession_rank
        from superseding_claims
        cross join valuation
        where superseding_claims.superseded_date <= valuation.valuation_date
    ) as ranked
    where supersession_rank = 1

),

payment_events as (

    select claim_id, payment_date, amount
    from claim_payments

    union all

    select
        claim_payments.claim_id,
        greatest(supersessions.superseded_date, claim_payments.payment_date) as payment_date,
        -claim_payments.amount as amount
    from claim_payments
    inner join supersessions
        on claim_payments.claim_id = supersessions.claim_id

),

paid_claims as (

    select distinct claims.claim_id, claims.member_id, claims.statement_from_date
    from claims
    inner join payment_events
        on claims.claim_id = payment_events.claim_id

),

claim_lines_of_business as (

    {{ claim_line_of_business('paid_claims', 'coverage') | indent(4) }}

),

paid_cells as (

    select
        coalesce(claim_lines_of_business.line_of_business, 'UNKNOWN') as line_of_business,
        {{ month_start('paid_claims.statement_from_date') }} as incurred_month,
        -- a payment dated before the service month (a data error) counts at development 0
        greatest(
            {{ month_diff(
                month_start('paid_claims.statement_from_date'),
                month_start('payment_events.payment_date')
            ) }},
            0
        ) as development_month,
        sum(payment_events.amount) as incremental_paid,
        count(*) as payment_count
    from payment_events
    inner join paid_claims
        on payment_events.claim_id = paid_claims.claim_id
    left join claim_lines_of_business
        on payment_events.claim_id = claim_lines_of_business.claim_id
    where {{ month_start('paid_claims.statement_from_date') }} in (
        select month_start from incurred_months
    )
    group by 1, 2, 3

),

member_months as (

    {{ member_months_by_line_of_business('coverage', 'incurred_months') | indent(4) }}

),

lines_of_business as (

    select line_of_business from paid_cells
    union
    select line_of_business from member_months

),

cells as (

    select
        lines_of_business.line_of_business,
        incurred_months.month_start as incurred_month,
        ages.n as development_month,
        {{ month_diff('incurred_months.month_start', 'valuation.as_of_month') }} as age
    from lines_of_business
    cross join incurred_months
    cross join valuation
    cross join ({{ integer_sequence(triangle_months) }}) as ages
    where ages.n <= {{ month_diff('incurred_months.month_start', 'valuation.as_of_month') }}

),

triangle as (

    select
        cells.line_of_business,
        cells.incurred_month,
        cells.development_month,
        {{ add_months('cells.incurred_month', 'cells.development_month') }} as paid_month,
        cast(coalesce(paid_cells.incremental_paid, 0) as decimal(18, 2)) as incremental_paid,
        cast(
            sum(coalesce(paid_cells.incremental_paid, 0)) over (
                partition by cells.line_of_business, cells.incurred_month
                order by cells.development_month
                rows between unbounded preceding and current row
            ) as decimal(18, 2)
        ) as cumulative_paid,
        coalesce(paid_cells.payment_count, 0) as payment_count,
        coalesce(member_months.member_months, 0) as member_months,
        cells.development_month = cells.age as is_latest_diagonal
    from cells
    left join paid_cells
        on cells.line_of_business = paid_cells.line_of_business
        and cells.incurred_month = paid_cells.incurred_month
        and cells.development_month = paid_cells.development_month
    left join member_months
        on cells.line_of_business = member_months.line_of_business
        and cells.incurred_month = member_months.year_month

)

select
    valuation.valuation_month,
    valuation.valuation_date,
    triangle.line_of_business,
    triangle.incurred_month,
    triangle.development_month,
    triangle.paid_month,
    triangle.incremental_paid,
    triangle.cumulative_paid,
    triangle.payment_count,
    triangle.member_months,
    triangle.is_latest_diagonal,
    (select max(_loaded_at) from claim_changes) as _silver_loaded_at
from triangle
cross join valuation
