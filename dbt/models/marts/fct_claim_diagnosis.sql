-- Diagnoses of existing claims, one row per element of the current DIAGNOSIS_CODES.
select
    claim_id,
    dx_seq,
    dx_code,
    poa
from {{ ref('int_claim_diagnoses_current_filtered') }}
