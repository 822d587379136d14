{#
    Valuation as of a month-end (the actuarial marts, partitioned by valuation month in Dagster).

    A partition answers "what would have been reported at the end of that month": it reads the
    silver change history as it stood then. A change is known at the valuation when its
    DMS_TIMESTAMP is before the first instant of the next month. The rows of a table's initial
    full load are the exception: they are the source's state when replication began, with no
    history before it, so a valuation dated before the load rebuilds what was known then from the
    business dates those rows carry (a payment counts from its PAID_DATE, coverage from its
    EFFECTIVE_DATE). A later reload of the table is dated like any change.

    A month the data have not reached yet (the current one, or a partition after the newest
    change) is valued through the newest change processed: its development ages are measured to
    that month, and re-running it after more CDC arrives moves it, as it should. Once the data
    have passed a month's end, its partition no longer changes, whatever arrives later (a late
    file dated inside the month does change it: it was part of that month's history).

    The partition comes in as var('valuation_month') (the first day of the month, as Dagster's
    monthly partition key); without it (a plain `dbt build`) the current valuation month.
#}


{#
    Parameters of the actuarial marts. Override with --vars; the defaults are the method's:
    triangle_months                  incurred months in a triangle (the valuation month and those
                                     before it); development runs 0 .. triangle_months - 1
    completion_factor_history_months volume-weighted factors average the latest N incurred
                                     months observed at each age (0: all of them)
    tail_factor                      development beyond the oldest age (1.0: none)
    mature_factor_min_incurred_months a factor is mature when it averages at least this many
                                     incurred months (checked >= 1)
    completion_warn_threshold        warn when a month older than the valuation month is less
                                     complete than this
#}
{% macro actuarial_parameter(name) -%}
    {%- set defaults = {
        'triangle_months': 24,
        'completion_factor_history_months': 12,
        'tail_factor': 1.0,
        'mature_factor_min_incurred_months': 6,
        'completion_warn_threshold': 0.5,
    } -%}
    {%- if name not in defaults -%}
        {{ exceptions.raise_compiler_error('unknown actuarial parameter ' ~ name) }}
    {%- endif -%}
    {{ return(var(name, defaults[name])) }}
{%- endmacro %}


{#
    One row: valuation_month (the partition), known_before (changes dated before it are known),
    as_of_month (the month development is measured to) and valuation_date (the last day a
    payment may carry). Call as the body of a CTE named `valuation`.
#}
{% macro valuation_bounds() -%}
{%- set requested = var('valuation_month', none) -%}
{%- if requested is not none and not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-01', requested | string) -%}
    {{ exceptions.raise_compiler_error(
        'valuation_month must be the first day of a month (YYYY-MM-01), got ' ~ requested) }}
{%- endif -%}
{%- set data = ref('int_valuation_month_derived') -%}
select
    valuation_month,
    known_before,
    least(valuation_month, coalesce(data_month, valuation_month)) as as_of_month,
    case
        when data_timestamp is null or data_timestamp >= known_before
            then {{ month_end('valuation_month') }}
        else cast(data_timestamp as date)
    end as valuation_date
from (
    select
        {% if requested is none -%}
        data.valuation_month
        {%- else -%}
        cast('{{ requested }}' as date)
        {%- endif %} as valuation_month,
        cast({{ add_months(
            'cast(' ~ ("'" ~ requested ~ "'" if requested is not none else 'data.valuation_month')
            ~ ' as date)', 1) }} as timestamp) as known_before,
        data.valuation_month as data_month,
        data.valuation_timestamp as data_timestamp
    from {{ data }} as data
) as bounds
where valuation_month is not null
{%- endmacro %}


{#
    The change rows of a staging view known at the valuation (see above); expects a CTE
    `valuation` (valuation_bounds) in the calling model.
#}
{% macro changes_known_at_valuation(relation) -%}
select changes.*
from {{ relation }} as changes
cross join valuation
where changes._dms_timestamp < valuation.known_before
    or (
        changes._is_full_load
        and changes._dms_timestamp < coalesce(
            (select min(_dms_timestamp) from {{ relation }} where not _is_full_load),
            cast('9999-12-31' as timestamp)
        )
    )
{%- endmacro %}


{#
    The state of a table's keys at the valuation: the last known change of each key, unless it
    is a delete (deduplicated and ordered as everywhere else, CONTRACT §2).
#}
{% macro state_at_valuation(relation, key_columns, cte_prefix) -%}
{{ cte_prefix }}_changes as (

    {{ changes_known_at_valuation(relation) | indent(4) }}

),

{{ cte_prefix }}_deduplicated as (

    {{ deduplicate_changes(cte_prefix ~ '_changes', key_columns=key_columns) | indent(4) }}

),

{{ cte_prefix }}_known as (

    {{ current_state(cte_prefix ~ '_deduplicated', key_columns=key_columns) | indent(4) }}

)
{%- endmacro %}


{#
    Member months by month and line of business: each member counts once in each month of
    `months` (month_start, month_end) that an enrollment of `coverage` covers at least one day
    of, in the line of business of the preferred enrollment (as fct_member_month).
#}
{% macro member_months_by_line_of_business(coverage, months) -%}
select year_month, line_of_business, count(*) as member_months
from (
    select
        member_id,
        year_month,
        line_of_business,
        row_number() over (
            partition by member_id, year_month
            order by {{ enrollment_preference() }}
        ) as preference_rank
    from (
        select
            coverage.member_id,
            coverage.line_of_business,
            coverage.effective_date,
            coverage.enrollment_id,
            months.month_start as year_month,
            {{ day_diff(
                'greatest(coverage.effective_date, months.month_start)',
                'least(coverage.coverage_end_date, months.month_end)'
            ) }} + 1 as days_covered
        from {{ coverage }} as coverage
        inner join {{ months }} as months
            on months.month_start <= coverage.coverage_end_date
            and months.month_end >= coverage.effective_date
        where coverage.coverage_end_date >= coverage.effective_date
    ) as enrollment_months
) as ranked
where preference_rank = 1
group by year_month, line_of_business
{%- endmacro %}
