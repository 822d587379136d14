-- Adjustments flattened from CLAIM_LINE.ADJUSTMENTS, one row per line change and array position.
{{ deduplicate_child_rows(ref('stg_silver__claim_line_adjustment'), position_column='adj_seq') }}
