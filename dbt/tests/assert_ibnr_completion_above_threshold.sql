{#
    Warns when an incurred month older than the valuation month is less complete than
    var completion_warn_threshold (paid to date over estimated ultimate): a reserve that rests
    mostly on the factors, or payments running late. The month in progress is left out: it is
    always young. A check of mart_ibnr in Dagster (meta dagster.ref); warn severity.
#}
{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'mart_ibnr'}}}) }}
{#- A build of the platform's gold (another code location) selects this test too, as it reads
    gold models that build selects: before the first valuation month is built there is nothing to
    check, and a missing table must not fail that build. #}
{%- if execute and load_relation(ref('mart_ibnr')) is none %}
select 1 as not_built where false
{%- else %}
with valuation as (

    {{ valuation_bounds() | indent(4) }}

)

select
    ibnr.line_of_business,
    ibnr.incurred_month,
    ibnr.completion_factor
from {{ ref('mart_ibnr') }} as ibnr
inner join valuation
    on ibnr.valuation_month = valuation.valuation_month
where ibnr.incurred_month < valuation.as_of_month
    and ibnr.paid_to_date > 0
    and ibnr.completion_factor < {{ actuarial_parameter('completion_warn_threshold') }}
{%- endif %}
