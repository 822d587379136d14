-- Plans, one row per existing plan with its current attributes.
select
    plan_id,
    plan_name,
    line_of_business,
    product_type,
    funding_type,
    updated_at
from {{ ref('int_plan_current_resolved') }}
