"""Deployment artefacts generated from code (the Glue job definition of the silver script)."""
