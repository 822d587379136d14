-- Each existing enrollment expanded to the months it covers at least one day of, with the days it
-- covers in each and the line of business of its plan's current row ('UNKNOWN' when the plan
-- does not exist or has none). Coverage runs from effective_date through termination_date; an
-- open enrollment (NULL termination_date) runs through the last day of the valuation month.
-- Enrollments without member_id or effective_date, or ending before they start, cover nothing.
with valuation as (

    select valuation_month from {{ ref('int_valuation_month_derived') }}

),

enrollments as (

    select
        enrollments.enrollment_id,
        enrollments.member_id,
        enrollments.plan_id,
        enrollments.effective_date,
        coalesce(
            enrollments.termination_date, {{ month_end('valuation.valuation_month') }}
        ) as coverage_end_date
    from {{ ref('int_enrollment_current_resolved') }} as enrollments
    cross join valuation
    where enrollments.member_id is not null
        and enrollments.effective_date is not null

),

plans as (

    select plan_id, line_of_business from {{ ref('int_plan_current_resolved') }}

),

months as (

    select month_start, month_end from {{ ref('int_calendar_months_generated') }}

)

select
    enrollments.enrollment_id,
    enrollments.member_id,
    enrollments.plan_id,
    coalesce(plans.line_of_business, 'UNKNOWN') as line_of_business,
    enrollments.effective_date,
    enrollments.coverage_end_date,
    months.month_start as year_month,
    {{ day_diff(
        'greatest(enrollments.effective_date, months.month_start)',
        'least(enrollments.coverage_end_date, months.month_end)'
    ) }} + 1 as days_covered
from enrollments
inner join months
    on months.month_start <= enrollments.coverage_end_date
    and months.month_end >= enrollments.effective_date
left join plans
    on enrollments.plan_id = plans.plan_id
where enrollments.coverage_end_date >= enrollments.effective_date
