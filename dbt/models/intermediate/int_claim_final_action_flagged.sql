-- Existing claims with their principal diagnosis and whether they are the final action.
-- A claim is not final when it is a void (frequency 8 or status VOID) or when another existing
-- claim replaces or voids it (frequency 7 or 8 naming it as original_claim_id).
with claims as (

    select * from {{ ref('int_claim_current_resolved') }}

),

superseded as (

    select distinct original_claim_id as claim_id
    from claims
    where frequency_code in ('7', '8')
        and original_claim_id is not null
        and original_claim_id <> claim_id

),

ranked_diagnoses as (

    select
        claim_id,
        dx_code,
        row_number() over (
            partition by claim_id
            order by case when dx_seq is null then 1 else 0 end, dx_seq, dx_position
        ) as dx_rank
    from {{ ref('int_claim_diagnoses_current_filtered') }}

)

select
    claims.*,
    ranked_diagnoses.dx_code as primary_dx_code,
    case
        when claims.frequency_code = '8' then false
        when claims.claim_status = 'VOID' then false
        when superseded.claim_id is not null then false
        else true
    end as is_final_action
from claims
left join superseded
    on claims.claim_id = superseded.claim_id
left join ranked_diagnoses
    on claims.claim_id = ranked_diagnoses.claim_id
    and ranked_diagnoses.dx_rank = 1
