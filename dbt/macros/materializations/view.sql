{#
    Views on DuckDB, left as they are when their definition has not changed.

    dbt re-creates every selected view on every run (create a temporary view, swap, drop, commit:
    ~50 ms of a DuckDB run per view), and every landing batch runs the gold of the tables it
    changed, whose staging, intermediate and analyst views only change when the project does or
    when a source gains a column (staging lists the source's columns, so its compiled SQL changes then). A view
    whose compiled SQL, hooks and grants are those it was created with is therefore kept: its
    fingerprint (an MD5 of all of them) is stored as the view's comment when it is created, and
    this materialization compares it first. Anything else (no view yet, a table in its place,
    another fingerprint, `--full-refresh`, persist_docs writing its own comment) takes dbt's own
    view materialization and then stores the new fingerprint.

    Only on DuckDB: a Snowflake view is created in one statement, and its comment is the model's
    documentation.
#}
{%- materialization view, adapter='duckdb' -%}

  {%- set fingerprint = 'claims_platform view fingerprint ' ~ local_md5(
      sql ~ '|' ~ (config.get('pre_hook') | string) ~ '|' ~ (config.get('post_hook') | string)
      ~ '|' ~ (config.get('grants') | string)
  ) -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set may_keep = existing_relation is not none and existing_relation.is_view
      and not should_full_refresh() and not config.get('persist_docs') -%}

  {%- if may_keep -%}
    {%- call statement('main', fetch_result=True) -%}
      select comment
      from duckdb_views()
      where database_name = '{{ this.database }}'
        and schema_name = '{{ this.schema }}'
        and view_name = '{{ this.identifier }}'
    {%- endcall -%}
    {%- set found = load_result('main')['table'] -%}
    {%- if found.rows | length == 1 and found.rows[0][0] == fingerprint -%}
      {{ return({'relations': [this.incorporate(type='view')]}) }}
    {%- endif -%}
  {%- endif -%}

  {%- set result = dbt.materialization_view_default() -%}
  {%- call statement('view_fingerprint') -%}
    comment on view {{ this }} is '{{ fingerprint }}'
  {%- endcall -%}
  {{ adapter.commit() }}
  {{ return(result) }}

{%- endmaterialization -%}
