-- Silver change table of CLAIMS.CLAIM_LINE: one row per delivered change. Cast only.
-- Source columns added later (DDL) pass through once a contract classifies them (staging_columns).
{# change metadata, then the source columns in contract order #}
{%- set columns = change_metadata_columns() + [
    ('claim_id', 'varchar'),
    ('line_number', 'bigint'),
    ('service_from_date', 'date'),
    ('service_thru_date', 'date'),
    ('procedure_code', 'varchar'),
    ('modifier_1', 'varchar'),
    ('modifier_2', 'varchar'),
    ('revenue_code', 'varchar'),
    ('place_of_service', 'varchar'),
    ('units', 'bigint'),
    ('rendering_provider_id', 'varchar'),
    ('billed_amt', 'decimal(12, 2)'),
    ('allowed_amt', 'decimal(12, 2)'),
    ('paid_amt', 'decimal(12, 2)'),
    ('deductible_amt', 'decimal(12, 2)'),
    ('copay_amt', 'decimal(12, 2)'),
    ('coinsurance_amt', 'decimal(12, 2)'),
    ('line_status', 'varchar'),
    ('adjustments', 'varchar'),
    ('updated_at', 'timestamp')
] %}

with source as (

    select * from {{ source('silver', 'claim_line') }}

),

renamed as (

    select
        {{ staging_columns(source('silver', 'claim_line'), columns) }}
    from source

)

select * from renamed
