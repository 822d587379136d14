-- Per member per month: member months and final-action claim dollars per month and line of
-- business. Claims count in the month of statement_from_date and the line of business of the
-- member's enrollment covering that date, chosen among several like member months are ('UNKNOWN'
-- when none covers it, or statement_from_date / member_id is NULL). A row for every (month, line
-- of business) with member months or claims; pmpm_paid is NULL where there are no member months.
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
    )
}}
{%- set coverage = ref('int_enrollment_coverage_resolved') -%}
{%- set columns = [
    'year_month', 'line_of_business', 'member_months', 'paid_amount', 'allowed_amount',
    'pmpm_paid',
] %}

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

final_claims as (

    select
        claim_id,
        member_id,
        statement_from_date,
        {{ month_start('statement_from_date') }} as incurred_month,
        total_paid,
        total_allowed
    from {{ ref('fct_claim') }}
    where is_final_action
        and statement_from_date is not null
        {%- if is_incremental() %}
        and {{ month_start('statement_from_date') }} in (select year_month from touched_months)
        {%- endif %}

),

covering_enrollments as (

    select
        final_claims.claim_id,
        coverage.line_of_business,
        coverage.effective_date,
        coverage.enrollment_id,
        {{ day_diff(
            'greatest(coverage.effective_date, final_claims.incurred_month)',
            'least(coverage.coverage_end_date, ' ~ month_end('final_claims.incurred_month') ~ ')'
        ) }} + 1 as days_covered
    from final_claims
    inner join {{ coverage }} as coverage
        on final_claims.member_id = coverage.member_id
        and final_claims.statement_from_date >= coverage.effective_date
        and final_claims.statement_from_date <= coverage.coverage_end_date

),

preferred_enrollments as (

    select
        claim_id,
        line_of_business,
        row_number() over (
            partition by claim_id
            order by {{ enrollment_preference() }}
        ) as preference_rank
    from covering_enrollments

),

claims as (

    select
        final_claims.incurred_month as year_month,
        coalesce(preferred_enrollments.line_of_business, 'UNKNOWN') as line_of_business,
        sum(coalesce(final_claims.total_paid, 0)) as paid_amount,
        sum(coalesce(final_claims.total_allowed, 0)) as allowed_amount
    from final_claims
    left join preferred_enrollments
        on final_claims.claim_id = preferred_enrollments.claim_id
        and preferred_enrollments.preference_rank = 1
    group by
        final_claims.incurred_month,
        coalesce(preferred_enrollments.line_of_business, 'UNKNOWN')

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
        {{ divide_to_cents('paid_amount', 'member_months') }} as pmpm_paid
    from joined

)

{{ select_months_replaced(
    'pmpm',
    'touched_months',
    'year_month',
    columns,
    mart_silver_loaded_at([coverage, ref('fct_member_month'), ref('fct_claim')]),
) }}
