{#
    No two versions of a key cover the same instant: with the versions of a key ordered by
    valid_from (then valid_to, open last), each ends no later than the next one starts, and only
    the last may be open (valid_to NULL). Intervals are [valid_from, valid_to). Empty intervals
    (valid_to <= valid_from: two changes at one instant, or a timestamp that runs backwards in
    change sequence order) contain no instant, so they overlap nothing and are skipped here;
    scd2_intervals_not_inverted reports the backwards ones.
#}
{% test scd2_no_overlap(model, key_columns, valid_from='valid_from', valid_to='valid_to') %}

with versions as (

    select
        {{ key_columns | join(', ') }},
        {{ valid_from }} as valid_from,
        {{ valid_to }} as valid_to
    from {{ model }}
    where {{ valid_to }} is null or {{ valid_to }} > {{ valid_from }}

),

ordered as (

    select
        *,
        lead(valid_from) over (
            partition by {{ key_columns | join(', ') }}
            order by valid_from, case when valid_to is null then 1 else 0 end, valid_to
        ) as next_valid_from
    from versions

)

select *
from ordered
where next_valid_from is not null
    and (valid_to is null or valid_to > next_valid_from)

{% endtest %}
