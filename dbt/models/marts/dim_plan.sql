-- Plans, one row per existing plan with its current attributes.
-- Incremental by plan_id (replace_keys): a run recomputes the current state of the plans with a
-- silver change loaded after the watermark; a plan deleted at the source is deleted here.
{{
    config(
        materialized='incremental',
        incremental_strategy='replace_keys',
        unique_key='plan_id',
    )
}}
{%- set changes = ref('stg_silver__plan') -%}
{%- set source_columns = [
    'plan_id', 'plan_name', 'line_of_business', 'product_type', 'funding_type', 'updated_at',
] -%}
{%- set added_columns = added_source_columns(changes, source_columns, 'plan') -%}
{%- set columns = source_columns + ['_silver_loaded_at'] + added_columns %}

with

{% if is_incremental() -%}
touched_plans as (

    {{ keys_changed_since_watermark(changes, ['plan_id']) | indent(4) }}

),

{% endif -%}
plan_changes as (

    select * from {{ changes }}
    {%- if is_incremental() %}
    where {{ key_in(['plan_id'], 'touched_plans') }}
    {%- endif %}

),

deduplicated as (

    {{ deduplicate_changes('plan_changes', key_columns=['plan_id']) | indent(4) }}

),

current_plans as (

    {{ current_state('deduplicated', key_columns=['plan_id']) | indent(4) }}

),

plan_loads as (

    select plan_id, max(_loaded_at) as _silver_loaded_at
    from plan_changes
    group by plan_id

),

plans as (

    select
        current_plans.*,
        plan_loads._silver_loaded_at
    from current_plans
    inner join plan_loads
        on current_plans.plan_id = plan_loads.plan_id

)

{{ select_with_tombstones('plans', 'touched_plans', ['plan_id'], columns) }}
