{#
    Generic tests that keep PHI out of what analysts read. They read the built relation, not only
    its YAML, so an undocumented column is caught too.
#}


{#
    The relation has no column that any model or source of the project classifies as a direct
    identifier (phi P): one failing row per such column, naming it (never a value).
#}
{% test no_direct_identifiers(model) %}
{%- set direct = [] -%}
{%- if execute -%}
    {%- for node in graph.nodes.values() | list + graph.sources.values() | list -%}
        {%- for column in node.columns.values() -%}
            {%- if (column.meta or {}).get('phi') == 'P' and column.name | lower not in direct -%}
                {%- do direct.append(column.name | lower) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endif -%}
{%- set found = [] -%}
{%- if execute -%}
    {%- for column in adapter.get_columns_in_relation(model) -%}
        {%- if column.name | lower in direct -%}
            {%- do found.append(column.name | lower) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif -%}
{%- for name in found %}
select '{{ name }}' as direct_identifier_column
union all
{%- endfor %}
select cast(null as {{ dbt.type_string() }}) as direct_identifier_column
from (select 1 as one) as nothing
where 1 = 0
{% endtest %}


{#
    Every PHI column of `masked_model` (a model of the PHI classes' meta) shows only its mask in
    the view under test: masks are idempotent, so a value equal to its own mask is masked. One
    failing row per column, with the number of unmasked rows.
#}
{% test phi_masked(model, masked_model) %}
{%- set node = phi_node(masked_model) -%}
{%- set columns = phi_columns(node) if node is not none else [] -%}
{%- for name, mask in columns %}
select '{{ name }}' as unmasked_column, count(*) as unmasked_rows
from {{ model }}
where {{ phi_masked(mask, name) }} is distinct from {{ name }}
having count(*) > 0
union all
{%- endfor %}
select cast(null as {{ dbt.type_string() }}) as unmasked_column, 0 as unmasked_rows
from (select 1 as one) as nothing
where 1 = 0
{% endtest %}
