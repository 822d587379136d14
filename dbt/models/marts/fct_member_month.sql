-- Member months: one row per member and month covered by at least one day of an existing
-- enrollment, attributed to the preferred enrollment of that month (see enrollment_preference).
with ranked as (

    select
        member_id,
        year_month,
        plan_id,
        line_of_business,
        row_number() over (
            partition by member_id, year_month
            order by {{ enrollment_preference() }}
        ) as preference_rank
    from {{ ref('int_enrollment_months_expanded') }}

)

select
    member_id,
    year_month,
    plan_id,
    line_of_business
from ranked
where preference_rank = 1
