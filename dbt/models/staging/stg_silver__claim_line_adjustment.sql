-- Silver child table flattened from CLAIM_LINE.ADJUSTMENTS: one row per array element per
-- delivered claim_line change. Cast only.
-- Source columns added later (DDL) pass through once a contract classifies them (staging_columns).
{# parent change and key, then the array element #}
{%- set columns = [
    ('_change_id', 'varchar'),
    ('_batch_id', 'varchar'),
    ('claim_id', 'varchar'),
    ('line_number', 'bigint'),
    ('adj_seq', 'bigint'),
    ('group_code', 'varchar'),
    ('carc_code', 'varchar'),
    ('amount', 'decimal(12, 2)')
] %}

with source as (

    select * from {{ source('silver', 'claim_line_adjustment') }}

),

renamed as (

    select
        {{ staging_columns(source('silver', 'claim_line_adjustment'), columns) }}
    from source

)

select * from renamed
