-- Silver change table of CLAIMS.CLAIM: one row per delivered change. Cast only.
with source as (

    select * from {{ source('silver', 'claim') }}

),

renamed as (

    select
        -- change metadata
        cast(_change_id as varchar) as _change_id,
        cast(_op as varchar) as _op,
        cast(_dms_timestamp as timestamp) as _dms_timestamp,
        cast(_change_seq as varchar) as _change_seq,
        cast(_is_full_load as boolean) as _is_full_load,
        cast(_source_file as varchar) as _source_file,
        cast(_source_file_name as varchar) as _source_file_name,
        cast(_row_number as bigint) as _row_number,
        cast(_batch_id as varchar) as _batch_id,
        cast(_loaded_at as timestamp) as _loaded_at,
        -- source columns, in contract order
        cast(claim_id as varchar) as claim_id,
        cast(original_claim_id as varchar) as original_claim_id,
        cast(frequency_code as varchar) as frequency_code,
        cast(claim_form_type as varchar) as claim_form_type,
        cast(member_id as varchar) as member_id,
        cast(billing_provider_id as varchar) as billing_provider_id,
        cast(bill_type_code as varchar) as bill_type_code,
        cast(statement_from_date as date) as statement_from_date,
        cast(statement_thru_date as date) as statement_thru_date,
        cast(received_date as date) as received_date,
        cast(adjudicated_date as date) as adjudicated_date,
        cast(paid_date as date) as paid_date,
        cast(claim_status as varchar) as claim_status,
        cast(total_billed as decimal(12, 2)) as total_billed,
        cast(total_allowed as decimal(12, 2)) as total_allowed,
        cast(total_paid as decimal(12, 2)) as total_paid,
        cast(diagnosis_codes as varchar) as diagnosis_codes,
        cast(updated_at as timestamp) as updated_at
    from source

)

select * from renamed
