-- Claims incurred but not reported (IBNR, paid basis) as of a valuation month, by incurred month
-- and line of business: each incurred month's cumulative paid on the latest diagonal of
-- mart_paid_lag_triangle developed to ultimate by mart_completion_factors' cumulative factor at
-- its age (chain ladder). ibnr = estimated_ultimate - paid_to_date; ultimate_pmpm divides the
-- estimated ultimate by the incurred month's member months.
-- One partition (valuation_month) per run, as the triangle.

with

valuation as (

    {{ valuation_bounds() | indent(4) }}

),

latest_diagonal as (

    select
        triangle.line_of_business,
        triangle.incurred_month,
        triangle.development_month,
        triangle.cumulative_paid as paid_to_date,
        triangle.member_months
    from {{ ref('mart_paid_lag_triangle') }} as triangle
    inner join valuation
        on triangle.valuation_month = valuation.valuation_month
    where triangle.is_latest_diagonal

),

factors as (

    select
        factors.line_of_business,
        factors.development_month,
        factors.cumulative_development_factor,
        factors.completion_factor
    from {{ ref('mart_completion_factors') }} as factors
    inner join valuation
        on factors.valuation_month = valuation.valuation_month

),

developed as (

    select
        latest_diagonal.line_of_business,
        latest_diagonal.incurred_month,
        latest_diagonal.development_month,
        latest_diagonal.member_months,
        latest_diagonal.paid_to_date,
        factors.cumulative_development_factor,
        factors.completion_factor,
        cast(latest_diagonal.paid_to_date as double)
        * factors.cumulative_development_factor as estimated_ultimate
    from latest_diagonal
    inner join factors
        on latest_diagonal.line_of_business = factors.line_of_business
        and latest_diagonal.development_month = factors.development_month

)

select
    valuation.valuation_month,
    valuation.valuation_date,
    developed.line_of_business,
    developed.incurred_month,
    developed.development_month,
    developed.member_months,
    developed.paid_to_date,
    developed.cumulative_development_factor,
    developed.completion_factor,
    developed.estimated_ultimate,
    developed.estimated_ultimate - cast(developed.paid_to_date as double) as ibnr,
    case
        when developed.member_months > 0
            then developed.estimated_ultimate / developed.member_months
    end as ultimate_pmpm
from developed
cross join valuation
