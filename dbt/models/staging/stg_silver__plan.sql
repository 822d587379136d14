-- Silver change table of CLAIMS.PLAN: one row per delivered change. Cast only.
-- Source columns added later (DDL) pass through once a contract classifies them (staging_columns).
{# change metadata, then the source columns in contract order #}
{%- set columns = change_metadata_columns() + [
    ('plan_id', 'varchar'),
    ('plan_name', 'varchar'),
    ('line_of_business', 'varchar'),
    ('product_type', 'varchar'),
    ('funding_type', 'varchar'),
    ('updated_at', 'timestamp')
] %}

with source as (

    select * from {{ source('silver', 'plan') }}

),

renamed as (

    select
        {{ staging_columns(source('silver', 'plan'), columns) }}
    from source

)

select * from renamed
