-- Claim lines, one row per existing line with its current columns (ADJUSTMENTS flattened into
-- fct_claim_line_adjustment). A line exists by its own changes, whether or not its claim does.
select
    claim_id,
    line_number,
    service_from_date,
    service_thru_date,
    procedure_code,
    modifier_1,
    modifier_2,
    revenue_code,
    place_of_service,
    units,
    rendering_provider_id,
    billed_amt,
    allowed_amt,
    paid_amt,
    deductible_amt,
    copay_amt,
    coinsurance_amt,
    line_status,
    updated_at
from {{ ref('int_claim_line_current_resolved') }}
