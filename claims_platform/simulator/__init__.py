"""DMS-format source simulator: a synthetic payer's Oracle CLAIMS schema as AWS DMS lands it in S3.

`simulate()` writes a full load and daily CDC files (CSV, gzipped CSV or Parquet) whose columns come
from the table contracts; `follow()` keeps writing one simulated day per interval for live demos;
`write_dms_file()` writes a single hand-made DMS file for tests. Same seed, same bytes.
"""

from __future__ import annotations

from .cli import main_simulate
from .dms_writer import (
    CDC_FILE_RE,
    CHANGE_SEQ,
    DMS_TIMESTAMP,
    FORMATS,
    LOAD_FILE_RE,
    OP,
    DmsFileWriter,
    DmsRow,
    FileLayout,
    cdc_file_name,
    load_file_name,
    write_dms_file,
)
from .runner import FileReport, Simulation, SimulationSummary, follow, simulate

__all__ = [
    "CDC_FILE_RE",
    "CHANGE_SEQ",
    "DMS_TIMESTAMP",
    "FORMATS",
    "LOAD_FILE_RE",
    "OP",
    "DmsFileWriter",
    "DmsRow",
    "FileLayout",
    "FileReport",
    "Simulation",
    "SimulationSummary",
    "cdc_file_name",
    "follow",
    "load_file_name",
    "main_simulate",
    "simulate",
    "write_dms_file",
]
