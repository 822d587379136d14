-- Adjustments of each existing claim line, from the line's current change only.
select adjustments.*
from {{ ref('int_claim_line_adjustments_deduplicated') }} as adjustments
inner join {{ ref('int_claim_line_current_resolved') }} as lines
    on adjustments._change_id = lines._change_id
    and adjustments.claim_id = lines.claim_id
    and adjustments.line_number = lines.line_number
