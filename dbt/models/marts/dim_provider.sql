-- Provider history, one row per SCD2 version (CONTRACT §4).
-- Incremental by provider_id (delete+insert): a run rebuilds every version of the providers with
-- a silver change loaded after the watermark, from their full change history, so a late change
-- lands between existing versions and unchanged versions keep their provider_sk. A provider never
-- loses its versions (a delete only closes one), so every touched provider has rows to insert.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='provider_id',
    )
}}
{%- set changes = ref('stg_silver__provider') -%}
{%- set source_columns = [
    'provider_id', 'npi', 'entity_type_code', 'provider_name', 'taxonomy_code', 'state', 'zip5',
    'network_status', 'updated_at',
] -%}
{%- set version_columns = ['provider_sk', 'valid_from', 'valid_to', 'is_current'] -%}
{#- Columns added at the source later, once a contract classifies them (added_source_columns):
    tracked like the others, appended at the end. -#}
{%- set added_columns = added_source_columns(changes, source_columns + version_columns, 'provider') %}

with provider_changes as (

    select * from {{ changes }}
    {%- if is_incremental() %}
    where provider_id in (
        {{ keys_changed_since_watermark(changes, ['provider_id']) | indent(8) }}
    )
    {%- endif %}

),

deduplicated as (

    {{ deduplicate_changes('provider_changes', key_columns=['provider_id']) | indent(4) }}

),

versions as (

    {{ scd2_versions(
        'deduplicated',
        key_columns=['provider_id'],
        tracked_columns=(source_columns[1:] | reject('equalto', 'updated_at') | list) + added_columns,
    ) | indent(4) }}

),

provider_loads as (

    select provider_id, max(_loaded_at) as _silver_loaded_at
    from provider_changes
    group by provider_id

)

select
    {% for column in source_columns -%}
    versions.{{ column }},
    {% endfor -%}
    {{ hash_key(['versions.provider_id', 'versions._change_id']) }} as provider_sk,
    versions.valid_from,
    versions.valid_to,
    versions.is_current,
    provider_loads._silver_loaded_at
    {%- for column in added_columns %},
    versions.{{ column }}
    {%- endfor %}
from versions
inner join provider_loads
    on versions.provider_id = provider_loads.provider_id
