-- PMPM and utilization by service category: one row per month, line of business and service
-- category (inpatient, outpatient, professional, emergency, other).
-- Claims, months and lines of business are mart_pmpm's (final_claims_attributed), and the
-- (month, line of business) rows and their member months are read from mart_pmpm itself, so
-- member months agree by construction and every category has a row in every such month (zeros
-- where nothing was spent: averages over months need no gap filling).
-- Dollars are categorised line by line (fct_claim_line paid_amt / allowed_amt) with the rules of
-- the seed service_category_rules: the rule of lowest priority whose every non-empty condition
-- matches (claim form and bill type from the claim, revenue code, place of service and procedure
-- code from the line); no match is 'other'. A final-action claim without lines counts its header
-- totals, categorised by its form and bill type alone, so the categories of a month and line of
-- business add up to mart_pmpm wherever a claim's lines add up to its totals (CONTRACT §3).
-- A plain table, rebuilt whole: a line change need not touch its claim header (so the months
-- mart_pmpm recomputes would miss it) and a rule edited in the seed recategorises all history;
-- the full rebuild is one scan of the final-action claims and their lines.
{{ config(materialized='table') }}

with attributed_claims as (

    {{ final_claims_attributed(
        ref('int_enrollment_coverage_resolved'),
        claim_columns=['claim_form_type', 'bill_type_code'],
    ) | indent(4) }}

),

claim_lines as (

    select
        attributed_claims.claim_id,
        lines.line_number,
        attributed_claims.incurred_month,
        attributed_claims.line_of_business,
        attributed_claims.claim_form_type,
        attributed_claims.bill_type_code,
        lines.revenue_code,
        lines.place_of_service,
        lines.procedure_code,
        coalesce(lines.paid_amt, 0) as paid_amount,
        coalesce(lines.allowed_amt, 0) as allowed_amount
    from attributed_claims
    inner join {{ ref('fct_claim_line') }} as lines
        on attributed_claims.claim_id = lines.claim_id

    union all

    -- a claim without lines: its header as line 0, with no line codes
    select
        attributed_claims.claim_id,
        0 as line_number,
        attributed_claims.incurred_month,
        attributed_claims.line_of_business,
        attributed_claims.claim_form_type,
        attributed_claims.bill_type_code,
        null as revenue_code,
        null as place_of_service,
        null as procedure_code,
        coalesce(attributed_claims.total_paid, 0) as paid_amount,
        coalesce(attributed_claims.total_allowed, 0) as allowed_amount
    from attributed_claims
    where not exists (
        select 1
        from {{ ref('fct_claim_line') }} as lines
        where lines.claim_id = attributed_claims.claim_id
    )

),

rules as (

    select * from {{ ref('service_category_rules') }}

),

matched_rules as (

    -- every rule a line matches (or none: one row with NULLs); the lowest priority wins. Some
    -- systems drop the leading zero of the four-digit type of bill, so it is compared without.
    select
        claim_lines.claim_id,
        claim_lines.line_number,
        claim_lines.incurred_month,
        claim_lines.line_of_business,
        claim_lines.paid_amount,
        claim_lines.allowed_amount,
        coalesce(rules.service_category, 'other') as service_category,
        row_number() over (
            partition by claim_lines.claim_id, claim_lines.line_number
            order by rules.priority, rules.rule_id
        ) as match_rank
    from claim_lines
    left join rules
        on (rules.claim_form_type is null or rules.claim_form_type = claim_lines.claim_form_type)
        and (
            rules.bill_type_prefix is null
            or left(ltrim(claim_lines.bill_type_code, '0'), length(rules.bill_type_prefix))
            = rules.bill_type_prefix
        )
        and (
            rules.revenue_code_from is null
            or claim_lines.revenue_code between rules.revenue_code_from and rules.revenue_code_to
        )
        and (
            rules.place_of_service is null
            or rules.place_of_service = claim_lines.place_of_service
        )
        and (
            rules.procedure_code_from is null
            or claim_lines.procedure_code
            between rules.procedure_code_from and rules.procedure_code_to
        )

),

categorised as (

    select
        incurred_month as year_month,
        line_of_business,
        service_category,
        count(distinct claim_id) as claim_count,
        sum(paid_amount) as paid_amount,
        sum(allowed_amount) as allowed_amount
    from matched_rules
    where match_rank = 1
    group by incurred_month, line_of_business, service_category

),

service_categories as (

    select service_category from rules
    union
    select 'other' as service_category

),

months_and_lines as (

    select year_month, line_of_business, member_months from {{ ref('mart_pmpm') }}

),

joined as (

    select
        months_and_lines.year_month,
        months_and_lines.line_of_business,
        service_categories.service_category,
        months_and_lines.member_months,
        coalesce(categorised.claim_count, 0) as claim_count,
        cast(coalesce(categorised.paid_amount, 0) as decimal(18, 2)) as paid_amount,
        cast(coalesce(categorised.allowed_amount, 0) as decimal(18, 2)) as allowed_amount
    from months_and_lines
    cross join service_categories
    left join categorised
        on months_and_lines.year_month = categorised.year_month
        and months_and_lines.line_of_business = categorised.line_of_business
        and service_categories.service_category = categorised.service_category

)

select
    year_month,
    line_of_business,
    service_category,
    member_months,
    claim_count,
    paid_amount,
    allowed_amount,
    {{ divide_to_cents('paid_amount', 'member_months') }} as pmpm_paid,
    {{ divide_to_cents('allowed_amount', 'member_months') }} as pmpm_allowed,
    {{ divide_to_cents('(claim_count * 1000)', 'member_months') }} as utilization_per_1000
from joined
