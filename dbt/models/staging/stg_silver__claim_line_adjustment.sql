-- Silver child table flattened from CLAIM_LINE.ADJUSTMENTS: one row per array element per
-- delivered claim_line change. Cast only.
with source as (

    select * from {{ source('silver', 'claim_line_adjustment') }}

),

renamed as (

    select
        -- parent change and key
        cast(_change_id as varchar) as _change_id,
        cast(_batch_id as varchar) as _batch_id,
        cast(claim_id as varchar) as claim_id,
        cast(line_number as bigint) as line_number,
        -- array element
        cast(adj_seq as bigint) as adj_seq,
        cast(group_code as varchar) as group_code,
        cast(carc_code as varchar) as carc_code,
        cast(amount as decimal(12, 2)) as amount
    from source

)

select * from renamed
