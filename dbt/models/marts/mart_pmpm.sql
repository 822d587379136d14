-- Per member per month: member months and final-action claim dollars per month and line of
-- business. Claims count in the month of statement_from_date and the line of business of the
-- member's enrollment covering that date. A row for every (month, line of business) with member
-- months or claims; pmpm_paid is NULL where there are no member months.
with member_months as (

    select
        year_month,
        line_of_business,
        count(*) as member_months
    from {{ ref('fct_member_month') }}
    group by year_month, line_of_business

),

claims as (

    select
        incurred_month as year_month,
        line_of_business,
        sum(coalesce(total_paid, 0)) as paid_amount,
        sum(coalesce(total_allowed, 0)) as allowed_amount
    from {{ ref('int_claim_lob_assigned') }}
    where is_final_action
        and incurred_month is not null
    group by incurred_month, line_of_business

),

months_and_lines as (

    select year_month, line_of_business from member_months
    union
    select year_month, line_of_business from claims

),

joined as (

    select
        months_and_lines.year_month,
        months_and_lines.line_of_business,
        coalesce(member_months.member_months, 0) as member_months,
        cast(coalesce(claims.paid_amount, 0) as decimal(18, 2)) as paid_amount,
        cast(coalesce(claims.allowed_amount, 0) as decimal(18, 2)) as allowed_amount
    from months_and_lines
    left join member_months
        on months_and_lines.year_month = member_months.year_month
        and months_and_lines.line_of_business = member_months.line_of_business
    left join claims
        on months_and_lines.year_month = claims.year_month
        and months_and_lines.line_of_business = claims.line_of_business

)

select
    year_month,
    line_of_business,
    member_months,
    paid_amount,
    allowed_amount,
    {{ divide_to_cents('paid_amount', 'member_months') }} as pmpm_paid
from joined
