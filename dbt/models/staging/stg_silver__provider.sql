-- Silver change table of CLAIMS.PROVIDER: one row per delivered change. Cast only.
with source as (

    select * from {{ source('silver', 'provider') }}

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
        cast(provider_id as varchar) as provider_id,
        cast(npi as varchar) as npi,
        cast(entity_type_code as varchar) as entity_type_code,
        cast(provider_name as varchar) as provider_name,
        cast(taxonomy_code as varchar) as taxonomy_code,
        cast(state as varchar) as state,
        cast(zip5 as varchar) as zip5,
        cast(network_status as varchar) as network_status,
        cast(updated_at as timestamp) as updated_at
    from source

)

select * from renamed
