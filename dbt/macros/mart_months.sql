{#
    Marts incremental by month (mart_pmpm, mart_claim_lag): a run recomputes, from the gold facts,
    only the months whose rows the silver changes since the mart's watermark can have changed,
    and copies the other months from its previous state.

    Which months. A month's rows change when a row of an input in that month changes, appears or
    disappears. The inputs replace whole keys (a claim, a member), so a row that disappeared is no
    longer in gold to say which month it was in; the months are therefore read from silver, where
    every earlier state of a key still is:
    * claims: the months of statement_from_date in every version of the claims changed since the
      watermark and of the originals any version of theirs names (fct_claim rebuilds exactly
      those; an original's is_final_action depends on the claims naming it);
    * coverage (member months and a claim's line of business): the months overlapping any version
      of an enrollment changed since the watermark (its old and its new span), the spans of the
      enrollments of a plan changed since the watermark, and, when the valuation month moved,
      the months after the valuation month of the loads up to the watermark (open enrollments
      gained them).

    Watermark. Every row carries _silver_loaded_at, the same in every row: the latest silver load
    the mart's inputs were built from. A full refresh writes the same value, so the incremental
    result and a full refresh are equal to the byte; an incremental run restamps the months it
    copies (the mart is a few hundred rows). The stamp is the latest silver load only when every
    model the mart's inputs come from ran in this invocation (dbt builds them first and skips the
    mart if one fails); in a partial selection it is the oldest of the inputs' own watermarks, a
    load every input had processed, so silver loaded after it is looked at again next time (an
    empty input vouches for nothing: the next run looks at all of silver).
#}


{#
    Scalar expression: the silver load through which the inputs (`incremental_inputs`, the
    incremental models the mart reads, directly or through views) are complete; see above.
#}
{% macro mart_silver_loaded_at(incremental_inputs) -%}
    {%- set loads = ref('int_silver_loads_summarized') -%}
    {%- set not_selected = [] -%}
    {%- for relation in [loads] + incremental_inputs -%}
        {%- if not execute or ('model.' ~ project_name ~ '.' ~ relation.identifier)
            not in selected_resources -%}
            {%- do not_selected.append(relation) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not not_selected -%}
        (select max(_silver_loaded_at) from {{ loads }})
    {%- else -%}
        least(
            {% for relation in [loads] + incremental_inputs -%}
            coalesce(
                (select max(_silver_loaded_at) from {{ relation }}),
                cast('0001-01-01' as timestamp)
            ){{ ',' if not loop.last }}
            {% endfor -%}
        )
    {%- endif -%}
{%- endmacro %}


{#
    The months (column year_month) of statement_from_date of every silver version of the claims
    changed since the watermark and of the originals they name or named.
#}
{% macro claim_months_touched_since_watermark() -%}
{%- set claims = ref('stg_silver__claim') -%}
select distinct {{ month_start('statement_from_date') }} as year_month
from {{ claims }}
where statement_from_date is not null
    and claim_id in (
        select claim_id
        from {{ claims }}
        where {{ loaded_after_watermark() }}

        union

        select original_claim_id
        from {{ claims }}
        where original_claim_id is not null
            and claim_id in (
                {{ keys_changed_since_watermark(claims, ['claim_id']) | indent(16) }}
            )
    )
{%- endmacro %}


{#
    The months among `candidate_months` (a relation or CTE with year_month: every month the mart
    had or can have rows in) whose coverage may have changed since the watermark.
#}
{% macro coverage_months_touched_since_watermark(candidate_months) -%}
{%- set enrollments = ref('stg_silver__enrollment') -%}
{%- set loads = ref('int_silver_loads_summarized') -%}
select distinct candidates.year_month
from {{ candidate_months }} as candidates
inner join (

    -- every version of an enrollment changed since the watermark: where it covered and covers
    select
        enrollment_versions.effective_date as span_start,
        coalesce(
            enrollment_versions.termination_date,
            {{ month_end('valuation.valuation_month') }}
        ) as span_end
    from {{ enrollments }} as enrollment_versions
    cross join {{ ref('int_valuation_month_derived') }} as valuation
    where enrollment_versions.effective_date is not null
        and enrollment_versions.enrollment_id in (
            {{ keys_changed_since_watermark(enrollments, ['enrollment_id']) | indent(12) }}
        )

    union all

    -- the enrollments of a plan changed since the watermark (its line of business)
    select effective_date as span_start, coverage_end_date as span_end
    from {{ ref('int_enrollment_coverage_resolved') }}
    where effective_date is not null
        and plan_id in (
            {{ keys_changed_since_watermark(ref('stg_silver__plan'), ['plan_id']) | indent(12) }}
        )

    union all

    -- the months open enrollments gained: after the valuation month of the loads up to the
    -- watermark, through the current one (none when it did not move)
    select
        coalesce(
            {{ month_end('previous.valuation_timestamp') }} + 1, cast('0001-01-01' as date)
        ) as span_start,
        {{ month_end('valuation.valuation_month') }} as span_end
    from {{ ref('int_valuation_month_derived') }} as valuation
    cross join (
        select max(latest_dms_timestamp) as valuation_timestamp
        from {{ loads }}
        where not ({{ loaded_after_watermark('_silver_loaded_at') }})
    ) as previous
    where valuation.valuation_month is not null

) as spans
    on candidates.year_month <= spans.span_end
    and {{ month_end('candidates.year_month') }} >= spans.span_start
{%- endmacro %}


{#
    The final SELECT of a mart incremental by month (strategy replace_keys, unique_key
    `month_column`). Full build: `columns` of the CTE `rows`, stamped `loaded_at`. Incremental
    run: the rows of the touched months (CTE `touched`, column year_month), a tombstone for each
    touched month left without rows, and every other month's rows copied from the table,
    restamped.
#}
{% macro select_months_replaced(rows, touched, month_column, columns, loaded_at) -%}
select
    {% for column in columns -%}
    {{ column }},
    {% endfor -%}
    {{ loaded_at }} as _silver_loaded_at
from {{ rows }}
{%- if is_incremental() %}

union all

select
    {% for column in columns -%}
    {{ touched ~ '.year_month' if column == month_column else 'null' }} as {{ column }},
    {% endfor -%}
    cast(null as timestamp) as _silver_loaded_at
from {{ touched }}
where {{ touched }}.year_month not in (select {{ month_column }} from {{ rows }})

union all

select
    {% for column in columns -%}
    {{ column }},
    {% endfor -%}
    {{ loaded_at }} as _silver_loaded_at
from {{ this }}
where {{ month_column }} not in (select year_month from {{ touched }})
{%- endif %}
{%- endmacro %}
