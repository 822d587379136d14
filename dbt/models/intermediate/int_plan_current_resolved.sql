-- Current state of CLAIMS.PLAN: the last change of each key in change order, for the keys
-- whose last change is not a delete.
{{
    current_state(
        ref('int_plan_changes_deduplicated'),
        key_columns=['plan_id'],
    )
}}
