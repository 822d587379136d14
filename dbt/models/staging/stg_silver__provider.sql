-- Silver change table of CLAIMS.PROVIDER: one row per delivered change. Cast only.
-- Source columns added later (DDL) pass through once a contract classifies them (staging_columns).
{# change metadata, then the source columns in contract order #}
{%- set columns = change_metadata_columns() + [
    ('provider_id', 'varchar'),
    ('npi', 'varchar'),
    ('entity_type_code', 'varchar'),
    ('provider_name', 'varchar'),
    ('taxonomy_code', 'varchar'),
    ('state', 'varchar'),
    ('zip5', 'varchar'),
    ('network_status', 'varchar'),
    ('updated_at', 'timestamp')
] %}

with source as (

    select * from {{ source('silver', 'provider') }}

),

renamed as (

    select
        {{ staging_columns(source('silver', 'provider'), columns) }}
    from source

)

select * from renamed
