-- Silver change table of CLAIMS.CLAIM: one row per delivered change. Cast only.
-- Source columns added later (DDL) pass through once a contract classifies them (staging_columns).
{# change metadata, then the source columns in contract order #}
{%- set columns = change_metadata_columns() + [
    ('claim_id', 'varchar'),
    ('original_claim_id', 'varchar'),
    ('frequency_code', 'varchar'),
    ('claim_form_type', 'varchar'),
    ('member_id', 'varchar'),
    ('billing_provider_id', 'varchar'),
    ('bill_type_code', 'varchar'),
    ('statement_from_date', 'date'),
    ('statement_thru_date', 'date'),
    ('received_date', 'date'),
    ('adjudicated_date', 'date'),
    ('paid_date', 'date'),
    ('claim_status', 'varchar'),
    ('total_billed', 'decimal(12, 2)'),
    ('total_allowed', 'decimal(12, 2)'),
    ('total_paid', 'decimal(12, 2)'),
    ('diagnosis_codes', 'varchar'),
    ('updated_at', 'timestamp')
] %}

with source as (

    select * from {{ source('silver', 'claim') }}

),

renamed as (

    select
        {{ staging_columns(source('silver', 'claim'), columns) }}
    from source

)

select * from renamed
