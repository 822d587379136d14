{#
    A DuckDB buffer pool that follows the batch, not the history behind it, while a model runs
    incrementally (issue 3: peak memory flat as the base grows).

    An incremental gold model reads the whole silver change table of its source to find the
    history of the keys a batch touched (random keys: zone maps cannot skip blocks). DuckDB keeps
    every block a query reads in its buffer pool up to `memory_limit`, 80 % of RAM by default, so
    the dbt process of a 1 % batch peaked at ~240 MB at 0.1 M claim lines and ~600 MB at 1.1 M
    (~420 MB at both 1.1 M and 1.6 M with this), most of it blocks the streaming scan had
    passed. What the batch itself needs (the touched keys' histories, their windows and sorts)
    grows with the batch: measured on fct_claim_line at 1.1 M lines, a 1 %
    batch runs as fast under 256 MB as unbounded, a 10 % batch (113 k changes) needs ~1.5 GB
    not to spill (under 256 MB it takes 2.5× as long).

    Pre-hook: while a model builds incrementally, memory_limit = the larger of
    var('incremental_memory_floor_mb') and var('incremental_memory_kb_per_change') for every
    change row loaded after the model's watermark into the staging views it reads directly (the
    changes whose keys it rebuilds; a model reading only other models, or a batch moving the
    valuation month, gets the floor and may spill). Post-hook: back to DuckDB's default (the
    profile sets none). Full builds and views keep the default: a full refresh needs GBs and
    would only spill. Nothing on other adapters (Snowflake sizes its warehouses itself).
#}

{% macro bound_incremental_memory() -%}
    {%- if execute and target.type == 'duckdb' and config.get('materialized') == 'incremental'
        and is_incremental() and config.get('bound_memory', true) -%}
        {%- set watermark = silver_watermark() -%}
        {%- set relations = _staging_parents() -%}
        {%- set changes = [0] -%}
        {%- if watermark is not none and relations -%}
            {%- set counts = [] -%}
            {%- for relation in relations -%}
                {%- do counts.append('select count(*) as n from ' ~ relation ~ ' where '
                    ~ loaded_after_watermark()) -%}
            {%- endfor -%}
            {%- set counted = run_query(
                'select coalesce(sum(n), 0) from (' ~ counts | join(' union all ') ~ ')') -%}
            {%- do changes.append(counted.columns[0].values()[0] | int) -%}
        {%- endif -%}
        {%- set per_change_mb = (changes | max) * var('incremental_memory_kb_per_change') / 1024 -%}
        {%- set budget_mb = [
            var('incremental_memory_floor_mb'), per_change_mb | round(0, 'ceil') | int
        ] | max -%}
        set memory_limit = '{{ budget_mb }}MB'
    {%- endif -%}
{%- endmacro %}


{% macro release_incremental_memory() -%}
    {%- if execute and target.type == 'duckdb' and config.get('materialized') == 'incremental' -%}
        reset memory_limit
    {%- endif -%}
{%- endmacro %}


{#
    The staging views of change tables (documented with a `_loaded_at` column; the child tables
    flattened from JSON arrays have none, their rows follow their parent's) among the direct
    parents of the model being built, as strings.
#}
{% macro _staging_parents() -%}
    {%- set found = [] -%}
    {%- for node_id in model.depends_on.nodes if node_id in graph.nodes -%}
        {%- set node = graph.nodes[node_id] -%}
        {%- if node.fqn[1] == 'staging' and '_loaded_at' in node.columns -%}
            {%- do found.append(api.Relation.create(
                database=node.database, schema=node.schema, identifier=node.alias) | string) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}
