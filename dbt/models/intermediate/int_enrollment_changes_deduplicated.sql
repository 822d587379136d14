-- Changes of CLAIMS.ENROLLMENT, one row per change (duplicate deliveries removed), ranked per key in
-- change order (CONTRACT §2).
{{
    deduplicate_changes(
        ref('stg_silver__enrollment'),
        key_columns=['enrollment_id'],
    )
}}
