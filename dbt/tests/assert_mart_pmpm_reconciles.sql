{#
    mart_pmpm holds every member month and every final-action claim dollar exactly once: its
    totals equal those of fct_member_month and of the final-action claims with a
    statement_from_date in fct_claim. A check of mart_pmpm in Dagster (meta dagster.ref).
#}
{{ config(meta={'dagster': {'ref': {'name': 'mart_pmpm'}}}) }}
with pmpm as (

    select
        sum(member_months) as member_months,
        sum(paid_amount) as paid_amount,
        sum(allowed_amount) as allowed_amount
    from {{ ref('mart_pmpm') }}

),

member_months as (

    select count(*) as member_months from {{ ref('fct_member_month') }}

),

claims as (

    select
        sum(coalesce(total_paid, 0)) as paid_amount,
        sum(coalesce(total_allowed, 0)) as allowed_amount
    from {{ ref('fct_claim') }}
    where is_final_action
        and statement_from_date is not null

)

select
    pmpm.member_months,
    member_months.member_months as expected_member_months,
    pmpm.paid_amount,
    claims.paid_amount as expected_paid_amount,
    pmpm.allowed_amount,
    claims.allowed_amount as expected_allowed_amount
from pmpm
cross join member_months
cross join claims
where coalesce(pmpm.member_months, 0) <> member_months.member_months
    or coalesce(pmpm.paid_amount, 0) <> coalesce(claims.paid_amount, 0)
    or coalesce(pmpm.allowed_amount, 0) <> coalesce(claims.allowed_amount, 0)
