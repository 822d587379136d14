{#
    Everything adapter-specific, behind adapter.dispatch so the same models build on DuckDB
    (local) and Snowflake (branch, prod). default__ is the Snowflake / ANSI form; duckdb__ is
    written only where DuckDB differs.
#}


{# `select * except some columns`: DuckDB and Snowflake both spell it EXCLUDE. #}
{% macro star_except(columns) -%}
    {{ return(adapter.dispatch('star_except', 'claims_platform')(columns)) }}
{%- endmacro %}

{% macro default__star_except(columns) -%}
    * exclude ({{ columns | join(', ') }})
{%- endmacro %}


{#
    A column name from the YAML (lower case) as a quoted identifier, so any source name works
    (ORDER, A#B, X$Y). Snowflake stores unquoted names upper case, so it quotes them that way;
    DuckDB's quoted names are case-insensitive.
#}
{% macro quoted_column(name) -%}
    {{ return(adapter.dispatch('quoted_column', 'claims_platform')(name)) }}
{%- endmacro %}

{% macro default__quoted_column(name) -%}
    {{ return('"' ~ (name | upper | replace('"', '""')) ~ '"') }}
{%- endmacro %}

{% macro duckdb__quoted_column(name) -%}
    {{ return('"' ~ (name | replace('"', '""')) ~ '"') }}
{%- endmacro %}


{# First day of the month of a date or timestamp, as a DATE. #}
{% macro month_start(expression) -%}
    {{ return(adapter.dispatch('month_start', 'claims_platform')(expression)) }}
{%- endmacro %}

{% macro default__month_start(expression) -%}
    cast(date_trunc('month', {{ expression }}) as date)
{%- endmacro %}


{# Last day of the month of a date, as a DATE. #}
{% macro month_end(expression) -%}
    {{ return(adapter.dispatch('month_end', 'claims_platform')(expression)) }}
{%- endmacro %}

{% macro default__month_end(expression) -%}
    cast(last_day({{ expression }}) as date)
{%- endmacro %}


{# A DATE plus a number of months (used on first-of-month dates only). #}
{% macro add_months(expression, months) -%}
    {{ return(adapter.dispatch('add_months', 'claims_platform')(expression, months)) }}
{%- endmacro %}

{% macro default__add_months(expression, months) -%}
    cast(dateadd(month, {{ months }}, {{ expression }}) as date)
{%- endmacro %}

{% macro duckdb__add_months(expression, months) -%}
    cast({{ expression }} + to_months(cast({{ months }} as integer)) as date)
{%- endmacro %}


{# Whole months from one first-of-month date to another. #}
{% macro month_diff(start_date, end_date) -%}
    {{ return(adapter.dispatch('month_diff', 'claims_platform')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__month_diff(start_date, end_date) -%}
    datediff(month, {{ start_date }}, {{ end_date }})
{%- endmacro %}

{% macro duckdb__month_diff(start_date, end_date) -%}
    date_diff('month', {{ start_date }}, {{ end_date }})
{%- endmacro %}


{# Days from one date to another (0 for the same day). #}
{% macro day_diff(start_date, end_date) -%}
    {{ return(adapter.dispatch('day_diff', 'claims_platform')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__day_diff(start_date, end_date) -%}
    datediff(day, {{ start_date }}, {{ end_date }})
{%- endmacro %}

{% macro duckdb__day_diff(start_date, end_date) -%}
    date_diff('day', {{ start_date }}, {{ end_date }})
{%- endmacro %}


{#
    An amount divided by a positive count, rounded half away from zero to cents, as
    DECIMAL(18,2); NULL when the count is 0 or NULL.
#}
{% macro divide_to_cents(amount, count) -%}
    {{ return(adapter.dispatch('divide_to_cents', 'claims_platform')(amount, count)) }}
{%- endmacro %}

{% macro default__divide_to_cents(amount, count) -%}
    cast(round({{ amount }} / nullif({{ count }}, 0), 2) as decimal(18, 2))
{%- endmacro %}

{#
    DuckDB divides decimals in DOUBLE, which would round e.g. 1.005 down; integer arithmetic on
    cents keeps the result exact: round_half_up(c / n) = floor((2c + n) / 2n) for c >= 0.
#}
{% macro duckdb__divide_to_cents(amount, count) -%}
    cast(
        cast(
            sign({{ amount }})
            * (
                (abs(cast({{ amount }} * 100 as hugeint)) * 2 + {{ count }})
                // (2 * nullif({{ count }}, 0))
            )
            as decimal(18, 0)
        ) * cast(0.01 as decimal(3, 2))
        as decimal(18, 2)
    )
{%- endmacro %}


{#
    Stable surrogate key: md5 over the columns' text, with a marker so NULL and '' differ and a
    separator so ('ab', 'c') and ('a', 'bc') differ.
#}
{% macro hash_key(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- set text = "cast(" ~ column ~ " as " ~ dbt.type_string() ~ ")" -%}
        {%- do parts.append("coalesce(" ~ text ~ ", '~null~')") -%}
    {%- endfor -%}
    {{ dbt.hash(parts | join(" || '|' || ")) }}
{%- endmacro %}
