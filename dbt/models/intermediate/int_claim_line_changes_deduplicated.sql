-- Changes of CLAIMS.CLAIM_LINE, one row per change (duplicate deliveries removed), ranked per key in
-- change order (CONTRACT §2).
{{
    deduplicate_changes(
        ref('stg_silver__claim_line'),
        key_columns=['claim_id', 'line_number'],
    )
}}
