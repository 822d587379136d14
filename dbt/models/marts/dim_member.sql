-- Member history, one row per SCD2 version (CONTRACT §4). No raw SSN: ssn_token only.
-- Incremental by member_id (delete+insert): a run rebuilds every version of the members with a
-- silver change loaded after the watermark, from their full change history, so a late change
-- lands between existing versions and unchanged versions keep their member_sk. A member never
-- loses its versions (a delete only closes one), so every touched member has rows to insert.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='member_id',
    )
}}
{%- set changes = ref('stg_silver__member') -%}
{%- set source_columns = [
    'member_id', 'subscriber_id', 'relationship_code', 'first_name', 'last_name', 'birth_date',
    'gender', 'ssn_token', 'address_line1', 'city', 'state', 'zip5', 'phone', 'email',
    'updated_at',
] -%}
{%- set version_columns = ['member_sk', 'valid_from', 'valid_to', 'is_current'] -%}
{#- Columns added at the source later, once a contract classifies them (added_source_columns):
    tracked like the others, appended at the end. -#}
{%- set added_columns = added_source_columns(changes, source_columns + version_columns, 'member') %}

with member_changes as (

    select * from {{ changes }}
    {%- if is_incremental() %}
    where member_id in (
        {{ keys_changed_since_watermark(changes, ['member_id']) | indent(8) }}
    )
    {%- endif %}

),

deduplicated as (

    {{ deduplicate_changes('member_changes', key_columns=['member_id']) | indent(4) }}

),

versions as (

    {{ scd2_versions(
        'deduplicated',
        key_columns=['member_id'],
        tracked_columns=(source_columns[1:] | reject('equalto', 'updated_at') | list) + added_columns,
    ) | indent(4) }}

),

member_loads as (

    select member_id, max(_loaded_at) as _silver_loaded_at
    from member_changes
    group by member_id

)

select
    {% for column in source_columns -%}
    versions.{{ column }},
    {% endfor -%}
    {{ hash_key(['versions.member_id', 'versions._change_id']) }} as member_sk,
    versions.valid_from,
    versions.valid_to,
    versions.is_current,
    member_loads._silver_loaded_at
    {%- for column in added_columns %},
    versions.{{ column }}
    {%- endfor %}
from versions
inner join member_loads
    on versions.member_id = member_loads.member_id
