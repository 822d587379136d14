-- Current state of CLAIMS.ENROLLMENT: the last change of each key in change order, for the keys
-- whose last change is not a delete.
{{
    current_state(
        ref('int_enrollment_changes_deduplicated'),
        key_columns=['enrollment_id'],
    )
}}
