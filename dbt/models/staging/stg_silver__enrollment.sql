-- Silver change table of CLAIMS.ENROLLMENT: one row per delivered change. Cast only.
with source as (

    select * from {{ source('silver', 'enrollment') }}

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
        cast(enrollment_id as varchar) as enrollment_id,
        cast(member_id as varchar) as member_id,
        cast(plan_id as varchar) as plan_id,
        cast(effective_date as date) as effective_date,
        cast(termination_date as date) as termination_date,
        cast(updated_at as timestamp) as updated_at
    from source

)

select * from renamed
