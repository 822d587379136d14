{#
    Which enrollment wins when several cover the same member and month (or day): the one covering
    the most days of the month, then the latest effective_date, then the highest enrollment_id
    (compared as text). Used for member months and for a claim's line of business alike.
    Expects days_covered, effective_date and enrollment_id (optionally behind a table alias).
#}
{% macro enrollment_preference(alias=none) -%}
    {%- set prefix = alias ~ '.' if alias else '' -%}
    {{ prefix }}days_covered desc,
    {{ prefix }}effective_date desc,
    {{ prefix }}enrollment_id desc
{%- endmacro %}
