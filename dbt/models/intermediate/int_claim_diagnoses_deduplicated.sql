-- Diagnoses flattened from CLAIM.DIAGNOSIS_CODES, one row per claim change and array position.
{{ deduplicate_child_rows(ref('stg_silver__claim_diagnosis'), position_column='dx_position') }}
