-- Silver change table of CLAIMS.MEMBER: one row per delivered change. Cast only.
with source as (

    select * from {{ source('silver', 'member') }}

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
        cast(member_id as varchar) as member_id,
        cast(subscriber_id as varchar) as subscriber_id,
        cast(relationship_code as varchar) as relationship_code,
        cast(first_name as varchar) as first_name,
        cast(last_name as varchar) as last_name,
        cast(birth_date as date) as birth_date,
        cast(gender as varchar) as gender,
        cast(ssn_token as varchar) as ssn_token,
        cast(address_line1 as varchar) as address_line1,
        cast(city as varchar) as city,
        cast(state as varchar) as state,
        cast(zip5 as varchar) as zip5,
        cast(phone as varchar) as phone,
        cast(email as varchar) as email,
        cast(updated_at as timestamp) as updated_at
    from source

)

select * from renamed
