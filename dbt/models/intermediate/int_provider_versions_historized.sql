-- SCD2 versions of CLAIMS.PROVIDER (CONTRACT §4). Tracked: every source column but updated_at.
{{
    scd2_versions(
        ref('int_provider_changes_deduplicated'),
        key_columns=['provider_id'],
        tracked_columns=[
            'npi', 'entity_type_code', 'provider_name', 'taxonomy_code', 'state', 'zip5',
            'network_status',
        ],
    )
}}
