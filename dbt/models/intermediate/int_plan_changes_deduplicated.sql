-- Changes of CLAIMS.PLAN, one row per change (duplicate deliveries removed), ranked per key in
-- change order (CONTRACT §2).
{{
    deduplicate_changes(
        ref('stg_silver__plan'),
        key_columns=['plan_id'],
    )
}}
