-- Silver change table of CLAIMS.CLAIM_LINE: one row per delivered change. Cast only.
with source as (

    select * from {{ source('silver', 'claim_line') }}

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
        cast(line_number as bigint) as line_number,
        cast(service_from_date as date) as service_from_date,
        cast(service_thru_date as date) as service_thru_date,
        cast(procedure_code as varchar) as procedure_code,
        cast(modifier_1 as varchar) as modifier_1,
        cast(modifier_2 as varchar) as modifier_2,
        cast(revenue_code as varchar) as revenue_code,
        cast(place_of_service as varchar) as place_of_service,
        cast(units as bigint) as units,
        cast(rendering_provider_id as varchar) as rendering_provider_id,
        cast(billed_amt as decimal(12, 2)) as billed_amt,
        cast(allowed_amt as decimal(12, 2)) as allowed_amt,
        cast(paid_amt as decimal(12, 2)) as paid_amt,
        cast(deductible_amt as decimal(12, 2)) as deductible_amt,
        cast(copay_amt as decimal(12, 2)) as copay_amt,
        cast(coinsurance_amt as decimal(12, 2)) as coinsurance_amt,
        cast(line_status as varchar) as line_status,
        cast(adjustments as varchar) as adjustments,
        cast(updated_at as timestamp) as updated_at
    from source

)

select * from renamed
