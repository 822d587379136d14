-- Completion factors as of a valuation month: the volume-weighted chain ladder on
-- mart_paid_lag_triangle's cumulative paid, by line of business and development month.
-- age_to_age_factor at development d: sum of cumulative paid at d + 1 over sum at d, across the
-- latest completion_factor_history_months incurred months observed at d + 1 (all of them when
-- 0). A month with nothing paid yet at d or d + 1 has no ratio there and is left out (as the
-- `chainladder` package treats a zero cumulative as missing); an age with no ratio at all gets
-- 1. cumulative_development_factor: the product of the factors from d on, times tail_factor;
-- completion_factor is its inverse: the share of the ultimate paid by development d.
-- One partition (valuation_month) per run, as the triangle.
{%- set history_months = actuarial_parameter('completion_factor_history_months') | int %}
{%- set tail_factor = actuarial_parameter('tail_factor') | float %}

with

valuation as (

    {{ valuation_bounds() | indent(4) }}

),

triangle as (

    select
        triangle.line_of_business,
        triangle.incurred_month,
        triangle.development_month,
        triangle.cumulative_paid,
        {{ month_diff('triangle.incurred_month', 'valuation.as_of_month') }} as age
    from {{ ref('mart_paid_lag_triangle') }} as triangle
    inner join valuation
        on triangle.valuation_month = valuation.valuation_month

),

link_ratios as (

    select
        this_age.line_of_business,
        this_age.development_month,
        this_age.cumulative_paid as from_paid,
        next_age.cumulative_paid as to_paid
    from triangle as this_age
    inner join triangle as next_age
        on this_age.line_of_business = next_age.line_of_business
        and this_age.incurred_month = next_age.incurred_month
        and next_age.development_month = this_age.development_month + 1
    where this_age.cumulative_paid <> 0
        and next_age.cumulative_paid <> 0
        {%- if history_months > 0 %}
        and this_age.age <= this_age.development_month + {{ history_months }}
        {%- endif %}

),

ratios as (

    select
        line_of_business,
        development_month,
        cast(sum(to_paid) as double) / cast(sum(from_paid) as double) as age_to_age_factor,
        count(*) as incurred_months_used
    from link_ratios
    group by line_of_business, development_month

),

ages as (

    select distinct line_of_business, development_month
    from triangle

),

factors as (

    -- the oldest age develops by the tail factor alone
    select
        ages.line_of_business,
        ages.development_month,
        case
            when ages.development_month = max(ages.development_month) over (
                partition by ages.line_of_business
            ) then cast({{ tail_factor }} as double)
            else coalesce(ratios.age_to_age_factor, 1.0)
        end as age_to_age_factor,
        coalesce(ratios.incurred_months_used, 0) as incurred_months_used,
        ages.development_month = max(ages.development_month) over (
            partition by ages.line_of_business
        ) as is_tail
    from ages
    left join ratios
        on ages.line_of_business = ratios.line_of_business
        and ages.development_month = ratios.development_month

),

cumulated as (

    -- product of the factors from each age on: exp/ln over |f|, with the sign and any zero
    -- kept apart (no engine-neutral PRODUCT aggregate)
    select
        *,
        case
            when sum(case when age_to_age_factor = 0 then 1 else 0 end) over (
                partition by line_of_business
                order by development_month desc
                rows between unbounded preceding and current row
            ) > 0 then 0.0
            else
                case
                    when mod(
                        sum(case when age_to_age_factor < 0 then 1 else 0 end) over (
                            partition by line_of_business
                            order by development_month desc
                            rows between unbounded preceding and current row
                        ),
                        2
                    ) = 1 then -1.0
                    else 1.0
                end
                * exp(
                    sum(ln(abs(nullif(age_to_age_factor, 0)))) over (
                        partition by line_of_business
                        order by development_month desc
                        rows between unbounded preceding and current row
                    )
                )
        end as cumulative_development_factor
    from factors

)

select
    valuation.valuation_month,
    valuation.valuation_date,
    cumulated.line_of_business,
    cumulated.development_month,
    cumulated.age_to_age_factor,
    cumulated.incurred_months_used,
    cumulated.cumulative_development_factor,
    case
        when cumulated.cumulative_development_factor <> 0
            then 1.0 / cumulated.cumulative_development_factor
    end as completion_factor,
    cumulated.is_tail,
    'volume-weighted chain ladder' as method,
    {{ history_months }} as history_months,
    cast({{ tail_factor }} as double) as tail_factor
from cumulated
cross join valuation
