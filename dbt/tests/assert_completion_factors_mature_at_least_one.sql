{#
    Paid claims develop upward: where an age-to-age factor averages enough incurred months to be
    mature (var mature_factor_min_incurred_months), it is at least 1. A factor below 1 there
    means reversals outweigh new payments at that age across many months: recoveries or voids
    an actuary needs to look at before using the factors. Warn severity: negative development
    is real (a small line of business voiding a large claim shows it), so it is flagged for
    review rather than failing the build. A check of mart_completion_factors in Dagster
    (meta dagster.ref).
#}
{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'mart_completion_factors'}}}) }}
{#- A build of the platform's gold (another code location) selects this test too, as it reads
    gold models that build selects: before the first valuation month is built there is nothing to
    check, and a missing table must not fail that build. #}
{%- if execute and load_relation(ref('mart_completion_factors')) is none %}
select 1 as not_built where false
{%- else %}
with valuation as (

    {{ valuation_bounds() | indent(4) }}

)

select
    factors.line_of_business,
    factors.development_month,
    factors.age_to_age_factor,
    factors.incurred_months_used
from {{ ref('mart_completion_factors') }} as factors
inner join valuation
    on factors.valuation_month = valuation.valuation_month
where not factors.is_tail
    and factors.incurred_months_used >= {{ actuarial_parameter('mature_factor_min_incurred_months') }}
    and factors.age_to_age_factor < 1
{%- endif %}
