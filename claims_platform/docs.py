"""`claims-platform docs`: the dbt documentation site of gold, for this environment's warehouse.

`dbt docs generate` reads the warehouse's catalog (every relation and column dbt built), so it
runs on the warehouse of the current environment (CLAIMS_ENV → the dbt target; locally the
DuckDB file) with the environment the platform gives dbt (`Settings.dbt_environ()`), under the
warehouse lock: DuckDB admits one writer process, and dbt-duckdb opens the file read-write even to
read it, so a docs run must never overlap a batch's build.

The site goes to its own folder (`$CLAIMS_DATA_DIR/dbt_docs/<target>` unless `--out`), not to the
platform's dbt target folder: `docs generate` rewrites manifest.json and run_results.json there,
which dagster-dbt reads as a run's results. `--serve` then runs `dbt docs serve` on that folder,
without the lock (serving reads files only), on the loopback interface only.

Nothing heavy is imported at module level: `claims-platform --help` imports this module's parser.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from claims_platform.environment import Settings

PROG = "claims-platform docs"
DEFAULT_PORT = 8080
# Never 0.0.0.0: the site shows the warehouse's schema and compiled SQL of a PHI platform.
HOST = "127.0.0.1"
DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt"
_DESCRIPTION = (
    "Generate the dbt documentation site of the gold project (models, columns, tests, lineage, "
    "and the warehouse's catalog) for this environment's warehouse: `dbt docs generate --target "
    "<CLAIMS_ENV's target>` on $CLAIMS_DUCKDB_PATH locally, under the warehouse lock so it never "
    "overlaps a running batch. Prints where index.html is; --serve then serves the site until "
    "Ctrl-C."
)
# A child asked to stop gets this long to close the warehouse before it is terminated, then killed.
_STOP_GRACE_S = 10.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=_DESCRIPTION)
    parser.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=None,
        help="folder of the site (dbt's target path there) "
        "(default: $CLAIMS_DATA_DIR/dbt_docs/<target>)",
    )
    parser.add_argument(
        "--static",
        action="store_true",
        help="also write static_index.html, one file with manifest and catalog inside that a "
        "browser opens from disk (default: off)",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help=f"then serve the site on http://{HOST}:<port>/ until Ctrl-C (default: off)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="port of --serve, on the loopback interface only (default: %(default)s)",
    )
    return parser


def docs_dir(settings: Settings) -> Path:
    """Where the site goes by default: per data dir and target, apart from the platform's runs."""
    return settings.data_dir / "dbt_docs" / settings.dbt_target


def platform_target_path(settings: Settings) -> Path:
    """`claims_platform.orchestration.gold.project.dbt_target_path`, which the core does not import
    (and which loads dagster-dbt, seconds). claims_platform_tests/test_docs.py checks they agree."""
    return settings.data_dir / "dbt_target" / settings.dbt_target


def dbt_executable(*, warm: bool = True) -> str:
    """`claims_platform.orchestration.gold.dbt_resource.bundled_dbt_executable` (same reason, same test), or
    the plain dbt with `warm=False`: a server running until Ctrl-C gains nothing from a warm
    start and would keep the warm dbt server's child busy for as long."""
    from claims_platform.gold.warm_dbt import plain_dbt

    warm_client = Path(sys.executable).parent / "claims-dbt"
    return str(warm_client) if warm and warm_client.exists() else plain_dbt()


def main_docs(argv: Sequence[str]) -> int:
    """Run `claims-platform docs` with `argv` (the options after `docs`); the exit code."""
    parser = build_parser()
    args = parser.parse_args(list(argv))
    if not 0 < args.port < 65536:
        parser.error(f"--port must be between 1 and 65535, not {args.port}")
    if args.serve and not _port_free(args.port):
        # Checked before a generate that can take a minute, not after it.
        parser.error(
            f"port {args.port} on {HOST} is in use (or was, in the last minute); "
            "choose another with --port"
        )

    from claims_platform.environment import ConfigurationError, get_settings

    try:
        settings = get_settings()
    except ConfigurationError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    if settings.dbt_target == "local" and not settings.duckdb_path.exists():
        print(
            f"{PROG}: no warehouse yet at {settings.duckdb_path}; run scripts/dev or the "
            "headless materialize first (README.md, 'Two commands')",
            file=sys.stderr,
        )
        return 1
    out = (args.out or docs_dir(settings)).resolve()
    serving = False
    try:
        with _stopped_by_signals():
            status = generate(settings, out, static=args.static)
            if status != 0:
                print(
                    f"{PROG}: dbt docs generate failed (exit {status}); dbt's log is in "
                    f"{_log_dir(settings)}",
                    file=sys.stderr,
                )
                return status
            print(f"dbt docs of gold (target {settings.dbt_target}): {out / 'index.html'}")
            if args.static:
                print(f"single-file site, opens from disk: {out / 'static_index.html'}")
            if not args.serve:
                if not args.static:
                    # index.html fetches manifest.json and catalog.json, which browsers refuse
                    # to read from file://.
                    again = f"{PROG} --serve" + (f" --out {out}" if args.out else "")
                    print(f"open it with `{again}` (or --static for a single file)")
                return 0
            print(f"serving {out} on http://{HOST}:{args.port}/ (Ctrl-C stops)", flush=True)
            serving = True
            return serve(settings, out, args.port)
    except (KeyboardInterrupt, _Stop):
        # Ctrl-C is how --serve ends; the dbt child is stopped by then (_run).
        print(f"{PROG}: stopped", file=sys.stderr)
        return 0 if serving else 130


def generate(settings: Settings, out: Path, *, static: bool = False) -> int:
    """`dbt docs generate` into `out` under the warehouse lock; dbt's exit code."""
    with _warehouse_lock(settings):
        _seed_partial_parse(settings, out)
        return _run(
            _dbt_argv(["docs", "generate"], settings, out, *(["--static"] if static else [])),
            settings,
        )


def serve(settings: Settings, out: Path, port: int) -> int:
    """`dbt docs serve` of `out` until Ctrl-C or SIGTERM; dbt's exit code."""
    argv = _dbt_argv(
        ["docs", "serve"],
        settings,
        out,
        "--port",
        str(port),
        "--host",
        HOST,
        "--no-browser",
        warm=False,
    )
    return _run(argv, settings)


def _dbt_argv(
    command: list[str], settings: Settings, out: Path, *extra: str, warm: bool = True
) -> list[str]:
    return [
        dbt_executable(warm=warm),
        *command,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target",
        settings.dbt_target,
        "--target-path",
        str(out),
        # Not inside the site: `docs serve` publishes its whole folder.
        "--log-path",
        str(_log_dir(settings)),
        *extra,
    ]


def _log_dir(settings: Settings) -> Path:
    return settings.data_dir / "dbt_docs" / "logs"


def _seed_partial_parse(settings: Settings, out: Path) -> None:
    """Start from the platform's last parse of the project: a full parse takes ~20 s, and dbt
    checks the file itself (project files, vars, profile, versions), parsing in full if stale.

    Called under the warehouse lock, which every dbt run of the platform holds while it writes
    its target folder, so the file is never read half written."""
    source = platform_target_path(settings) / "partial_parse.msgpack"
    target = out / "partial_parse.msgpack"
    with contextlib.suppress(OSError):
        if not target.exists() or source.stat().st_mtime > target.stat().st_mtime:
            out.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


@contextlib.contextmanager
def _warehouse_lock(settings: Settings) -> Iterator[None]:
    """The platform's warehouse lock; say so when a batch holds it rather than hang silently."""
    from filelock import Timeout

    from claims_platform.warehouse.duckdb import warehouse_lock

    with contextlib.ExitStack() as held:
        try:
            held.enter_context(warehouse_lock(settings.lock_path, timeout_s=0))
        except Timeout:
            print(
                f"{PROG}: waiting for the warehouse lock ({settings.lock_path}): a batch is "
                "running",
                file=sys.stderr,
                flush=True,
            )
            held.enter_context(warehouse_lock(settings.lock_path))
        yield


class _Stop(Exception):
    """SIGTERM or SIGHUP reached the command: stop dbt (and release the lock), then exit."""


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into an exception, as Ctrl-C is: Python's default would end this
    process at once, leaving dbt running on the warehouse after the lock is released."""

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise _Stop(signal.Signals(signum).name)

    signals = [s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    previous = {sig: signal.signal(sig, stop) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(argv: list[str], settings: Settings) -> int:
    """Run dbt with the platform's dbt environment, its output on our stderr (our stdout carries
    only the site's location); stop it before returning or raising, whatever happens."""
    sys.stdout.flush()
    sys.stderr.flush()
    child = subprocess.Popen(
        argv,
        cwd=DBT_PROJECT_DIR,
        env=os.environ | settings.dbt_environ(),
        stdout=sys.stderr.fileno(),
    )
    try:
        return child.wait()
    finally:
        if child.poll() is None:
            _stop_child(child)


def _stop_child(child: subprocess.Popen[bytes]) -> None:
    """SIGINT first: dbt then closes its warehouse connection (a terminal's Ctrl-C has sent it
    already); SIGTERM, then SIGKILL, to a child that does not end in time. A second Ctrl-C
    meanwhile must not cut this short and orphan the child."""
    # A command started in the background (`&`, nohup) ignores SIGINT, and so does its dbt.
    interruptible = signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
    first = [lambda: child.send_signal(signal.SIGINT)] if interruptible else []
    with _signals_ignored(signal.SIGINT):
        for stop in (*first, child.terminate, child.kill):
            with contextlib.suppress(ProcessLookupError):
                stop()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=_STOP_GRACE_S)
                return
        child.wait()


@contextlib.contextmanager
def _signals_ignored(*signals: signal.Signals) -> Iterator[None]:
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True
