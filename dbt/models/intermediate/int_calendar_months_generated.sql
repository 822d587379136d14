-- Month spine over the enrollment coverage: every month from the month of the earliest
-- effective_date of an existing enrollment through the latest month any coverage reaches (the
-- valuation month for open enrollments). Built from a fixed integer sequence (100,000 months)
-- rather than a recursive CTE, so it needs no recursion support or recursion limit on any engine.
with bounds as (

    select
        min({{ month_start('effective_date') }}) as first_month,
        max({{ month_start('coverage_end_date') }}) as last_month
    from {{ ref('int_enrollment_coverage_resolved') }}
    where effective_date is not null

),

month_offsets as (

    {{ integer_sequence(100000) }}

),

months as (

    select {{ add_months('bounds.first_month', 'month_offsets.n') }} as month_start
    from bounds
    cross join month_offsets
    where month_offsets.n <= {{ month_diff('bounds.first_month', 'bounds.last_month') }}

)

select
    month_start,
    {{ month_end('month_start') }} as month_end
from months
