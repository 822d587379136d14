-- Enrollment coverage: the current state of every existing enrollment with a member, its plan's
-- line of business ('UNKNOWN' when the plan does not exist or has none) and the last day it
-- covers (termination_date; for an open enrollment the last day of the valuation month).
-- Incremental by member: a run rebuilds every enrollment of the members whose coverage may have
-- changed (members_touched_since_watermark) from the full silver history of those enrollments.
-- fct_member_month and mart_pmpm read it.
{{
    config(
        materialized='incremental',
        incremental_strategy='replace_keys',
        unique_key='member_id',
    )
}}
{%- set enrollments = ref('stg_silver__enrollment') -%}
{%- set plans = ref('stg_silver__plan') -%}
{%- set columns = [
    'enrollment_id', 'member_id', 'plan_id', 'line_of_business', 'effective_date',
    'termination_date', 'coverage_end_date', '_silver_loaded_at',
] %}

with valuation as (

    select valuation_month, valuation_loaded_at from {{ ref('int_valuation_month_derived') }}

),

{% if is_incremental() -%}
touched_members as (

    {{ members_touched_since_watermark(this) | indent(4) }}

),

{% endif -%}
enrollment_changes as (

    select * from {{ enrollments }}
    {%- if is_incremental() %}
    -- every enrollment that ever named a touched member, with all its changes
    where enrollment_id in (
        select enrollment_id
        from {{ enrollments }}
        where member_id in (select member_id from touched_members)
    )
    {%- endif %}

),

deduplicated_enrollments as (

    {{ deduplicate_changes('enrollment_changes', key_columns=['enrollment_id']) | indent(4) }}

),

current_enrollments as (

    {{ current_state('deduplicated_enrollments', key_columns=['enrollment_id']) | indent(4) }}

),

enrollment_loads as (

    select enrollment_id, max(_loaded_at) as loaded_at
    from enrollment_changes
    group by enrollment_id

),

plan_changes as (

    select * from {{ plans }}
    {%- if is_incremental() %}
    where plan_id in (select plan_id from current_enrollments)
    {%- endif %}

),

deduplicated_plans as (

    {{ deduplicate_changes('plan_changes', key_columns=['plan_id']) | indent(4) }}

),

current_plans as (

    {{ current_state('deduplicated_plans', key_columns=['plan_id']) | indent(4) }}

),

plan_loads as (

    select plan_id, max(_loaded_at) as loaded_at
    from plan_changes
    group by plan_id

),

coverage as (

    select
        enrollments.enrollment_id,
        enrollments.member_id,
        enrollments.plan_id,
        coalesce(current_plans.line_of_business, 'UNKNOWN') as line_of_business,
        enrollments.effective_date,
        enrollments.termination_date,
        coalesce(
            enrollments.termination_date, {{ month_end('valuation.valuation_month') }}
        ) as coverage_end_date,
        -- the latest load among the enrollment's changes, its plan's changes and (while open)
        -- the batch that moved the valuation month
        greatest(
            enrollment_loads.loaded_at,
            coalesce(plan_loads.loaded_at, enrollment_loads.loaded_at),
            case
                when enrollments.termination_date is null
                    then coalesce(valuation.valuation_loaded_at, enrollment_loads.loaded_at)
                else enrollment_loads.loaded_at
            end
        ) as _silver_loaded_at
    from current_enrollments as enrollments
    cross join valuation
    inner join enrollment_loads
        on enrollments.enrollment_id = enrollment_loads.enrollment_id
    left join current_plans
        on enrollments.plan_id = current_plans.plan_id
    left join plan_loads
        on enrollments.plan_id = plan_loads.plan_id
    where enrollments.member_id is not null
        {%- if is_incremental() %}
        and enrollments.member_id in (select member_id from touched_members)
        {%- endif %}

)

{{ select_with_tombstones('coverage', 'touched_members', ['member_id'], columns) }}
