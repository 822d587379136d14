-- The valuation month: the month of the latest DMS_TIMESTAMP processed into silver, over every
-- table and every delivered change (deletes and duplicate deliveries included). Open enrollments
-- run through it. Also the load time of the batch that moved it there (the first silver load of
-- a change dated in the valuation month): open coverage is rebuilt when that is newer than what
-- a coverage model has seen. One row; NULL columns while silver is empty. Column aggregates
-- only (Snowflake answers the max from metadata; the min reads rows of the valuation month).
{%- set tables = ['plan', 'member', 'enrollment', 'provider', 'claim', 'claim_line'] %}
with change_times as (

    {% for table in tables -%}
    select max(_dms_timestamp) as latest_dms_timestamp from {{ ref('stg_silver__' ~ table) }}
    {% if not loop.last %}union all
    {% endif %}
    {%- endfor %}

),

valuation as (

    select
        max(latest_dms_timestamp) as valuation_timestamp,
        {{ month_start('max(latest_dms_timestamp)') }} as valuation_month
    from change_times

),

first_loads as (

    {% for table in tables -%}
    select min(changes._loaded_at) as loaded_at
    from {{ ref('stg_silver__' ~ table) }} as changes
    cross join valuation
    where changes._dms_timestamp >= cast(valuation.valuation_month as timestamp)
    {% if not loop.last %}union all
    {% endif %}
    {%- endfor %}

)

select
    valuation.valuation_timestamp,
    valuation.valuation_month,
    (select min(loaded_at) from first_loads) as valuation_loaded_at
from valuation
