-- Claim lines, one row per existing line with its current columns (ADJUSTMENTS flattened into
-- fct_claim_line_adjustment). A line exists by its own changes, whether or not its claim does.
-- Incremental by (claim_id, line_number) (replace_keys): a run recomputes the current state of
-- the lines with a silver change loaded after the watermark, from their histories read narrow
-- (rows_of_deliveries); a deleted line is deleted here.
{{
    config(
        materialized='incremental',
        incremental_strategy='replace_keys',
        unique_key=['claim_id', 'line_number'],
    )
}}
{%- set changes = ref('stg_silver__claim_line') -%}
{%- set key_columns = ['claim_id', 'line_number'] -%}
{%- set source_columns = [
    'claim_id', 'line_number', 'service_from_date', 'service_thru_date', 'procedure_code',
    'modifier_1', 'modifier_2', 'revenue_code', 'place_of_service', 'units',
    'rendering_provider_id', 'billed_amt', 'allowed_amt', 'paid_amt', 'deductible_amt',
    'copay_amt', 'coinsurance_amt', 'line_status', 'updated_at',
] -%}
{%- set added_columns = added_source_columns(
    changes, source_columns + ['adjustments'], 'claim_line'
) -%}
{#- audit trail: the delivery of the change that produced the row (audit.file_ledger.path) -#}
{%- set provenance_columns = [
    '_source_file', '_source_row_number', '_source_change_at', '_change_id', '_batch_id',
] -%}
{%- set columns = source_columns + ['_silver_loaded_at'] + provenance_columns + added_columns %}

with

{% if is_incremental() -%}
touched_lines as (

    {{ keys_changed_since_watermark(changes, key_columns) | indent(4) }}

),

-- the touched lines' histories, narrow: the ordering needs only the key and the change metadata
line_history as (

    select
        {{ key_columns | join(', ') }},
        {%- for column, _type in change_metadata_columns() %}
        {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ changes }}
    where {{ key_in(key_columns, 'touched_lines') }}

),

{% else -%}
line_history as (

    select * from {{ changes }}

),

{% endif -%}
deduplicated as (

    {{ deduplicate_changes('line_history', key_columns=key_columns) | indent(4) }}

),

{% if is_incremental() -%}
current_deliveries as (

    {{ current_state('deduplicated', key_columns=key_columns) | indent(4) }}

),

current_lines as (

    {{ rows_of_deliveries('current_deliveries', changes) | indent(4) }}

),

{% else -%}
current_lines as (

    {{ current_state('deduplicated', key_columns=key_columns) | indent(4) }}

),

{% endif -%}
line_loads as (

    select claim_id, line_number, max(_loaded_at) as _silver_loaded_at
    from line_history
    group by claim_id, line_number

),

lines as (

    select
        current_lines.*,
        line_loads._silver_loaded_at,
        current_lines._row_number as _source_row_number,
        current_lines._dms_timestamp as _source_change_at
    from current_lines
    inner join line_loads
        on current_lines.claim_id = line_loads.claim_id
        and current_lines.line_number = line_loads.line_number

)

{{ select_with_tombstones('lines', 'touched_lines', key_columns, columns) }}
