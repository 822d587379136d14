{#
    The current valuation's triangle holds every net dollar fct_claim says was paid, once: by
    incurred month, its cumulative paid at the latest diagonal (all lines of business) equals
    the total_paid of the claims with a paid_date that is not a void, less the total_paid of
    those a void or a paid replacement supersedes. Only a valuation the data have not passed
    (the current one), built from the same claim loads as fct_claim, is compared: fct_claim is
    today's state, an older partition is not.
    A check of mart_paid_lag_triangle in Dagster (meta dagster.ref).
#}
{{ config(meta={'dagster': {'ref': {'name': 'mart_paid_lag_triangle'}}}) }}
{#- A build of the platform's gold (another code location) selects this test too, as it reads
    gold models that build selects: before the first valuation month is built there is nothing to
    check, and a missing table must not fail that build. #}
{%- if execute and load_relation(ref('mart_paid_lag_triangle')) is none %}
select 1 as not_built where false
{%- else %}
{%- set triangle_months = actuarial_parameter('triangle_months') %}
with

valuation as (

    {{ valuation_bounds() | indent(4) }}

),

is_current as (

    -- the partition's valuation reaches the newest change processed, and it was built from the
    -- same claim loads as fct_claim (a build of fct_claim alone leaves the triangle behind)
    select valuation.*
    from valuation
    cross join {{ ref('int_valuation_month_derived') }} as data
    where valuation.valuation_month >= data.valuation_month
        and (
            select max(_silver_loaded_at)
            from {{ ref('mart_paid_lag_triangle') }}
            where valuation_month = valuation.valuation_month
        ) >= (select max(_silver_loaded_at) from {{ ref('fct_claim') }})

),

claims as (

    select
        claim_id,
        original_claim_id,
        frequency_code,
        claim_status,
        paid_date,
        adjudicated_date,
        {{ month_start('statement_from_date') }} as incurred_month,
        coalesce(total_paid, 0) as total_paid
    from {{ ref('fct_claim') }}
    where statement_from_date is not null

),

paid as (

    -- paid by the valuation date, incurred in the triangle's months
    select claims.*
    from claims
    cross join is_current
    where claims.paid_date is not null
        and claims.paid_date <= is_current.valuation_date
        and claims.frequency_code is distinct from '8'
        and claims.claim_status is distinct from 'VOID'
        and claims.incurred_month <= is_current.as_of_month
        and claims.incurred_month >= {{ add_months(
            'is_current.as_of_month', 1 - triangle_months | int) }}

),

superseded as (

    -- superseded by the valuation date: a replacement paid, a void adjudicated
    select distinct claims.original_claim_id as claim_id
    from claims
    cross join is_current
    where claims.frequency_code in ('7', '8')
        and claims.original_claim_id is not null
        and claims.original_claim_id <> claims.claim_id
        and case
            when claims.frequency_code = '8' or claims.claim_status = 'VOID'
                then coalesce(claims.paid_date, claims.adjudicated_date)
            else claims.paid_date
        end <= is_current.valuation_date

),

expected as (

    select incurred_month, sum(total_paid) as paid_amount
    from paid
    group by incurred_month

    union all

    select paid.incurred_month, -sum(paid.total_paid) as paid_amount
    from paid
    inner join superseded
        on paid.claim_id = superseded.claim_id
    group by paid.incurred_month

),

expected_by_month as (

    select incurred_month, sum(paid_amount) as paid_amount
    from expected
    group by incurred_month

),

triangle as (

    select triangle.incurred_month, sum(triangle.cumulative_paid) as paid_amount
    from {{ ref('mart_paid_lag_triangle') }} as triangle
    inner join is_current
        on triangle.valuation_month = is_current.valuation_month
    where triangle.is_latest_diagonal
    group by triangle.incurred_month

)

select
    coalesce(expected_by_month.incurred_month, triangle.incurred_month) as incurred_month,
    expected_by_month.paid_amount as fct_claim_paid,
    triangle.paid_amount as triangle_paid
from expected_by_month
full outer join triangle
    on expected_by_month.incurred_month = triangle.incurred_month
where coalesce(expected_by_month.paid_amount, 0) <> coalesce(triangle.paid_amount, 0)
{%- endif %}
