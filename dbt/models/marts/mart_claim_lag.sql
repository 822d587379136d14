-- Claim payment lag triangle: final-action claims with a paid_date, by incurred month (month of
-- statement_from_date) and paid month.
-- Incremental by incurred month (replace_keys, see macros/mart_months.sql): a run recomputes from
-- fct_claim the incurred months of the claims changed since the watermark (every version of them
-- and of the originals they name) and copies the others.
-- depends_on: {{ ref('stg_silver__claim') }}, {{ ref('int_silver_loads_summarized') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='replace_keys',
        unique_key='incurred_month',
    )
}}
{%- set columns = [
    'incurred_month', 'paid_month', 'lag_months', 'claim_count', 'paid_amount',
] %}

with

{% if is_incremental() -%}
touched_months as (

    {{ claim_months_touched_since_watermark() | indent(4) }}

),

{% endif -%}
paid_claims as (

    select
        {{ month_start('statement_from_date') }} as incurred_month,
        {{ month_start('paid_date') }} as paid_month,
        total_paid
    from {{ ref('fct_claim') }}
    where is_final_action
        and paid_date is not null
        and statement_from_date is not null
        {%- if is_incremental() %}
        and {{ month_start('statement_from_date') }} in (select year_month from touched_months)
        {%- endif %}

),

lags as (

    select
        incurred_month,
        paid_month,
        {{ month_diff('incurred_month', 'paid_month') }} as lag_months,
        count(*) as claim_count,
        cast(sum(coalesce(total_paid, 0)) as decimal(18, 2)) as paid_amount
    from paid_claims
    group by incurred_month, paid_month

)

{{ select_months_replaced(
    'lags',
    'touched_months',
    'incurred_month',
    columns,
    mart_silver_loaded_at([ref('fct_claim')]),
) }}
