-- Claims, one row per existing claim with its current columns (DIAGNOSIS_CODES flattened into
-- fct_claim_diagnosis), principal diagnosis and final-action flag.
select
    claim_id,
    original_claim_id,
    frequency_code,
    claim_form_type,
    member_id,
    billing_provider_id,
    bill_type_code,
    statement_from_date,
    statement_thru_date,
    received_date,
    adjudicated_date,
    paid_date,
    claim_status,
    total_billed,
    total_allowed,
    total_paid,
    updated_at,
    primary_dx_code,
    is_final_action
from {{ ref('int_claim_final_action_flagged') }}
