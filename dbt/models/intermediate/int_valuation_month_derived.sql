-- The valuation month: the month of the latest DMS_TIMESTAMP processed into silver, over every
-- table and every delivered change (deletes and duplicate deliveries included). Open enrollments
-- run through it. Also the load time of the batch that moved it there (the first silver load of
-- a change dated in the valuation month): open coverage is rebuilt when that is newer than what
-- a coverage model has seen. One row; NULL columns while silver is empty.
-- Read from the per-load summary (a few rows) rather than from silver: a load holds a change
-- dated in the valuation month exactly when its latest change is.
with loads as (

    select _silver_loaded_at, latest_dms_timestamp
    from {{ ref('int_silver_loads_summarized') }}

),

valuation as (

    select
        max(latest_dms_timestamp) as valuation_timestamp,
        {{ month_start('max(latest_dms_timestamp)') }} as valuation_month
    from loads

)

select
    valuation.valuation_timestamp,
    valuation.valuation_month,
    min(
        case
            when loads.latest_dms_timestamp >= cast(valuation.valuation_month as timestamp)
                then loads._silver_loaded_at
        end
    ) as valuation_loaded_at
from valuation
left join loads
    on true
group by valuation.valuation_timestamp, valuation.valuation_month
