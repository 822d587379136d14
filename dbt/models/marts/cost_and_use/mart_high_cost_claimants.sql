-- High-cost claimants: per calendar year of incurral (year of statement_from_date) and line of
-- business, every member whose final-action claims paid at least var('high_cost_claimant_threshold')
-- (25,000 by default), ranked by paid amount. Claims, incurred months and lines of business are
-- mart_pmpm's (final_claims_attributed), so a member who changed line of business within a year
-- has a row in each. Claims without a member id have no claimant and are left out.
-- Analyst-facing: the member appears only as member_token, a random pseudonym from
-- int_member_tokens_assigned (never the member id, never anything derived from it), and dates
-- only as a year (Safe Harbor keeps the year), so the table carries no PHI column.
-- The current year is year to date and, like every incurred period, not completed for IBNR.
-- A plain table, rebuilt whole: a year's ranking changes with any of its claims.
{{ config(materialized='table') }}

with attributed_claims as (

    {{ final_claims_attributed(ref('int_enrollment_coverage_resolved')) | indent(4) }}

),

claimant_years as (

    select
        member_id,
        cast(extract(year from incurred_month) as integer) as incurred_year,
        line_of_business,
        cast(sum(coalesce(total_paid, 0)) as decimal(18, 2)) as paid_amount,
        cast(sum(coalesce(total_allowed, 0)) as decimal(18, 2)) as allowed_amount,
        count(*) as claim_count
    from attributed_claims
    where member_id is not null
    group by member_id, cast(extract(year from incurred_month) as integer), line_of_business

),

high_cost as (

    select
        tokens.member_token,
        claimant_years.incurred_year,
        claimant_years.line_of_business,
        claimant_years.paid_amount,
        claimant_years.allowed_amount,
        claimant_years.claim_count
    from claimant_years
    inner join {{ ref('int_member_tokens_assigned') }} as tokens
        on claimant_years.member_id = tokens.member_id
    where claimant_years.paid_amount >= {{ var('high_cost_claimant_threshold', 25000) }}

)

select
    incurred_year,
    line_of_business,
    -- ties (equal paid and allowed) are broken by the token: arbitrary but stable
    row_number() over (
        partition by incurred_year, line_of_business
        order by paid_amount desc, allowed_amount desc, member_token
    ) as paid_rank,
    member_token,
    paid_amount,
    allowed_amount,
    claim_count
from high_cost
