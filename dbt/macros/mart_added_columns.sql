{#
    A column added to a mart incremental by month (mart_pmpm's pmpm_allowed): the table built
    before it lacks the column, and the incremental run copies untouched months from it by name,
    so that run would fail. The model recomputes every month once instead, its pre-hook adding the
    missing columns first (the model is compiled before its pre-hooks run, so it still sees them
    missing); the result equals a full refresh, and later runs are incremental again.
#}


{# The names among `columns` the model's existing table lacks; [] unless incremental. #}
{% macro columns_missing_from_this(columns) -%}
    {%- set missing = [] -%}
    {%- if execute and is_incremental() -%}
        {%- set existing = [] -%}
        {%- for column in adapter.get_columns_in_relation(this) -%}
            {%- do existing.append(column.name | lower) -%}
        {%- endfor -%}
        {%- for column in columns if column | lower not in existing -%}
            {%- do missing.append(column) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(missing) }}
{%- endmacro %}


{# Pre-hook: add each of `column_types` (name → SQL type) the existing table lacks. #}
{% macro add_columns_missing_from_this(column_types) -%}
    {%- for column in columns_missing_from_this(column_types.keys() | list) -%}
        alter table {{ this }} add column {{ column }} {{ column_types[column] }};
    {% endfor -%}
{%- endmacro %}
