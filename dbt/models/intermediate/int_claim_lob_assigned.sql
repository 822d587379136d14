-- Existing claims with their incurred month (month of statement_from_date) and the line of
-- business of the member's enrollment covering statement_from_date, chosen among several like
-- member months are ('UNKNOWN' when none covers it, or statement_from_date / member_id is NULL).
with claims as (

    select
        claim_id,
        member_id,
        statement_from_date,
        {{ month_start('statement_from_date') }} as incurred_month,
        paid_date,
        total_allowed,
        total_paid,
        is_final_action
    from {{ ref('int_claim_final_action_flagged') }}

),

covering_enrollments as (

    select
        claims.claim_id,
        enrollment_months.line_of_business,
        row_number() over (
            partition by claims.claim_id
            order by {{ enrollment_preference('enrollment_months') }}
        ) as preference_rank
    from claims
    inner join {{ ref('int_enrollment_months_expanded') }} as enrollment_months
        on claims.member_id = enrollment_months.member_id
        and claims.incurred_month = enrollment_months.year_month
        and claims.statement_from_date >= enrollment_months.effective_date
        and claims.statement_from_date <= enrollment_months.coverage_end_date

)

select
    claims.claim_id,
    claims.member_id,
    claims.statement_from_date,
    claims.incurred_month,
    claims.paid_date,
    claims.total_allowed,
    claims.total_paid,
    claims.is_final_action,
    coalesce(covering_enrollments.line_of_business, 'UNKNOWN') as line_of_business
from claims
left join covering_enrollments
    on claims.claim_id = covering_enrollments.claim_id
    and covering_enrollments.preference_rank = 1
