-- Silver change table of CLAIMS.MEMBER: one row per delivered change. Cast only.
-- Source columns added later (DDL) pass through once a contract classifies them (staging_columns).
{# change metadata, then the source columns in contract order #}
{%- set columns = change_metadata_columns() + [
    ('member_id', 'varchar'),
    ('subscriber_id', 'varchar'),
    ('relationship_code', 'varchar'),
    ('first_name', 'varchar'),
    ('last_name', 'varchar'),
    ('birth_date', 'date'),
    ('gender', 'varchar'),
    ('ssn_token', 'varchar'),
    ('address_line1', 'varchar'),
    ('city', 'varchar'),
    ('state', 'varchar'),
    ('zip5', 'varchar'),
    ('phone', 'varchar'),
    ('email', 'varchar'),
    ('updated_at', 'timestamp')
] %}

with source as (

    select * from {{ source('silver', 'member') }}

),

renamed as (

    select
        {{ staging_columns(source('silver', 'member'), columns) }}
    from source

)

select * from renamed
