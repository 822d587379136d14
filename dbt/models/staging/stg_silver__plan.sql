-- Silver change table of CLAIMS.PLAN: one row per delivered change. Cast only.
with source as (

    select * from {{ source('silver', 'plan') }}

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
        cast(plan_id as varchar) as plan_id,
        cast(plan_name as varchar) as plan_name,
        cast(line_of_business as varchar) as line_of_business,
        cast(product_type as varchar) as product_type,
        cast(funding_type as varchar) as funding_type,
        cast(updated_at as timestamp) as updated_at
    from source

)

select * from renamed
