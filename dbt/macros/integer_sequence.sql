{#
    The integers 0 .. count - 1 as column `n`, from cross-joined digit lists: plain SQL on every
    engine, with no recursion (and so no recursion limit) and no generate_series /
    table(generator()) lock-in.
#}
{% macro integer_sequence(count) -%}
{%- set digit_count = (count - 1) | string | length -%}
select n
from (
    select
        {% for position in range(digit_count) -%}
        {{ 10 ** position }} * digit_{{ position }}.value{{ ' +' if not loop.last }}
        {% endfor -%}
        as n
    from
        {% for position in range(digit_count) -%}
        {{ 'cross join ' if not loop.first }}(
            {% for value in range(10) -%}
            select {{ value }} as value{{ ' union all' if not loop.last }}
            {% endfor -%}
        ) as digit_{{ position }}
        {% endfor %}
) as integers
where n < {{ count }}
{%- endmacro %}
