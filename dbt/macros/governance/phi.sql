{#
    PHI classes (CONTRACT §3: P direct identifier, Q quasi-identifier) live in each column's
    `config.meta.phi`, derived from claims_platform/contracts (claims_platform_tests/warehouse/
    test_phi_meta.py fails when they drift). What a reader without the PHI_READER role sees of a
    column is its mask, `config.meta.phi_mask`, defaulting by class; one definition serves the
    local analyst views and the Snowflake masking policies:

      redact    P   NULL                                  (names, ids, contact, ssn_token)
      suppress  Q   NULL                                  (city: a subdivision smaller than a state)
      year      Q   the date truncated to 1 January       (HIPAA Safe Harbor keeps the year)
      zip3      Q   the first three digits of the ZIP     (Safe Harbor's ZIP exception)

    The default for Q is the strictest (suppress): a newly classified column shows nothing until a
    Safe Harbor generalisation is chosen for it. Safe Harbor's 3-digit ZIP exception also requires
    the 3-digit area to hold more than 20,000 people, and ages over 89 to be grouped; a payer's
    privacy office applies those to extracts, not to these views.
#}


{# mask → (PHI classes it may apply to, SQL type of the column it masks). #}
{% macro phi_masks() -%}
    {{ return({
        'redact': {'classes': ['P'], 'data_type': 'varchar'},
        'suppress': {'classes': ['Q'], 'data_type': 'varchar'},
        'year': {'classes': ['Q'], 'data_type': 'date'},
        'zip3': {'classes': ['Q'], 'data_type': 'varchar'},
    }) }}
{%- endmacro %}


{# The mask of a column from its meta: phi_mask, else the class default; none without PHI. #}
{% macro phi_mask_of(meta) -%}
    {%- set phi = (meta or {}).get('phi') -%}
    {%- if phi is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set mask = meta.get('phi_mask') or {'P': 'redact', 'Q': 'suppress'}.get(phi) -%}
    {%- set spec = phi_masks().get(mask) -%}
    {%- if spec is none or phi not in spec['classes'] -%}
        {{ exceptions.raise_compiler_error(
            "phi_mask '" ~ mask ~ "' does not apply to PHI class '" ~ phi ~ "'") }}
    {%- endif -%}
    {{ return(mask) }}
{%- endmacro %}


{# The masked form of `expression` (portable SQL: both engines have date_trunc and left). #}
{% macro phi_masked(mask, expression) -%}
    {%- if mask in ('redact', 'suppress') -%}
        cast(null as {{ phi_masks()[mask]['data_type'] }})
    {%- elif mask == 'year' -%}
        cast({{ dbt.date_trunc('year', expression) }} as date)
    {%- elif mask == 'zip3' -%}
        left({{ expression }}, 3)
    {%- else -%}
        {{ exceptions.raise_compiler_error("unknown phi_mask '" ~ mask ~ "'") }}
    {%- endif -%}
{%- endmacro %}


{# The graph node of a model or source table named `name` (models first); none while parsing. #}
{% macro phi_node(name) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == name -%}
        {{ return(node) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error("no model named '" ~ name ~ "'") }}
{%- endmacro %}


{# [(column name, mask)] of the PHI columns documented on `node`, in YAML order. #}
{% macro phi_columns(node) -%}
    {%- set columns = [] -%}
    {%- for column in node.columns.values() -%}
        {%- set mask = phi_mask_of(column.meta) -%}
        {%- if mask is not none -%}
            {%- do columns.append((column.name, mask)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}


{#
    The body of an analyst view of the model `model_name`: its documented columns but the
    bookkeeping and lineage ones (leading underscore), each PHI column replaced by its mask.
    Columns the YAML does not document (added at the source and not classified yet) are left
    out, so an unclassified column never reaches an analyst.
#}
{% macro analyst_view(model_name) -%}
{%- set relation = ref(model_name) -%}
{%- set node = phi_node(model_name) -%}
{%- if node is none -%}
select * from {{ relation }}
{%- else -%}
{%- set masks = dict(phi_columns(node)) -%}
select
{%- for column in node.columns if not column.startswith('_') %}
    {%- set quoted = quoted_column(column) %}
    {% if column in masks -%}
        {{ phi_masked(masks[column], quoted) }} as {{ quoted }}
    {%- else -%}
        {{ quoted }}
    {%- endif -%}
    {{ ',' if not loop.last }}
{%- endfor %}
from {{ relation }}
{%- endif -%}
{%- endmacro %}
