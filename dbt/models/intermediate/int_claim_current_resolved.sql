-- Current state of CLAIMS.CLAIM: the last change of each key in change order, for the keys
-- whose last change is not a delete.
{{
    current_state(
        ref('int_claim_changes_deduplicated'),
        key_columns=['claim_id'],
    )
}}
