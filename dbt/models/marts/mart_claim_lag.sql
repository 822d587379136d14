-- Claim payment lag triangle: final-action claims with a paid_date, by incurred month (month of
-- statement_from_date) and paid month. A small aggregate, rebuilt in full on every run from
-- fct_claim.
with paid_claims as (

    select
        {{ month_start('statement_from_date') }} as incurred_month,
        {{ month_start('paid_date') }} as paid_month,
        total_paid
    from {{ ref('fct_claim') }}
    where is_final_action
        and paid_date is not null
        and statement_from_date is not null

)

select
    incurred_month,
    paid_month,
    {{ month_diff('incurred_month', 'paid_month') }} as lag_months,
    count(*) as claim_count,
    cast(sum(coalesce(total_paid, 0)) as decimal(18, 2)) as paid_amount
from paid_claims
group by incurred_month, paid_month
