-- Changes of CLAIMS.CLAIM, one row per change (duplicate deliveries removed), ranked per key in
-- change order (CONTRACT §2).
{{
    deduplicate_changes(
        ref('stg_silver__claim'),
        key_columns=['claim_id'],
    )
}}
