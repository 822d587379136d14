-- Diagnoses of each existing claim, from the claim's current change only (an earlier change's
-- DIAGNOSIS_CODES is history).
select diagnoses.*
from {{ ref('int_claim_diagnoses_deduplicated') }} as diagnoses
inner join {{ ref('int_claim_current_resolved') }} as claims
    on diagnoses._change_id = claims._change_id
    and diagnoses.claim_id = claims.claim_id
