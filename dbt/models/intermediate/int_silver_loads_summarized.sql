-- One row per silver load (_loaded_at: one per committed silver batch): the latest DMS_TIMESTAMP
-- among its change rows in every change table (deletes and duplicate deliveries included).
-- Incremental (append by load): a run reads only the silver rows loaded after the latest load it
-- holds, which the engine finds from zone maps / micro-partition metadata since silver is appended
-- batch by batch. The valuation month is then an aggregate over a few rows instead of a scan of
-- all of silver on every run (int_valuation_month_derived).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='_silver_loaded_at',
    )
}}
{%- set tables = ['plan', 'member', 'enrollment', 'provider', 'claim', 'claim_line'] %}

with change_times as (

    {% for table in tables -%}
    select _loaded_at, max(_dms_timestamp) as latest_dms_timestamp
    from {{ ref('stg_silver__' ~ table) }}
    where {{ loaded_after_watermark() }}
    group by _loaded_at
    {% if not loop.last %}union all
    {% endif %}
    {%- endfor %}

)

select
    _loaded_at as _silver_loaded_at,
    max(latest_dms_timestamp) as latest_dms_timestamp
from change_times
group by _loaded_at
