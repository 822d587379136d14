-- Silver change table of CLAIMS.ENROLLMENT: one row per delivered change. Cast only.
-- Source columns added later (DDL) pass through once a contract classifies them (staging_columns).
{# change metadata, then the source columns in contract order #}
{%- set columns = change_metadata_columns() + [
    ('enrollment_id', 'varchar'),
    ('member_id', 'varchar'),
    ('plan_id', 'varchar'),
    ('effective_date', 'date'),
    ('termination_date', 'date'),
    ('updated_at', 'timestamp')
] %}

with source as (

    select * from {{ source('silver', 'enrollment') }}

),

renamed as (

    select
        {{ staging_columns(source('silver', 'enrollment'), columns) }}
    from source

)

select * from renamed
