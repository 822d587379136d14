-- Adjustments of existing claim lines, one row per element of the current ADJUSTMENTS.
-- Incremental by (claim_id, line_number) (replace_keys): a run replaces the adjustments of the
-- lines with a silver change loaded after the watermark by those of their current change (the one
-- fct_claim_line shows); a line deleted, or whose ADJUSTMENTS emptied, loses its rows.
{{
    config(
        materialized='incremental',
        incremental_strategy='replace_keys',
        unique_key=['claim_id', 'line_number'],
    )
}}
{%- set changes = ref('stg_silver__claim_line') -%}
{%- set key_columns = ['claim_id', 'line_number'] -%}
{%- set columns = [
    'claim_id', 'line_number', 'adj_seq', 'group_code', 'carc_code', 'amount', '_silver_loaded_at',
] %}

with

{% if is_incremental() -%}
touched_lines as (

    {{ keys_changed_since_watermark(changes, key_columns) | indent(4) }}

),

{% endif -%}
current_lines as (

    -- The current change of each existing line and its watermark column, as fct_claim_line
    -- (built before this model, from the lines' full histories) holds them: a deleted line has
    -- no row there, so it keeps no adjustments here.
    select claim_id, line_number, _change_id, _silver_loaded_at
    from {{ ref('fct_claim_line') }}
    {%- if is_incremental() %}
    where {{ key_in(key_columns, 'touched_lines') }}
    {%- endif %}

),

adjustment_rows as (

    -- on an incremental run, only the current changes' rows: earlier changes' are history, and
    -- copies of one change's rows share its _change_id (deduplicate_child_rows)
    select * from {{ ref('stg_silver__claim_line_adjustment') }}
    {%- if is_incremental() %}
    where _change_id in (select _change_id from current_lines)
    {%- endif %}

),

deduplicated_adjustments as (

    {{ deduplicate_child_rows('adjustment_rows', position_column='adj_seq') | indent(4) }}

),

adjustments as (

    -- only the current change's ADJUSTMENTS; an earlier change's are history
    select
        deduplicated_adjustments.claim_id,
        deduplicated_adjustments.line_number,
        deduplicated_adjustments.adj_seq,
        deduplicated_adjustments.group_code,
        deduplicated_adjustments.carc_code,
        deduplicated_adjustments.amount,
        current_lines._silver_loaded_at
    from deduplicated_adjustments
    inner join current_lines
        on deduplicated_adjustments._change_id = current_lines._change_id
        and deduplicated_adjustments.claim_id = current_lines.claim_id
        and deduplicated_adjustments.line_number = current_lines.line_number

)

{{ select_with_tombstones('adjustments', 'touched_lines', key_columns, columns) }}
