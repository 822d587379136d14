{#
    Change-table logic shared by every replicated table. The tables differ only in their key and
    column lists, so each rule is written once here and the models only name their columns.
    Input relations are silver change rows as the staging views expose them (metadata columns
    _change_id, _op, _dms_timestamp, _change_seq, _is_full_load, _source_file, _source_file_name,
    _row_number, _batch_id, _loaded_at, then the source columns): a ref, or the name of a CTE of
    the calling model (the gold models pass the change rows of the keys a batch touched, so the
    window functions below only ever see those keys' histories). Each macro is one SELECT built
    from derived tables (no WITH of its own), so it can be a CTE body on every engine.
#}


{#
    One row per change: deliveries sharing a _change_id (a file landed twice or under a second
    name) are one change and the first delivery in change order is kept. Adds _change_rank, the
    1-based position of the change in its key's change order.
#}
{% macro deduplicate_changes(relation, key_columns) -%}
select
    *,
    row_number() over (
        partition by {{ key_columns | join(', ') }}
        order by {{ change_order() }}
    ) as _change_rank
from (
    select {{ star_except(['_delivery_number']) }}
    from (
        select
            *,
            row_number() over (
                partition by _change_id
                order by {{ change_order() }}
            ) as _delivery_number
        from {{ relation }}
    ) as deliveries
    where _delivery_number = 1
) as changes
{%- endmacro %}


{#
    Current state: the last change of each key (by _change_rank from deduplicate_changes); the key
    exists unless that change is a delete.
#}
{% macro current_state(relation, key_columns) -%}
select changes.*
from {{ relation }} as changes
inner join (
    select
        {{ key_columns | join(', ') }},
        max(_change_rank) as _change_rank
    from {{ relation }}
    group by {{ key_columns | join(', ') }}
) as last_changes
    on {% for key in key_columns -%}
        changes.{{ key }} = last_changes.{{ key }} and {% endfor -%}
        changes._change_rank = last_changes._change_rank
where changes._op <> 'D'
{%- endmacro %}


{#
    Incremental runs: the full change rows (every column of `relation`, a staging view) of the
    deliveries in `deliveries`, a CTE of current_state rows computed from the touched keys'
    histories read narrow (the key and the change metadata: all the ordering needs). Reading every
    column of every historical change of the touched keys, to keep one row per key, was ~0.15 s
    of fct_claim_line's ~1 s in a 1 % batch at 1.1 M lines (benchmarks/incremental_cost.py).
    A delivery loaded after the watermark (the usual case: a batch's change is its key's newest)
    is fetched under a constant filter, so the engine skips older batches' blocks; the others (a
    late file whose changes sort before the key's current one) from the whole view, a pass that
    stops at once when there are none. A delivery is one silver row: (_batch_id, _source_file,
    _row_number).
#}
{% macro rows_of_deliveries(deliveries, relation) -%}
{%- set join_on -%}
    changes._batch_id = deliveries._batch_id
        and changes._source_file = deliveries._source_file
        and changes._row_number = deliveries._row_number
{%- endset -%}
select changes.*
from {{ relation }} as changes
inner join {{ deliveries }} as deliveries
    on {{ join_on }}
where {{ loaded_after_watermark('changes._loaded_at') }}
    and {{ loaded_after_watermark('deliveries._loaded_at') }}

union all

select changes.*
from {{ relation }} as changes
inner join {{ deliveries }} as deliveries
    on {{ join_on }}
where not ({{ loaded_after_watermark('deliveries._loaded_at') }})
{%- endmacro %}


{#
    SCD2 versions (CONTRACT §4) from deduplicated changes, with window functions over the change
    order instead of snapshots (which only see the state at run time):

    * an I or U opens a version when there is no open version (first change of the key, or the
      previous change was a delete) or when a tracked column differs from the open version;
    * a U changing no tracked column opens nothing; a D closes the open version;
    * a version runs from its opening change's _dms_timestamp to the next version boundary (the
      next opening change or delete) of its key.

    Comparing with the previous change is the same as comparing with the open version: a change
    that opened nothing has exactly the open version's tracked values. NULLs compare equal
    (`is distinct from`), so a NULL in a delete's key-only image never reaches a version.
    Each version row carries the columns of its opening change (including its _change_id, which
    identifies the version stably) plus valid_from, valid_to (NULL while open) and is_current.
    The dimensions track every source column but the key and updated_at, including columns added
    at the source later (added_source_columns).
#}
{% macro scd2_versions(relation, key_columns, tracked_columns) -%}
{%- set by_key -%}
    partition by {{ key_columns | join(', ') }} order by _change_rank
{%- endset -%}
select
    {{ star_except(['_opens_version', '_closed_at']) }},
    _dms_timestamp as valid_from,
    _closed_at as valid_to,
    _closed_at is null as is_current
from (
    select
        *,
        lead(_dms_timestamp) over ({{ by_key }}) as _closed_at
    from (
        select
            *,
            case
                when _op = 'D' then false
                when _change_rank = 1 then true
                when lag(_op) over ({{ by_key }}) = 'D' then true
                {% for column in tracked_columns -%}
                when lag({{ column }}) over ({{ by_key }}) is distinct from {{ column }} then true
                {% endfor -%}
                else false
            end as _opens_version
        from {{ relation }}
    ) as changes
    where _opens_version or _op = 'D'
) as boundaries
where _opens_version
{%- endmacro %}


{#
    Child rows flattened from a JSON array column: a parent change delivered twice has its child
    rows twice (same _change_id, same position); one copy is kept.
#}
{% macro deduplicate_child_rows(relation, position_column) -%}
select {{ star_except(['_copy_number']) }}
from (
    select
        *,
        row_number() over (
            partition by _change_id, {{ position_column }}
            order by _batch_id
        ) as _copy_number
    from {{ relation }}
) as copies
where _copy_number = 1
{%- endmacro %}
