-- SCD2 versions of CLAIMS.MEMBER (CONTRACT §4). Tracked: every source column but updated_at, with
-- ssn_token standing in for the SSN.
{{
    scd2_versions(
        ref('int_member_changes_deduplicated'),
        key_columns=['member_id'],
        tracked_columns=[
            'subscriber_id', 'relationship_code', 'first_name', 'last_name', 'birth_date',
            'gender', 'ssn_token', 'address_line1', 'city', 'state', 'zip5', 'phone', 'email',
        ],
    )
}}
