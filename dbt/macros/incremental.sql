{#
    Incremental gold (DESIGN principle 6): a batch of changes rebuilds only the keys it touched,
    each from its key's full silver history, so late and out-of-order changes land right.

    Watermark. Every row of an incremental gold model carries _silver_loaded_at: the latest silver
    _loaded_at among the changes the row was built from (a key's own changes, plus for coverage
    the plan's changes and the batch that moved the valuation month). It is a pure function of
    silver, so a full refresh writes the same value. The model's watermark is its maximum: the
    silver job commits batches one at a time with strictly increasing _loaded_at, so every silver
    row loaded at or before the watermark has been processed, and the keys to rebuild are those of
    the rows loaded after it. Rows loaded after it whose key wrote nothing (a key deleted, a plan
    nobody is enrolled in) are simply seen again by the next run: rebuilding a key is idempotent.

    Deletes. dbt's delete+insert deletes only the keys present in the new rows, so a key deleted
    at the source (or a claim whose diagnoses all went away) would keep its old rows. Models whose
    keys can lose all their rows emit, on an incremental run, one tombstone row for every touched
    key that has no row left (the key, every other column NULL, _silver_loaded_at NULL) and use
    the `replace_keys` strategy below, which deletes every key in the new rows and inserts only
    the real ones, in one transaction.
#}


{#
    The model's watermark: the greatest _silver_loaded_at in the model's own table, read when the
    model is compiled and rendered as a timestamp literal, so the filter on silver's _loaded_at is
    a constant the engine pushes into the scan (DuckDB zone maps, Snowflake micro-partition
    pruning skip the row groups of older batches: silver is appended batch by batch). None when
    the table is empty or predates the column; then every key counts as touched and the run
    rebuilds everything through the incremental path, adding the column on the way.
#}
{% macro silver_watermark() -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return(none) }}
    {%- endif -%}
    {#- A model asks several times (each touched-keys rule, then its memory pre-hook, rendered
        in another context): read once per model and dbt invocation. `graph` is the one object
        every context of an invocation shares, and nothing writes the model's table between its
        compilation and its pre-hook. -#}
    {%- set cache = graph.setdefault('_claims_platform_silver_watermarks', {}) -%}
    {%- set cache_key = this | string -%}
    {%- if cache_key in cache -%}
        {{ return(cache[cache_key][0]) }}
    {%- endif -%}
    {%- set columns = [] -%}
    {%- for column in adapter.get_columns_in_relation(this) -%}
        {%- do columns.append(column.name | lower) -%}
    {%- endfor -%}
    {%- set watermark = [none] -%}
    {%- if '_silver_loaded_at' in columns -%}
        {%- set result = run_query('select max(_silver_loaded_at) from ' ~ this) -%}
        {%- do watermark.pop() -%}
        {%- do watermark.append(result.columns[0].values()[0]) -%}
    {%- endif -%}
    {%- do cache.update({cache_key: watermark}) -%}
    {{ return(watermark[0]) }}
{%- endmacro %}


{#
    Condition: `loaded_at` (a column or scalar expression) is after the watermark; true for every
    row when there is no watermark.
#}
{% macro loaded_after_watermark(loaded_at='_loaded_at') -%}
    {%- set watermark = silver_watermark() -%}
    {%- if watermark is none -%}
        true
    {%- else -%}
        {{ loaded_at }} > cast('{{ watermark }}' as timestamp)
    {%- endif -%}
{%- endmacro %}


{# The distinct keys of the change rows of `relation` loaded after the watermark. #}
{% macro keys_changed_since_watermark(relation, key_columns) -%}
select distinct {{ key_columns | join(', ') }}
from {{ relation }}
where {{ loaded_after_watermark() }}
{%- endmacro %}


{#
    `where` condition keeping the rows of `relation_alias` whose key is among the keys of the
    CTE `keys` (a row-value IN for composite keys; DuckDB and Snowflake both have it).
#}
{% macro key_in(key_columns, keys, relation_alias=none) -%}
    {%- set prefix = relation_alias ~ '.' if relation_alias else '' -%}
    {%- if key_columns | length == 1 -%}
        {{ prefix }}{{ key_columns[0] }} in (select {{ key_columns[0] }} from {{ keys }})
    {%- else -%}
        ({% for key in key_columns %}{{ prefix }}{{ key }}{{ ', ' if not loop.last }}{% endfor %})
        in (select {{ key_columns | join(', ') }} from {{ keys }})
    {%- endif -%}
{%- endmacro %}


{#
    The model's final SELECT. On a full build: `columns` of the CTE `rows`. On an incremental
    run: every key of the CTE `touched_keys` (distinct keys) with its rows, or with one tombstone
    row when it has none, for the `replace_keys` strategy.
#}
{% macro select_with_tombstones(rows, touched_keys, key_columns, columns) -%}
{%- if is_incremental() -%}
select
    {% for column in columns -%}
    {{ touched_keys if column in key_columns else rows }}.{{ column }}{{ ',' if not loop.last }}
    {% endfor -%}
from {{ touched_keys }}
left join {{ rows }}
    on {% for key in key_columns -%}
        {{ rows }}.{{ key }} = {{ touched_keys }}.{{ key }}{{ ' and ' if not loop.last }}
    {%- endfor %}
{%- else -%}
select
    {% for column in columns -%}
    {{ column }}{{ ',' if not loop.last }}
    {% endfor -%}
from {{ rows }}
{%- endif -%}
{%- endmacro %}


{#
    Custom incremental strategy `replace_keys` (incremental_strategy='replace_keys'): replace all
    rows of every key present in the new rows by the new rows of that key that are not tombstones
    (_silver_loaded_at NULL). Like delete+insert, except that a key whose new rows are only a
    tombstone is deleted and nothing is inserted for it. Plain DELETE and INSERT, so it runs on
    every adapter; dbt-duckdb runs it inside the model's transaction, Snowflake autocommits, so
    there it is wrapped in an explicit one (as dbt-snowflake does for delete+insert).
#}
{% macro get_incremental_replace_keys_sql(arg_dict) -%}
    {{ return(adapter.dispatch('replace_keys_sql', 'claims_platform')(arg_dict)) }}
{%- endmacro %}

{% macro default__replace_keys_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set unique_key = arg_dict['unique_key'] -%}
    {%- if not unique_key -%}
        {{ exceptions.raise_compiler_error('replace_keys needs a unique_key (the keys to replace)') }}
    {%- endif -%}
    {%- set key_columns = [unique_key] if unique_key is string else unique_key -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
delete from {{ target }}
where {{ key_in(key_columns, source) }};

insert into {{ target }} ({{ columns }})
select {{ columns }}
from {{ source }}
where _silver_loaded_at is not null
{%- endmacro %}

{% macro snowflake__replace_keys_sql(arg_dict) -%}
begin;
{{ default__replace_keys_sql(arg_dict) }};
commit;
{%- endmacro %}


{#
    Columns added at the source (DDL) that a model may carry: the columns of `relation` (a silver
    table or a staging view over `silver_table`, default the relation's own name) that are not
    metadata (leading underscore) and not in `known_columns`, in table order, each quoted as the
    warehouse stores it (Oracle allows names such as ORDER, WINDOW, A#B or X$Y), ready for SQL.

    Default-deny (DESIGN principle 8): only a column the silver source documents passes, and the
    silver source documents exactly the contract columns (claims_platform/warehouse/phi_meta.py
    fails on any other), so a column reaches staging and gold only once a contract classifies
    it. A classified PHI column passes only into a model that documents it, so its meta sets the
    Snowflake masking policy and the analyst view's mask there. An unclassified column stays in
    the restricted schema (claims_platform/silver/restricted.py), where only the loading role
    reads it, and is listed by the silver asset's `unclassified_columns` metadata.
    Empty while parsing (no database access then).
#}
{% macro added_source_columns(relation, known_columns, silver_table=none) -%}
    {%- set known = known_columns | map('lower') | list -%}
    {%- set classified = silver_column_meta(silver_table or relation.identifier) -%}
    {%- set documented_here = (model.columns.keys() | map('lower') | list) if model else [] -%}
    {%- set added = [] -%}
    {%- set seen = [] -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- set name = column.name | lower -%}
            {%- if not name.startswith('_') and name not in known and name not in seen
                and name in classified
                and (classified[name].get('phi') is none or name in documented_here) -%}
                {%- do seen.append(name) -%}
                {%- do added.append(adapter.quote(column.name)) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(added) }}
{%- endmacro %}


{#
    {lower-case column name: meta} of the columns the silver source documents for the silver
    table `name` (meta from `config.meta` merged over the older top-level `meta`); {} when the
    source has no such table.
#}
{% macro silver_column_meta(name) -%}
    {%- set columns = {} -%}
    {%- if execute -%}
        {%- for source in graph.sources.values()
            if source.source_name == 'silver' and source.name == name -%}
            {%- for column in source.columns.values() -%}
                {%- set meta = {} -%}
                {%- do meta.update(column.get('meta') or {}) -%}
                {%- do meta.update((column.get('config') or {}).get('meta') or {}) -%}
                {%- do columns.update({column.name | lower: meta}) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(columns) }}
{%- endmacro %}
