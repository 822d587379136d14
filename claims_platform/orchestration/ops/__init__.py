"""Operating the platform: retry policy, failure alerts, branch-deployment Snowflake clones.

Nothing here reads the environment or touches the network at import time.
"""
