-- Per member per month: member months and final-action claim dollars per month and line of
-- business. Claims count in the month of statement_from_date and the line of business of the
-- member's enrollment covering that date, chosen among several like member months are ('UNKNOWN'
-- when none covers it, or statement_from_date / member_id is NULL). A row for every (month, line
-- of business) with member months or claims; pmpm_paid and pmpm_allowed are NULL where there are
-- no member months. The claims come from final_claims_attributed, shared with the cost-and-use
-- marts so every mart counts the same claims in the same month and line of business.
-- Built from the gold facts and the enrollment coverage (never from silver); silver only says
-- which months to recompute. Incremental by month (replace_keys, see macros/mart_months.sql): a
-- run recomputes the months of the claims changed since the watermark and the months whose
-- coverage may have changed, and copies the others.
-- depends_on: {{ ref('stg_silver__claim') }}, {{ ref('stg_silver__enrollment') }}
-- depends_on: {{ ref('stg_silver__plan') }}, {{ ref('int_valuation_month_derived') }}
-- depends_on: {{ ref('int_silver_loads_summarized') }}, {{ ref('int_calendar_months_generated') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='replace_keys',
        unique_key='year_month',
        pre_hook="{{ add_columns_missing_from_this({'pmpm_allowed': 'decimal(18, 2)'}) }}",
    )
}}
{%- set coverage = ref('int_enrollment_coverage_resolved') -%}
{%- set columns = [
    'year_month', 'line_of_business', 'member_months', 'paid_amount', 'allowed_amount',
    'pmpm_paid', 'pmpm_allowed',
] %}
{#- a table built before a column was added: every month is recomputed once -#}
{%- set added_columns_missing = columns_missing_from_this(['pmpm_allowed']) %}

with

{% if is_incremental() -%}
candidate_months as (

    -- every month the mart had rows in or can have member months in (a month with claims has
    -- rows already, or its claims changed)
    select year_month from {{ this }}
    union
    select month_start as year_month from {{ ref('int_calendar_months_generated') }}

),

touched_months as (

    {{ claim_months_touched_since_watermark() | indent(4) }}

    union

    {{ coverage_months_touched_since_watermark('candidate_months') | indent(4) }}
    {%- if added_columns_missing %}

    -- the table predates a column (macros/mart_added_columns.sql): every month, once
    union

    select year_month from candidate_months
    {%- endif %}

),

{% endif -%}
member_months as (

    select
        year_month,
        line_of_business,
        count(*) as member_months
    from {{ ref('fct_member_month') }}
    {%- if is_incremental() %}
    where year_month in (select year_month from touched_months)
    {%- endif %}
    group by year_month, line_of_business

),

attributed_claims as (

    -- final-action claims with their month and line of business (macros/claim_attribution.sql)
    {{ final_claims_attributed(
        coverage,
        'select year_month from touched_months' if is_incremental() else none,
    ) | indent(4) }}

),

claims as (

    select
        incurred_month as year_month,
        line_of_business,
        sum(coalesce(total_paid, 0)) as paid_amount,
        sum(coalesce(total_allowed, 0)) as allowed_amount
    from attributed_claims
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

),

pmpm as (

    select
        year_month,
        line_of_business,
        member_months,
        paid_amount,
        allowed_amount,
        {{ divide_to_cents('paid_amount', 'member_months') }} as pmpm_paid,
        {{ divide_to_cents('allowed_amount', 'member_months') }} as pmpm_allowed
    from joined

)

{{ select_months_replaced(
    'pmpm',
    'touched_months',
    'year_month',
    columns,
    mart_silver_loaded_at([coverage, ref('fct_member_month'), ref('fct_claim')]),
) }}
