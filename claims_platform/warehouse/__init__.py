"""The production warehouse (Snowflake): loading silver, PHI governance checks, session tags."""
