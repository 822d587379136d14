{#
    The members whose coverage (enrollments, their plans' line of business, the valuation month)
    may have changed since the calling model's watermark; the unit both coverage models rebuild.
    `coverage` is a relation with member_id, plan_id and termination_date per existing enrollment
    (int_enrollment_coverage_resolved, or the model's own previous state):

    1. every member named anywhere in the history of an enrollment changed since the watermark,
       so an enrollment moved to another member, or deleted with a key-only image, also rebuilds
       the member it left;
    2. the members enrolled in a plan changed since the watermark (its line of business);
    3. the members with an open enrollment, when the valuation month moved since the watermark
       (open enrollments run through it).
#}
{% macro members_touched_since_watermark(coverage) -%}
{%- set enrollments = ref('stg_silver__enrollment') -%}
select member_id
from {{ enrollments }}
where enrollment_id in (
        {{ keys_changed_since_watermark(enrollments, ['enrollment_id']) | indent(8) }}
    )
    and member_id is not null

union

select member_id
from {{ coverage }}
where plan_id in (
    {{ keys_changed_since_watermark(ref('stg_silver__plan'), ['plan_id']) | indent(4) }}
)

union

select member_id
from {{ coverage }}
where termination_date is null
    and {{ loaded_after_watermark(
        '(select valuation_loaded_at from ' ~ ref('int_valuation_month_derived') ~ ')'
    ) }}
{%- endmacro %}
