-- Claims, one row per existing claim with its current columns (DIAGNOSIS_CODES flattened into
-- fct_claim_diagnosis), principal diagnosis and final-action flag: a claim is not final when it
-- is a void (frequency 8 or status VOID) or when another existing claim replaces or voids it
-- (frequency 7 or 8 naming it as original_claim_id).
-- Incremental by claim_id (replace_keys). A run recomputes the claims with a silver change loaded
-- after the watermark, plus every claim such a change names (now or in any earlier change) as
-- original_claim_id, since their is_final_action depends on it. To flag those, it also reads the
-- current state of the claims that name one of them. A deleted claim is deleted here.
{{
    config(
        materialized='incremental',
        incremental_strategy='replace_keys',
        unique_key='claim_id',
    )
}}
{%- set changes = ref('stg_silver__claim') -%}
{%- set diagnoses = ref('stg_silver__claim_diagnosis') -%}
{%- set source_columns = [
    'claim_id', 'original_claim_id', 'frequency_code', 'claim_form_type', 'member_id',
    'billing_provider_id', 'bill_type_code', 'statement_from_date', 'statement_thru_date',
    'received_date', 'adjudicated_date', 'paid_date', 'claim_status', 'total_billed',
    'total_allowed', 'total_paid', 'updated_at',
] -%}
{%- set derived_columns = ['primary_dx_code', 'is_final_action'] -%}
{%- set added_columns = added_source_columns(
    changes, source_columns + ['diagnosis_codes'] + derived_columns, 'claim'
) -%}
{#- audit trail: the delivery of the change that produced the row (audit.file_ledger.path) -#}
{%- set provenance_columns = [
    '_source_file', '_source_row_number', '_source_change_at', '_change_id', '_batch_id',
] -%}
{%- set columns = source_columns + derived_columns + ['_silver_loaded_at'] + provenance_columns
    + added_columns %}

with

{% if is_incremental() -%}
changed_claims as (

    {{ keys_changed_since_watermark(changes, ['claim_id']) | indent(4) }}

),

touched_claims as (

    select claim_id from changed_claims

    union

    -- originals a changed claim names or named: a replacement or void that appears, moves to
    -- another original, or is deleted changes their is_final_action
    select original_claim_id as claim_id
    from {{ changes }}
    where {{ key_in(['claim_id'], 'changed_claims') }}
        and original_claim_id is not null

),

naming_claims as (

    -- unchanged claims naming a touched claim: their stored row is their current state
    select claim_id
    from {{ this }}
    where original_claim_id in (select claim_id from touched_claims)

),

{% endif -%}
claim_changes as (

    select * from {{ changes }}
    {%- if is_incremental() %}
    where claim_id in (
        select claim_id from touched_claims
        union
        select claim_id from naming_claims
    )
    {%- endif %}

),

deduplicated as (

    {{ deduplicate_changes('claim_changes', key_columns=['claim_id']) | indent(4) }}

),

current_claims as (

    {{ current_state('deduplicated', key_columns=['claim_id']) | indent(4) }}

),

superseded as (

    select distinct original_claim_id as claim_id
    from current_claims
    where frequency_code in ('7', '8')
        and original_claim_id is not null
        and original_claim_id <> claim_id

),

diagnosis_rows as (

    select * from {{ diagnoses }}
    {%- if is_incremental() %}
    where {{ key_in(['claim_id'], 'touched_claims') }}
    {%- endif %}

),

deduplicated_diagnoses as (

    {{ deduplicate_child_rows('diagnosis_rows', position_column='dx_position') | indent(4) }}

),

ranked_diagnoses as (

    -- the elements of the claim's current DIAGNOSIS_CODES, lowest seq first
    select
        diagnoses.claim_id,
        diagnoses.dx_code,
        row_number() over (
            partition by diagnoses.claim_id
            order by
                case when diagnoses.dx_seq is null then 1 else 0 end,
                diagnoses.dx_seq,
                diagnoses.dx_position
        ) as dx_rank
    from deduplicated_diagnoses as diagnoses
    inner join current_claims
        on diagnoses._change_id = current_claims._change_id
        and diagnoses.claim_id = current_claims.claim_id

),

claim_loads as (

    select claim_id, max(_loaded_at) as _silver_loaded_at
    from claim_changes
    group by claim_id

),

claims as (

    select
        current_claims.*,
        ranked_diagnoses.dx_code as primary_dx_code,
        case
            when current_claims.frequency_code = '8' then false
            when current_claims.claim_status = 'VOID' then false
            when superseded.claim_id is not null then false
            else true
        end as is_final_action,
        claim_loads._silver_loaded_at,
        current_claims._row_number as _source_row_number,
        current_claims._dms_timestamp as _source_change_at
    from current_claims
    inner join claim_loads
        on current_claims.claim_id = claim_loads.claim_id
    left join superseded
        on current_claims.claim_id = superseded.claim_id
    left join ranked_diagnoses
        on current_claims.claim_id = ranked_diagnoses.claim_id
        and ranked_diagnoses.dx_rank = 1
    {%- if is_incremental() %}
    where {{ key_in(['claim_id'], 'touched_claims', 'current_claims') }}
    {%- endif %}

)

{{ select_with_tombstones('claims', 'touched_claims', ['claim_id'], columns) }}
