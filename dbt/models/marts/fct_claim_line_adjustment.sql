-- Adjustments of existing claim lines, one row per element of the current ADJUSTMENTS.
select
    claim_id,
    line_number,
    adj_seq,
    group_code,
    carc_code,
    amount
from {{ ref('int_claim_line_adjustments_current_filtered') }}
