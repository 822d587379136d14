-- Silver child table flattened from CLAIM.DIAGNOSIS_CODES: one row per array element per delivered
-- claim change. Cast only.
-- Source columns added later (DDL) pass through once a contract classifies them (staging_columns).
{# parent change and key, then the array element #}
{%- set columns = [
    ('_change_id', 'varchar'),
    ('_batch_id', 'varchar'),
    ('claim_id', 'varchar'),
    ('dx_position', 'bigint'),
    ('dx_seq', 'bigint'),
    ('dx_code', 'varchar'),
    ('poa', 'varchar')
] %}

with source as (

    select * from {{ source('silver', 'claim_diagnosis') }}

),

renamed as (

    select
        {{ staging_columns(source('silver', 'claim_diagnosis'), columns) }}
    from source

)

select * from renamed
