{#
    The claims the payer marts count, one row each, with the month and line of business they
    count in (CONTRACT §4, mart_pmpm): final-action claims with a statement_from_date, in the
    month of statement_from_date and the line of business of the member's enrollment covering
    that date, chosen among several like member months are (enrollment_preference); 'UNKNOWN'
    when none covers it (or member_id is NULL). mart_pmpm, mart_pmpm_by_service_category and
    mart_high_cost_claimants all read claims through this one definition, so their dollars
    agree by construction.

    `coverage`: the enrollment coverage relation (int_enrollment_coverage_resolved).
    `months`: optional SQL returning a column year_month (e.g. a mart's touched months); only
    claims incurred in those months are returned.
    `claim_columns`: further columns of fct_claim to carry (e.g. claim_form_type).

    Columns: claim_id, member_id, incurred_month, line_of_business, total_paid, total_allowed,
    then `claim_columns`.
    A single SELECT (with its own WITH), to be used as the body of a CTE.
#}
{% macro final_claims_attributed(coverage, months=none, claim_columns=[]) -%}
with final_claims as (

    select
        claim_id,
        member_id,
        statement_from_date,
        {{ month_start('statement_from_date') }} as incurred_month,
        total_paid,
        total_allowed
        {%- for column in claim_columns %},
        {{ column }}
        {%- endfor %}
    from {{ ref('fct_claim') }}
    where is_final_action
        and statement_from_date is not null
        {%- if months is not none %}
        and {{ month_start('statement_from_date') }} in ({{ months }})
        {%- endif %}

),

preferred_enrollments as (

    {{ claim_line_of_business('final_claims', coverage) | indent(4) }}

)

select
    final_claims.claim_id,
    final_claims.member_id,
    final_claims.incurred_month,
    coalesce(preferred_enrollments.line_of_business, 'UNKNOWN') as line_of_business,
    final_claims.total_paid,
    final_claims.total_allowed
    {%- for column in claim_columns %},
    final_claims.{{ column }}
    {%- endfor %}
from final_claims
left join preferred_enrollments
    on final_claims.claim_id = preferred_enrollments.claim_id
{%- endmacro %}


{#
    Each row of `rows` (claim_id, member_id, statement_from_date) with the line of business of
    the member's enrollment covering statement_from_date in `coverage` (enrollment_id,
    member_id, line_of_business, effective_date, coverage_end_date), the preferred one where
    several do (enrollment_preference, as for member months); NULL when none does. The payer marts
    (final_claims_attributed) and the actuarial triangle attribute claims through it.
#}
{% macro claim_line_of_business(rows, coverage) -%}
select claim_id, line_of_business
from (
    select
        claim_id,
        line_of_business,
        row_number() over (
            partition by claim_id
            order by {{ enrollment_preference() }}
        ) as preference_rank
    from (
        select
            claims.claim_id,
            coverage.line_of_business,
            coverage.effective_date,
            coverage.enrollment_id,
            {{ day_diff(
                'greatest(coverage.effective_date, ' ~ month_start('claims.statement_from_date') ~ ')',
                'least(coverage.coverage_end_date, ' ~ month_end('claims.statement_from_date') ~ ')'
            ) }} + 1 as days_covered
        from {{ rows }} as claims
        inner join {{ coverage }} as coverage
            on claims.member_id = coverage.member_id
            and claims.statement_from_date >= coverage.effective_date
            and claims.statement_from_date <= coverage.coverage_end_date
    ) as covering
) as ranked
where preference_rank = 1
{%- endmacro %}
