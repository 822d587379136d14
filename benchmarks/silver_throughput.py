"""Silver throughput against bare Spark and DuckDB on the same DMS files, and silver's peak memory
as one file grows tenfold (issue 15), measured in one run.

    .venv/bin/python benchmarks/silver_throughput.py [--rows 2000000] [--formats csv,parquet]
        [--file-rows 250000] [--memory-rows ROWS/20] [--seed 7] [--keep] [--repeat 1]
        [--only spark,duckdb,platform,memory]

1. Writes one DMS file set of CLAIM_LINE changes per format (`--rows` changes, half in full-load
   files `LOAD########`, half in CDC files with I/U/D and AR_H_CHANGE_SEQ, at most `--file-rows`
   rows a file), laid out as the platform lands them (`<landing>/CLAIMS/CLAIM_LINE/<file>`). The
   files are made by DuckDB from hashes of the row number (seconds, not the simulator's minutes),
   with values that pass the contract's rules (balanced amounts, CPT/HCPCS codes, two-digit
   places of service, ADJUSTMENTS JSON), so every row of the platform's run is loaded, none
   rejected; the run says so when that stops being true.
2. Measures on those files, each in its own subprocess so that its peak RSS is its own:
   - `spark`: bare PySpark in the platform's own session (`silver.spark.get_spark`: the same
     `local[<cores>]`, driver memory and Parquet codec) reads the files with an explicit schema,
     casts every column to its contract type and writes Parquet (CSV read line by line: the
     generated values hold no newline, so Spark may split files; the platform must not assume so);
   - `duckdb`: bare DuckDB reads the files with explicit column types, casts the same way and
     creates a table in a database file (then CHECKPOINT);
   - `platform`: the silver job, `silver.job.run_batch(get_spark(), BatchManifest(...), ...)`, on
     the landing directory: whichever implementation is in the tree. The ratio counts this
     first batch of the session, which starts Spark's Python workers (~3 s that bare Spark never
     pays); the same batch is then run again in the session and its ratio printed beside it, as
     a session's later batches (and a large load, where 3 s vanish) see it.
   Rows/s count the input changes over the seconds of the work alone (the Spark session is
   started before the clock starts, in both Spark measurements). Peak RSS is the sum of the
   resident memory of the child's whole process tree (the Python driver, Spark's JVM, PySpark's
   workers), sampled from /proc every 0.2 s; "at start" is the same sum when the work begins.
   Forked PySpark workers share pages with their daemon, which this sum counts once per process.
3. Memory flatness (`memory`): the platform job's peak RSS on a set holding one full-load file of
   `--memory-rows` rows and two small CDC files, then on the same set with that file ten times
   larger (the CDC files byte for byte the same); target: at most 1.5 times.

Ratios are what count, and only within one run (the machine is shared and noisy): platform /
bare Spark rows/s (target ≥ 0.8), DuckDB / bare Spark for reference, and the peak RSS ratios.
`--repeat N` measures every engine N times per format, in alternating order (A B C, C B A, …, so
that a drift of the machine's load weighs on each alike), and prints each round's ratios
(measured seconds apart, paired) and their median: one pair of runs on this machine can differ
by more than the gap to a target.
A small `--rows` (100,000) checks the script in minutes; its ratios mostly compare the fixed
cost of a Spark job, not throughput.

Files go under `.data/bench/` (never committed): a fresh directory removed at the end, or with
`--keep` `.data/bench/silver_throughput/`, whose file sets are reused while their parameters match.
`--only` runs some measurements (comma-separated); the files they need are written first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TABLE = "CLAIM_LINE"
FORMATS = ("csv", "csv.gz", "parquet")
MEASUREMENTS = ("spark", "duckdb", "platform", "memory")
MEMORY_FACTOR = 10
_MARK = "SILVER-BENCH "  # prefix of the child's messages on stdout (Spark may print there too)
_SAMPLE_SECONDS = 0.2
_LOAD_START = dt.datetime(2024, 1, 1, 2, 0, 0)
_CDC_START = dt.datetime(2024, 1, 2, 0, 0, 0)
_CDC_STEP_US = 10_000  # one change every 10 ms: 2 M changes span under six hours


# ---------------------------------------------------------------------------------------------
# the file sets


@dataclass(frozen=True)
class FileSpec:
    """One landed file: changes number `lo` to `hi` (exclusive) of the generator's sequence."""

    name: str
    full_load: bool
    lo: int
    hi: int

    @property
    def rows(self) -> int:
        return self.hi - self.lo


def _cdc_name(last_row: int, fmt: str) -> str:
    # DMS names a CDC file by the time it closed it: just after its last change.
    closed = _CDC_START + dt.timedelta(microseconds=last_row * _CDC_STEP_US + 1000)
    return f"{closed:%Y%m%d-%H%M%S}{closed.microsecond // 1000:03d}.{fmt}"


def _chunks(lo: int, hi: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(a + size, hi)) for a in range(lo, hi, size)]


def throughput_set(rows: int, file_rows: int, fmt: str) -> list[FileSpec]:
    """Half the changes in full-load files, the other half in CDC files."""
    load = rows // 2
    specs = [
        FileSpec(f"LOAD{n:08X}.{fmt}", True, a, b)
        for n, (a, b) in enumerate(_chunks(0, load, file_rows), start=1)
    ]
    specs += [
        FileSpec(_cdc_name(b - 1, fmt), False, a, b) for a, b in _chunks(load, rows, file_rows)
    ]
    return specs


def memory_set(rows: int, factor: int, fmt: str) -> list[FileSpec]:
    """One full-load file of `rows * factor` changes and two CDC files of `rows // 4` each; the
    CDC files are numbered after the largest full load, so they are the same for every factor."""
    cdc = max(1, rows // 4)
    start = rows * MEMORY_FACTOR
    return [
        FileSpec(f"LOAD00000001.{fmt}", True, 0, rows * factor),
        *(
            FileSpec(_cdc_name(b - 1, fmt), False, a, b)
            for a, b in _chunks(start, start + 2 * cdc, cdc)
        ),
    ]


def _h(k: int, seed: int) -> str:
    return f"hash(i, {seed}, {k})"


def _money(cents: str) -> str:
    return f"CAST(CAST({cents} AS DECIMAL(18, 0)) * 0.01 AS DECIMAL(12, 2))"


def _column_expressions(seed: int) -> dict[str, str]:
    """DuckDB expressions (typed) of every CLAIM_LINE column of change `i`, from the inner query's
    integer columns. A list indexed past its end gives NULL: most lines have no modifier and no
    revenue code, and most are PAID."""
    procedures = ("99213", "99214", "99203", "80053", "85025", "36415", "71046", "93000")
    procedures += ("97110", "J3490", "G0439", "A0428", "0001F", "0591T")  # CPT and HCPCS
    codes = "[" + ",".join(f"'{c}'" for c in procedures) + "]"
    places = "['11','22','23','21','02','81']"
    adjustments = (
        '\'[{"group":"CO","carc":"45","amount":\' || '
        f"CAST({_money('billed - allowed')} AS VARCHAR) || '}}' || "
        'CASE WHEN ded > 0 THEN \',{"group":"PR","carc":"1","amount":\' || '
        f"CAST({_money('ded')} AS VARCHAR) || '}}' ELSE '' END || ']'"
    )
    return {
        "CLAIM_ID": "'C' || lpad(CAST(claim AS VARCHAR), 9, '0')",
        "LINE_NUMBER": "line",
        "SERVICE_FROM_DATE": "DATE '2023-01-01' + CAST(day AS INTEGER)",
        "SERVICE_THRU_DATE": f"DATE '2023-01-01' + CAST(day + {_h(12, seed)} % 3 AS INTEGER)",
        "PROCEDURE_CODE": f"{codes}[CAST({_h(13, seed)} % {len(procedures)} AS INTEGER) + 1]",
        "MODIFIER_1": f"['25','LT','59'][CAST({_h(14, seed)} % 10 AS INTEGER) + 1]",
        "MODIFIER_2": f"CASE WHEN {_h(15, seed)} % 20 = 0 THEN 'RT' END",
        "REVENUE_CODE": f"['0450','0300','0250'][CAST({_h(16, seed)} % 10 AS INTEGER) + 1]",
        "PLACE_OF_SERVICE": f"{places}[CAST({_h(17, seed)} % 6 AS INTEGER) + 1]",
        "UNITS": f"CAST(1 + {_h(18, seed)} % 4 AS BIGINT)",
        "RENDERING_PROVIDER_ID": f"'P' || lpad(CAST({_h(19, seed)} % 5000 AS VARCHAR), 6, '0')",
        "BILLED_AMT": _money("billed"),
        "ALLOWED_AMT": _money("allowed"),
        "PAID_AMT": _money("paid"),
        "DEDUCTIBLE_AMT": _money("ded"),
        "COPAY_AMT": _money("copay"),
        "COINSURANCE_AMT": _money("coins"),
        "LINE_STATUS": (
            f"coalesce(['DENIED','PENDED'][CAST({_h(20, seed)} % 20 AS INTEGER) + 1], 'PAID')"
        ),
        "ADJUSTMENTS": adjustments,
        "UPDATED_AT": "ts - INTERVAL 1 SECOND",
    }


def _file_query(spec: FileSpec, fmt: str, seed: int) -> str:
    """The SELECT writing one file: DMS columns, then the contract's columns in table order,
    typed as DMS writes them (Parquet) or as text (CSV)."""
    from claims_platform.contracts import load_contracts, parse_type

    contract = load_contracts()[TABLE]
    values = _column_expressions(seed)

    def h(k: int) -> str:
        return _h(k, seed)

    if spec.full_load:
        inner_dms = (
            "'I' AS op, "
            f"TIMESTAMP '{_LOAD_START}' + to_microseconds(i * 1000)"
            " AS stamp, CAST(NULL AS VARCHAR) AS seq, i // 4 AS claim, i % 4 + 1 AS line, "
            f"TIMESTAMP '2023-06-01' + to_microseconds(CAST({h(1)} % 15552000000000 AS BIGINT))"
            " AS ts"
        )
    else:
        inner_dms = (
            f"CASE WHEN {h(2)} % 100 < 45 THEN 'I' WHEN {h(2)} % 100 < 95 THEN 'U' ELSE 'D' END"
            f" AS op, TIMESTAMP '{_CDC_START}' + to_microseconds(i * {_CDC_STEP_US}) AS stamp, "
            "'2024010200000000' || lpad(CAST(i AS VARCHAR), 19, '0') AS seq, "
            # An insert brings a new line; an update or delete touches an earlier one.
            f"CASE WHEN {h(2)} % 100 < 45 THEN i // 4 ELSE {h(3)} % greatest(1, i // 4) END"
            f" AS claim, CASE WHEN {h(2)} % 100 < 45 THEN i % 4 + 1 ELSE {h(4)} % 4 + 1 END"
            f" AS line, TIMESTAMP '{_CDC_START}' + to_microseconds(i * {_CDC_STEP_US}) AS ts"
        )
    inner = (
        f"SELECT i, {inner_dms}, {h(11)} % 365 AS day, paid, ded, copay, coins, "
        "paid + ded + copay + coins AS allowed, "
        f"paid + ded + copay + coins + {h(9)} % 10000 AS billed FROM ("
        f"SELECT i, {h(5)} % 20000 AS paid, "
        f"CASE WHEN {h(6)} % 5 = 0 THEN {h(7)} % 5000 ELSE 0 END AS ded, "
        f"CASE WHEN {h(8)} % 3 = 0 THEN 2500 ELSE 0 END AS copay, "
        f"CASE WHEN {h(10)} % 4 = 0 THEN {h(21)} % 3000 ELSE 0 END AS coins "
        f"FROM range({spec.lo}, {spec.hi}) AS r(i))"
    )
    text = fmt != "parquet"
    stamp = "strftime(stamp, '%Y-%m-%d %H:%M:%S.%f')"
    out = ['op AS "Op"', f'{stamp} AS "DMS_TIMESTAMP"', 'seq AS "AR_H_CHANGE_SEQ"']
    for col in contract.columns:
        expr = values.get(col.name)
        if expr is None:
            if not col.nullable:
                raise SystemExit(f"the generator has no values for {TABLE}.{col.name} (NOT NULL)")
            expr = "NULL"
        base, precision, scale = parse_type(col.type)
        if base == "timestamp":
            expr = (
                f"strftime({expr}, '%Y-%m-%d %H:%M:%S.%f')"
                if text
                else f"CAST({expr} AS TIMESTAMPTZ)"
            )
        elif base == "decimal":
            expr = f"CAST({expr} AS DECIMAL({precision}, {scale}))"
        elif base == "integer":
            expr = f"CAST({expr} AS BIGINT)"
        elif base == "date":
            expr = f"CAST({expr} AS DATE)"
        else:
            expr = f"CAST({expr} AS VARCHAR)"
        out.append(f'{expr} AS "{col.name}"')
    return f"SELECT {', '.join(out)} FROM ({inner}) ORDER BY i"


def write_files(landing: Path, specs: list[FileSpec], fmt: str, seed: int) -> None:
    """Write the files of a set under `<landing>/CLAIMS/CLAIM_LINE/`."""
    import duckdb

    folder = landing / "CLAIMS" / TABLE
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET preserve_insertion_order = true")
        for spec in specs:
            tmp = folder / f".{spec.name}.tmp"
            if fmt == "parquet":
                options = "FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 65536"
            else:
                options = "FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"', ESCAPE '\"'"
                options += ", NULLSTR ''"
                options += ", COMPRESSION gzip" if fmt == "csv.gz" else ", COMPRESSION none"
            con.execute(f"COPY ({_file_query(spec, fmt, seed)}) TO '{tmp}' ({options})")
            tmp.rename(folder / spec.name)
    finally:
        con.close()


def ensure_set(root: Path, specs: list[FileSpec], fmt: str, seed: int, reuse: bool) -> Path:
    """The landing directory holding `specs` (written now unless `reuse` finds it complete)."""
    import duckdb

    marker = root / "set.json"
    queries = "\n".join(_file_query(s, fmt, seed) for s in specs)
    wanted = {
        "files": [asdict(s) for s in specs],
        # A changed generator (or DuckDB's hash) makes other files from the same parameters.
        "queries": hashlib.sha256(queries.encode()).hexdigest(),
        "duckdb": duckdb.__version__,
    }
    landing = root / "landing"
    if reuse and marker.exists() and json.loads(marker.read_text()) == wanted:
        return landing
    shutil.rmtree(root, ignore_errors=True)
    write_files(landing, specs, fmt, seed)
    marker.write_text(json.dumps(wanted))
    return landing


def landed_files(landing: Path) -> list[Path]:
    return sorted(p for p in (landing / "CLAIMS" / TABLE).iterdir() if not p.name.startswith("."))


# ---------------------------------------------------------------------------------------------
# the measured children


def _say(**message: Any) -> None:
    print(_MARK + json.dumps(message), flush=True)


def _child_spark(landing: Path, fmt: str, out: Path) -> dict[str, Any]:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from claims_platform.contracts import load_contracts, parse_type
    from claims_platform.silver.schema import spark_type
    from claims_platform.silver.spark import get_spark

    contract = load_contracts()[TABLE]
    spark = get_spark("silver-throughput-spark")
    paths = [str(p) for p in landed_files(landing)]
    dms = [("Op", T.StringType()), ("DMS_TIMESTAMP", T.StringType())]
    dms.append(("AR_H_CHANGE_SEQ", T.StringType()))
    if fmt == "parquet":
        # As DMS writes Parquet: typed columns, timestamps adjusted to UTC.
        def file_type(type_name: str) -> Any:
            if parse_type(type_name)[0] == "timestamp":
                return T.TimestampType()
            return spark_type(type_name)

        fields = [*dms, *((c.name, file_type(c.type)) for c in contract.columns)]
    else:
        fields = [*dms, *((c.name, T.StringType()) for c in contract.columns)]
    schema = T.StructType([T.StructField(n, t, True) for n, t in fields])
    _say(event="start")
    t0 = time.perf_counter()
    if fmt == "parquet":
        df = spark.read.schema(schema).parquet(*paths)
    else:
        df = (
            spark.read.schema(schema)
            .option("header", True)
            .option("quote", '"')
            .option("escape", '"')
            .option("mode", "FAILFAST")
            .csv(paths)
        )
    typed = df.select(
        F.col("Op"),
        F.col("DMS_TIMESTAMP").cast(T.TimestampNTZType()).alias("DMS_TIMESTAMP"),
        F.col("AR_H_CHANGE_SEQ"),
        *(F.col(c.name).cast(spark_type(c.type)).alias(c.name) for c in contract.columns),
    )
    typed.write.mode("overwrite").parquet(str(out))
    seconds = time.perf_counter() - t0
    written = spark.read.parquet(str(out)).count()
    spark.stop()
    return {"seconds": seconds, "written": written}


def _child_duckdb(landing: Path, fmt: str, out: Path) -> dict[str, Any]:
    import duckdb

    from claims_platform.contracts import load_contracts
    from claims_platform.silver.schema import duckdb_type

    contract = load_contracts()[TABLE]
    paths = "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in landed_files(landing))
    paths += "]"
    names = ["Op", "DMS_TIMESTAMP", "AR_H_CHANGE_SEQ", *(c.name for c in contract.columns)]
    if fmt == "parquet":
        source = f"read_parquet({paths})"
    else:
        columns = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in names) + "}"
        source = (
            f"read_csv({paths}, header = true, auto_detect = false, columns = {columns}, "
            "delim = ',', quote = '\"', escape = '\"', nullstr = '')"
        )
    select = ", ".join(
        [
            '"Op"',
            'CAST("DMS_TIMESTAMP" AS TIMESTAMP) AS "DMS_TIMESTAMP"',
            '"AR_H_CHANGE_SEQ"',
            *(f'CAST("{c.name}" AS {duckdb_type(c.type)}) AS "{c.name}"' for c in contract.columns),
        ]
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(out))
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET threads = {os.cpu_count() or 2}")
    _say(event="start")
    t0 = time.perf_counter()
    con.execute(f"CREATE OR REPLACE TABLE claim_line AS SELECT {select} FROM {source}")
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - t0
    (written,) = con.execute("SELECT count(*) FROM claim_line").fetchone()
    con.close()
    return {"seconds": seconds, "written": written}


def _child_platform(landing: Path, fmt: str, out: Path, again: bool = False) -> dict[str, Any]:
    from claims_platform.governance.tokenize import LOCAL_DEVELOPMENT_KEY
    from claims_platform.silver.job import BatchManifest, run_batch
    from claims_platform.silver.spark import get_spark

    files = [p.relative_to(landing).as_posix() for p in landed_files(landing)]
    spark = get_spark("silver-throughput-platform")
    manifest = BatchManifest(batch_id="silver-throughput", landing_uri=str(landing), files=files)
    key = os.environ.get("CLAIMS_TOKENIZATION_KEY") or LOCAL_DEVELOPMENT_KEY
    _say(event="start")
    t0 = time.perf_counter()
    result = run_batch(spark, manifest, str(out), tokenization_key=key)
    seconds = time.perf_counter() - t0
    again_seconds = None
    if again:
        # The same batch again in the same session, as a session's later batches run: Spark's
        # Python workers (and their imports) are started once per application, ~3 s here.
        t1 = time.perf_counter()
        run_batch(spark, manifest, str(out) + "-again", tokenization_key=key)
        again_seconds = time.perf_counter() - t1
    spark.stop()
    return {
        "seconds": seconds,
        "again_seconds": again_seconds,
        "written": sum(int(f.get("rows_loaded") or 0) for f in result.files),
        "rejected": sum(int(f.get("rows_rejected") or 0) for f in result.files),
        "quarantined": sum(1 for f in result.files if f.get("status") == "quarantined"),
        "files": len(result.files),
    }


_CHILDREN = {"spark": _child_spark, "duckdb": _child_duckdb, "platform": _child_platform}


# ---------------------------------------------------------------------------------------------
# measuring a child


_PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss(root: int) -> int:
    """Bytes resident in `root` and every live descendant."""
    from claims_platform_tests.support.crash import descendants

    total = 0
    for pid in [root, *descendants(root)]:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return total


@dataclass
class Measured:
    what: str
    fmt: str
    rows: int
    seconds: float
    rss_start: int
    rss_peak: int
    detail: dict[str, Any]

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def measure(
    what: str,
    fmt: str,
    landing: Path,
    rows: int,
    out: Path,
    label: str | None = None,
    again: bool = False,
) -> Measured:
    """Run one measurement of the `rows` changes under `landing` in a child process, sampling
    its process tree's RSS until it ends."""
    # Imported now, not at the first sample: a second of imports could outlast a short child.
    import claims_platform_tests.support.crash  # noqa: F401

    command = [sys.executable, __file__, "--child", what, "--formats", fmt]
    command += ["--landing", str(landing), "--out", str(out)] + (["--again"] if again else [])
    env = {**os.environ, "CLAIMS_ENV": "local", "PYTHONPATH": str(REPO)}
    messages: dict[str, Any] = {}
    with tempfile.TemporaryFile(mode="w+") as errors:
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, text=True, cwd=REPO, env=env
        )
        peak = 0

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith(_MARK):
                    message = json.loads(line[len(_MARK) :])
                    if message.get("event") == "start":
                        message["rss"] = tree_rss(proc.pid)
                    messages[message.pop("event", "result")] = message

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            while proc.poll() is None:
                peak = max(peak, tree_rss(proc.pid))
                time.sleep(_SAMPLE_SECONDS)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        reader.join(timeout=10)
        if proc.returncode or "result" not in messages:
            errors.seek(0)
            text = errors.read()
            log = REPO / ".data" / "bench" / f"silver_throughput-{label or what}-{fmt}.log"
            log.write_text(text)
            # Spark's Java stack frames bury the Python traceback and the first error.
            lines = [ln for ln in text.splitlines() if not ln.startswith("\tat ")]
            print("\n".join(lines[-40:]), file=sys.stderr)
            raise SystemExit(f"{what} on {fmt} failed (exit code {proc.returncode}); log: {log}")
    result = messages["result"]
    start = int(messages.get("start", {}).get("rss", 0))
    return Measured(
        what=label or what,
        fmt=fmt,
        rows=rows,
        seconds=float(result.pop("seconds")),
        rss_start=start,
        rss_peak=max(peak, start),  # the start was sampled between two samples of the loop
        detail=result,
    )


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def print_row(m: Measured) -> None:
    d = m.detail
    note = ""
    if "files" in d:
        note = f"  {d['files']} files, {d['written']:,} loaded, {d['rejected']:,} rejected, "
        note += f"{d['quarantined']} quarantined"
    print(
        f"{m.fmt:<8}{m.what:<13}{m.rows:>11,}{m.seconds:>9.1f}{m.rows_per_second:>11,.0f}"
        f"{_mib(m.rss_start):>12}{_mib(m.rss_peak):>12}{note}",
        flush=True,
    )
    if d.get("written") != m.rows:
        # The generator's values must all pass the contract, or the rates compare unequal work.
        print(f"  WARNING: {d.get('written')} of {m.rows:,} rows written", flush=True)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def _rate(m: Measured) -> float:
    return m.rows_per_second


def _peak(m: Measured) -> float:
    return m.rss_peak


def _paired(a: list[Measured], b: list[Measured], value: Any) -> list[float]:
    """Each round's value of `a` over the same round's of `b`."""
    return [value(x) / value(y) for x, y in zip(a, b, strict=True)]


def _rounds(ratios: list[float]) -> str:
    """One round's ratio, or each round's and their median."""
    if len(ratios) == 1:
        return f"{ratios[0]:.2f}"
    each = ", ".join(f"{r:.2f}" for r in ratios)
    return f"median {statistics.median(ratios):.2f} (rounds: {each})"


# ---------------------------------------------------------------------------------------------


def _child_main(args: argparse.Namespace) -> int:
    kw = {"again": True} if args.again else {}
    result = _CHILDREN[args.child](Path(args.landing), args.formats, Path(args.out), **kw)
    _say(event="result", **result)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="changes per format")
    parser.add_argument(
        "--formats", default="csv,parquet", help="comma-separated: csv,csv.gz,parquet"
    )
    parser.add_argument("--file-rows", type=int, default=250_000, help="at most this many a file")
    parser.add_argument(
        "--memory-rows",
        type=int,
        default=None,
        help="rows of the file that grows 10x in the memory measurement (default: --rows / 20)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds of the throughput measurements per format"
    )
    parser.add_argument("--keep", action="store_true", help="keep and reuse the generated files")
    parser.add_argument(
        "--only", default=",".join(MEASUREMENTS), help="comma-separated: " + ",".join(MEASUREMENTS)
    )
    parser.add_argument("--child", choices=sorted(_CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--landing", help=argparse.SUPPRESS)
    parser.add_argument("--again", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child_main(args)

    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    only = [w.strip() for w in args.only.split(",") if w.strip()]
    for name, given, allowed in (("format", formats, FORMATS), ("measurement", only, MEASUREMENTS)):
        unknown = [g for g in given if g not in allowed]
        if unknown or not given:
            parser.error(f"unknown {name} {unknown}; expected some of {', '.join(allowed)}")
    if args.rows < 2 or args.file_rows < 1 or args.repeat < 1:
        parser.error("--rows must be at least 2, --file-rows and --repeat at least 1")
    memory_rows = args.memory_rows or max(4, args.rows // 20)
    large_file = memory_rows * MEMORY_FACTOR

    bench = REPO / ".data" / "bench"
    bench.mkdir(parents=True, exist_ok=True)
    if args.keep:
        root = bench / "silver_throughput"
        root.mkdir(exist_ok=True)
    else:
        root = Path(tempfile.mkdtemp(prefix="silver_throughput-", dir=bench))
    out = root / "out"
    engines = [w for w in ("spark", "duckdb", "platform") if w in only]
    cores = os.cpu_count() or 2
    print(
        f"silver throughput: {args.rows:,} claim-line changes per format (files of at most "
        f"{args.file_rows:,} rows), seed {args.seed}, {cores} cores; files under {root}",
        flush=True,
    )
    results: dict[tuple[str, str], list[Measured]] = {}
    memory: dict[str, tuple[Measured, Measured]] = {}
    try:
        header = (
            f"{'format':<8}{'measured':<13}{'rows':>11}{'seconds':>9}{'rows/s':>11}"
            f"{'RSS start':>12}{'peak RSS':>12}"
        )
        printed_header = False
        for fmt in formats:
            if engines:
                specs = throughput_set(args.rows, args.file_rows, fmt)
                t0 = time.perf_counter()
                landing = ensure_set(root / fmt / "throughput", specs, fmt, args.seed, args.keep)
                size = sum(p.stat().st_size for p in landed_files(landing))
                print(
                    f"{fmt}: {len(specs)} files, {size / 2**20:,.0f} MiB, ready in "
                    f"{time.perf_counter() - t0:.1f}s",
                    flush=True,
                )
                if not printed_header:
                    print(header, flush=True)
                    printed_header = True
                for round_ in range(args.repeat):
                    for what in engines if round_ % 2 == 0 else engines[::-1]:
                        target = out / (f"{what}.duckdb" if what == "duckdb" else what)
                        m = measure(what, fmt, landing, args.rows, target, again=what == "platform")
                        results.setdefault((fmt, what), []).append(m)
                        print_row(m)
                        shutil.rmtree(out, ignore_errors=True)
        for fmt in formats if "memory" in only else []:
            pair = []
            for factor in (1, MEMORY_FACTOR):
                specs = memory_set(memory_rows, factor, fmt)
                landing = ensure_set(
                    root / fmt / f"memory-{factor}x", specs, fmt, args.seed, args.keep
                )
                if not printed_header:
                    print(header, flush=True)
                    printed_header = True
                rows = sum(s.rows for s in specs)
                label = f"memory {factor}x"
                m = measure("platform", fmt, landing, rows, out / "platform", label)
                print_row(m)
                pair.append(m)
                shutil.rmtree(out, ignore_errors=True)
            memory[fmt] = (pair[0], pair[1])
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    lines = []
    for fmt in formats:
        spark, duck, platform = (results.get((fmt, w), []) for w in ("spark", "duckdb", "platform"))
        if spark and platform:
            lines.append(
                f"{fmt:<8}platform / spark: rows/s "
                + _rounds(_paired(platform, spark, _rate))
                + " (target >= 0.8), peak RSS "
                + _rounds(_paired(platform, spark, _peak))
            )
            warm = [
                (p.rows / p.detail["again_seconds"]) / s.rows_per_second
                for s, p in zip(spark, platform, strict=True)
                if p.detail.get("again_seconds")
            ]
            if warm:
                lines.append(
                    f"{fmt:<8}platform, the batch again in the same session (Python workers "
                    f"started) / spark: rows/s {_rounds(warm)}"
                )
        if spark and duck:
            lines.append(
                f"{fmt:<8}duckdb / spark:   rows/s "
                + _rounds(_paired(duck, spark, _rate))
                + ", peak RSS "
                + _rounds(_paired(duck, spark, _peak))
            )
        if fmt in memory:
            small, large = memory[fmt]
            rss = _ratio(large.rss_peak, small.rss_peak)
            lines.append(
                f"{fmt:<8}memory flatness:  platform peak RSS with a {large_file:,}-row file"
                f" / with a {memory_rows:,}-row file {rss} (target <= 1.5)"
            )
    if lines:
        print("\nratios in this run:")
        print("\n".join("  " + line for line in lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
