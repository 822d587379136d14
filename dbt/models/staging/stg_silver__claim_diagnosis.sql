-- Silver child table flattened from CLAIM.DIAGNOSIS_CODES: one row per array element per delivered
-- claim change. Cast only.
with source as (

    select * from {{ source('silver', 'claim_diagnosis') }}

),

renamed as (

    select
        -- parent change and key
        cast(_change_id as varchar) as _change_id,
        cast(_batch_id as varchar) as _batch_id,
        cast(claim_id as varchar) as claim_id,
        -- array element
        cast(dx_position as bigint) as dx_position,
        cast(dx_seq as bigint) as dx_seq,
        cast(dx_code as varchar) as dx_code,
        cast(poa as varchar) as poa
    from source

)

select * from renamed
