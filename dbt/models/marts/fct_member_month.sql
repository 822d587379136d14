-- Member months: one row per member and month covered by at least one day of an existing
-- enrollment, attributed to the preferred enrollment of that month (see enrollment_preference).
-- Incremental by member_id (replace_keys): a run recomputes all months of the members whose
-- coverage may have changed (members_touched_since_watermark: enrollment changes, plan changes,
-- a new valuation month for open enrollments) from their rows in int_enrollment_coverage_resolved;
-- a member left without coverage loses its rows.
-- depends_on: {{ ref('stg_silver__enrollment') }}, {{ ref('stg_silver__plan') }}
-- depends_on: {{ ref('int_valuation_month_derived') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='replace_keys',
        unique_key='member_id',
    )
}}
{%- set coverage = ref('int_enrollment_coverage_resolved') -%}
{%- set columns = ['member_id', 'year_month', 'plan_id', 'line_of_business', '_silver_loaded_at'] %}

with

{% if is_incremental() -%}
touched_members as (

    {{ members_touched_since_watermark(coverage) | indent(4) }}

),

{% endif -%}
member_coverage as (

    select * from {{ coverage }}
    {%- if is_incremental() %}
    where member_id in (select member_id from touched_members)
    {%- endif %}

),

member_loads as (

    select member_id, max(_silver_loaded_at) as _silver_loaded_at
    from member_coverage
    group by member_id

),

months as (

    select month_start, month_end from {{ ref('int_calendar_months_generated') }}

),

enrollment_months as (

    -- each enrollment times each month it covers at least one day of
    select
        member_coverage.enrollment_id,
        member_coverage.member_id,
        member_coverage.plan_id,
        member_coverage.line_of_business,
        member_coverage.effective_date,
        months.month_start as year_month,
        {{ day_diff(
            'greatest(member_coverage.effective_date, months.month_start)',
            'least(member_coverage.coverage_end_date, months.month_end)'
        ) }} + 1 as days_covered
    from member_coverage
    inner join months
        on months.month_start <= member_coverage.coverage_end_date
        and months.month_end >= member_coverage.effective_date
    where member_coverage.effective_date is not null
        and member_coverage.coverage_end_date >= member_coverage.effective_date

),

ranked as (

    select
        *,
        row_number() over (
            partition by member_id, year_month
            order by {{ enrollment_preference() }}
        ) as preference_rank
    from enrollment_months

),

member_months as (

    select
        ranked.member_id,
        ranked.year_month,
        ranked.plan_id,
        ranked.line_of_business,
        member_loads._silver_loaded_at
    from ranked
    inner join member_loads
        on ranked.member_id = member_loads.member_id
    where ranked.preference_rank = 1

)

{{ select_with_tombstones('member_months', 'touched_members', ['member_id'], columns) }}
