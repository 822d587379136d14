-- Changes of CLAIMS.MEMBER, one row per change (duplicate deliveries removed), ranked per key in
-- change order (CONTRACT §2).
{{
    deduplicate_changes(
        ref('stg_silver__member'),
        key_columns=['member_id'],
    )
}}
