{#
    The change order of CONTRACT §2, as an ORDER BY list over the silver metadata columns.
    The one definition every deduplication, current-state and history model uses.

    1. AR_H_CHANGE_SEQ where present; rows without one (full-load rows, or tables whose files
       carry none) come first. Compared as a number: DMS writes up to 38 digits.
    2. DMS_TIMESTAMP.
    3. Full-load rows before CDC rows at the same timestamp (a file named LOAD… sorts after a
       CDC file named by time, so the file name alone would get this wrong).
    4. File base name (date folders do not count), then row position in the file.
    5. Full path and change id: only reached by inconsistent input; they keep the order (and so
       the result) independent of arrival order.
#}
{% macro change_order() -%}
    case when _change_seq is null then 0 else 1 end,
    cast(_change_seq as decimal(38, 0)),
    _dms_timestamp,
    case when _is_full_load then 0 else 1 end,
    _source_file_name,
    _row_number,
    _source_file,
    _change_id
{%- endmacro %}
