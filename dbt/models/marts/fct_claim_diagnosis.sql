-- Diagnoses of existing claims, one row per element of the current DIAGNOSIS_CODES.
-- Incremental by claim_id (replace_keys): a run replaces the diagnoses of the claims with a silver
-- change loaded after the watermark by those of their current change (the one fct_claim shows); a
-- claim deleted, or whose DIAGNOSIS_CODES emptied, loses its rows.
{{
    config(
        materialized='incremental',
        incremental_strategy='replace_keys',
        unique_key='claim_id',
    )
}}
{%- set changes = ref('stg_silver__claim') -%}
{%- set columns = ['claim_id', 'dx_seq', 'dx_code', 'poa', '_silver_loaded_at'] %}

with

{% if is_incremental() -%}
touched_claims as (

    {{ keys_changed_since_watermark(changes, ['claim_id']) | indent(4) }}

),

{% endif -%}
current_claims as (

    -- The current change of each existing claim and its watermark column, as fct_claim (built
    -- before this model, from the claims' full histories) holds them: a deleted claim has no
    -- row there, so it keeps no diagnoses here.
    select claim_id, _change_id, _silver_loaded_at
    from {{ ref('fct_claim') }}
    {%- if is_incremental() %}
    where {{ key_in(['claim_id'], 'touched_claims') }}
    {%- endif %}

),

diagnosis_rows as (

    select * from {{ ref('stg_silver__claim_diagnosis') }}
    {%- if is_incremental() %}
    where {{ key_in(['claim_id'], 'touched_claims') }}
    {%- endif %}

),

deduplicated_diagnoses as (

    {{ deduplicate_child_rows('diagnosis_rows', position_column='dx_position') | indent(4) }}

),

diagnoses as (

    -- only the current change's DIAGNOSIS_CODES; an earlier change's are history
    select
        deduplicated_diagnoses.claim_id,
        deduplicated_diagnoses.dx_seq,
        deduplicated_diagnoses.dx_code,
        deduplicated_diagnoses.poa,
        current_claims._silver_loaded_at
    from deduplicated_diagnoses
    inner join current_claims
        on deduplicated_diagnoses._change_id = current_claims._change_id
        and deduplicated_diagnoses.claim_id = current_claims.claim_id

)

{{ select_with_tombstones('diagnoses', 'touched_claims', ['claim_id'], columns) }}
