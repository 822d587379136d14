-- Changes of CLAIMS.PROVIDER, one row per change (duplicate deliveries removed), ranked per key in
-- change order (CONTRACT §2).
{{
    deduplicate_changes(
        ref('stg_silver__provider'),
        key_columns=['provider_id'],
    )
}}
