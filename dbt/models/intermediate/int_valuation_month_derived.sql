-- The valuation month: the month of the latest DMS_TIMESTAMP processed into silver, over every
-- table and every delivered change (deletes and duplicate deliveries included). Open enrollments
-- run through it. One row; NULL columns while silver is empty.
with change_times as (

    {% for table in ['plan', 'member', 'enrollment', 'provider', 'claim', 'claim_line'] -%}
    select max(_dms_timestamp) as latest_dms_timestamp from {{ ref('stg_silver__' ~ table) }}
    {% if not loop.last %}union all
    {% endif %}
    {%- endfor %}

)

select
    max(latest_dms_timestamp) as valuation_timestamp,
    {{ month_start('max(latest_dms_timestamp)') }} as valuation_month
from change_times
