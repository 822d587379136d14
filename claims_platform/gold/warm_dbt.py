"""`claims-dbt`: dbt commands forked from a process that has dbt loaded already.

A dbt command pays ~4.5 s on this platform's machines before its first model runs: importing
dbt-core and the adapter (~3 s), then the first use of dbt's artifact classes, whose
(de)serialisers and JSON schemas mashumaro compiles on first use (~1 s). On DuckDB a small batch's
whole gold build takes less than that, so a gold step that starts a fresh dbt costs what dbt's
start costs, not what the batch changed (DESIGN principle 6).

`claims-dbt` is the platform's dbt executable. Run locally (CLAIMS_ENV local, a POSIX system), it
hands its command line, working directory, environment and standard streams to a long-lived
*warm* server over a Unix socket. The server imported dbt once, primed it on the platform's
project (a full and a partial parse, every macro compiled: what a command otherwise does on
first use, ~0.5 s), froze that heap out of the garbage collector, and forks one child per
command: the child is a fresh copy of that warm process which runs the command exactly as the
`dbt` executable would (`dbt.cli.main.cli` with the client's arguments, environment, directory
and streams) and exits with dbt's exit code, which the client exits with. Nothing of one command
survives into the next: each child is forked from the primed server, never from another command.

The client stays the process its caller manages (dagster-dbt, a test, a shell):
- SIGINT / SIGTERM / SIGHUP it receives are passed to the child, so dagster-dbt's cancellation
  (SIGINT, then SIGTERM) reaches dbt as it would a dbt process;
- if the client dies (SIGKILL, the host's run worker gone), the child kills itself at once with
  SIGKILL: it notices the client's end of the socket closing. A killed run therefore leaves no
  dbt behind, as with a plain dbt child;
- a child that dies of a signal makes the client die of the same signal.

No server yet (the first command after a boot, an upgrade, or 15 idle minutes): the client starts
one in the background and runs this command with the plain `dbt` beside the interpreter, so a
command never waits for the server to warm up. A server lives no longer than its owner: the
`dagster dev` the command that started it runs under, else that command's session (terminal, CI
job); it checks every second and stops when the owner is gone (`session_owner`). Only on Linux
and locally: elsewhere (macOS, where a fork of a process that loaded system frameworks is not
safe; branch, prod: a fresh container per run, where a server would only add its own start)
`claims-dbt` is the plain `dbt`.

The socket lives in a directory only this user can open (mode 0700, checked on every use), named
after the interpreter, every installed distribution with its version and this file, so any
install or upgrade (dbt-core, an adapter, duckdb, dbt-adapters…) or an edit of this file starts a
new server rather than reusing a stale one. The server writes a line
per command (sub-command, exit status, seconds, peak memory; never arguments or environment) to
`<socket>.log` beside the socket. With CLAIMS_DBT_USAGE_FILE set, the client writes the dbt
child's peak RSS there (benchmarks/incremental_cost.py: the child is not the caller's).
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import json
import os
import select
import signal
import socket
import stat
import struct
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path

# A server with no command for this long exits; the next command starts another.
IDLE_SECONDS = 15 * 60
_STATUS = struct.Struct("!iq")  # child's wait status, peak RSS in KB
_FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_MAX_REQUEST = 8 * 1024 * 1024
# The checkout's dbt project, which the server parses once to prime dbt (absent in a wheel).
_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt"


def plain_dbt() -> str:
    """The `dbt` executable installed beside this interpreter."""
    return str(Path(sys.executable).parent / "dbt")


def warm_enabled() -> bool:
    """Warm dbt runs locally on Linux only. Elsewhere a fork without exec of a process that
    loaded dbt is not safe (macOS: system frameworks refuse to run in a forked child, and
    Python's own default there is spawn), and the server's owner check reads /proc."""
    from claims_platform.environment import ConfigurationError, get_env

    if not sys.platform.startswith("linux") or not hasattr(socket, "AF_UNIX"):
        return False
    try:
        return get_env() == "local"
    except ConfigurationError:
        return False  # the plain dbt runs; the platform reports the bad setting itself


def socket_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"claims-dbt-{os.getuid()}"


def socket_path() -> Path:
    """The server's socket for this interpreter, these dbt packages and this file."""
    here = Path(__file__)
    identity = [
        os.path.realpath(sys.executable),
        sys.prefix,
        *installed_distributions(),
        str(here.stat().st_mtime_ns),
        str(here.stat().st_size),
    ]
    digest = hashlib.sha256("\0".join(identity).encode()).hexdigest()[:16]
    return socket_dir() / f"{digest}.sock"


def installed_distributions() -> list[str]:
    """Every distribution installed in this environment, with its version (the names of its
    `*.dist-info` folders): any install, upgrade or removal — dbt-core, an adapter, duckdb,
    dbt-adapters, anything a warm dbt has loaded — names another server. A directory listing,
    not `importlib.metadata`, which would cost a command tens of milliseconds."""
    names: set[str] = set()
    for key in ("purelib", "platlib"):
        with contextlib.suppress(OSError):
            names.update(
                n for n in os.listdir(sysconfig.get_paths()[key]) if n.endswith(".dist-info")
            )
    return sorted(names)


def session_owner(pid: int | None = None) -> int:
    """The process a server started for this command lives no longer than: the `dagster dev`
    this command runs under, else the leader of its session (the terminal or CI job that ran
    it). Read from /proc; the server stops when that process is gone."""
    pid = os.getppid() if pid is None else pid
    while pid > 1:
        args = cmdline(pid)
        names = [os.path.basename(a) for a in args]
        if "dagster" in names and "dev" in args[names.index("dagster") + 1 :][:1]:
            return pid
        pid = _parent(pid)
    return os.getsid(0)


def cmdline(pid: int) -> list[str]:
    """A process's arguments (Linux /proc; empty once it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces): field 4 is index 1."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def _parent(pid: int) -> int:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else 0


def process_identity(pid: int) -> str:
    """`pid:start time`: a pid the kernel reuses for another process names another identity."""
    fields = _stat_fields(pid)
    return f"{pid}:{fields[19]}" if fields else ""


def _private_dir(path: Path) -> bool:
    """Create `path` as a 0700 directory of ours, or check that it is one (else: not safe)."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.getuid()
        and stat.S_IMODE(info.st_mode) == 0o700
    )


# --- client ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Entry point of `claims-dbt`: run `dbt <argv>` warm if possible, else the plain dbt."""
    args = list(sys.argv[1:] if argv is None else argv)
    if warm_enabled():
        with contextlib.suppress(OSError):
            if _private_dir(socket_dir()):
                path = socket_path()
                status = _run_warm(path, args)
                if status is not None:
                    return status
                if _may_start_server(path):
                    _start_server(path, session_owner())
    os.execv(plain_dbt(), [plain_dbt(), *args])
    return 127  # not reached


def _may_start_server(path: Path) -> bool:
    """Not if a server took its lock in the last minute (it is still priming, or it failed:
    its log says why), nor where the socket's path is too long for a Unix socket."""
    if len(str(path).encode()) > 100:
        return False
    try:
        return time.time() - path.with_suffix(".lock").stat().st_mtime > 60
    except FileNotFoundError:
        return True


def _connect(path: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    return sock


def _run_warm(path: Path, args: list[str]) -> int | None:
    """dbt's exit code from the server, or None if no server answered (nothing ran)."""
    sock = _connect(path)
    if sock is None:
        return None
    request = json.dumps({"argv": args, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
    try:
        sock.sendmsg(
            [struct.pack("!I", len(request)) + request],
            [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("3i", 0, 1, 2))],
        )
    except OSError:
        sock.close()
        return None  # the server went away between connect and send: nothing ran

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(OSError):
            sock.send(bytes([signum]))

    for sig in _FORWARDED_SIGNALS:
        signal.signal(sig, forward)
    reply = _recv_exactly(sock, 1 + _STATUS.size)
    sock.close()
    if not reply:
        return None  # the server ended before it forked: nothing ran
    if len(reply) < 1 + _STATUS.size:
        sys.stderr.write("claims-dbt: the warm dbt server ended before dbt reported its exit\n")
        return 2
    wait_status, max_rss_kb = _STATUS.unpack(reply[1:])
    usage_file = os.environ.get("CLAIMS_DBT_USAGE_FILE")
    if usage_file:
        Path(usage_file).write_text(json.dumps({"max_rss_kb": max_rss_kb}))
    if os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    return os.waitstatus_to_exitcode(wait_status)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    """Up to `size` bytes: fewer only if the peer closed first."""
    data = b""
    while len(data) < size:
        try:
            chunk = sock.recv(size - len(data))
        except ConnectionError:
            break  # reset: a server that exited with this connection still unaccepted
        if not chunk:
            break
        data += chunk
    return data


def _start_server(path: Path, owner: int) -> None:
    """Start a server for `path` in the background, detached from this process and its session
    (double fork), so that a caller killing this command's process tree does not kill it; it
    stops when `owner` (session_owner) is gone."""
    owner_identity = process_identity(owner)
    log = path.with_suffix(".log")
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.chdir("/")
        os.execv(
            sys.executable, [sys.executable, "-m", __name__, "serve", str(path), owner_identity]
        )
    finally:
        os._exit(127)


def start_server(wait: float = 60.0, owner: int | None = None) -> Path:
    """Start the server if none runs and wait until it answers (benchmarks, tests); it stops
    when `owner` (default: session_owner of this process) is gone."""
    path = socket_path()
    if not _private_dir(socket_dir()):
        raise RuntimeError(f"{socket_dir()} is not a private directory of this user")
    deadline = time.monotonic() + wait
    started = False
    while time.monotonic() < deadline:
        sock = _connect(path)
        if sock is not None:
            sock.close()
            return path
        if not started:
            _start_server(path, session_owner(os.getpid()) if owner is None else owner)
            started = True
        time.sleep(0.1)
    raise TimeoutError(f"no warm dbt server at {path} after {wait:.0f}s; see {path}.log")


def stop_server(path: Path | None = None) -> None:
    """Ask the server to exit once its running commands end (no-op without a server)."""
    sock = _connect(path or socket_path())
    if sock is None:
        return
    with sock:
        request = json.dumps({"stop": True}).encode()
        sock.sendall(struct.pack("!I", len(request)) + request)
        with contextlib.suppress(OSError):
            sock.recv(1)


# --- server ---------------------------------------------------------------------------------


def _log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} [{os.getpid()}] {message}", flush=True)


def _prime() -> None:
    """Import dbt and the adapter, and use dbt's artifact classes once by parsing the
    platform's project (into a scratch directory), so every child starts where a dbt command
    is after its first parse. The parse's logger and adapter are reset before any fork."""
    import dbt.adapters.duckdb
    import dbt.cli.main

    if not (_PROJECT_DIR / "dbt_project.yml").exists():
        return
    from dbt.adapters.factory import reset_adapters
    from dbt_common.events.event_manager_client import cleanup_event_logger

    with tempfile.TemporaryDirectory(prefix="claims-dbt-prime-") as scratch:
        saved = dict(os.environ)
        os.environ["CLAIMS_DUCKDB_PATH"] = str(Path(scratch) / "prime.duckdb")
        args = [
            "parse",
            "--project-dir",
            str(_PROJECT_DIR),
            "--profiles-dir",
            str(_PROJECT_DIR),
            "--target-path",
            scratch,
            "--log-path",
            scratch,
            "--quiet",
            # dbt's static parser (dbt-extractor, Rust) starts a thread pool on first use; a
            # fork copies no thread, and a child using that pool would wait on it forever.
            # Unused here, it starts in each child that needs it.
            "--no-static-parser",
        ]
        try:
            # A full parse, then a partial one reading the first's partial_parse.msgpack: a
            # platform command reads that file first thing, and the decoder mashumaro compiles
            # on first use (~0.3 s) is then compiled once here, not in every child.
            full = dbt.cli.main.dbtRunner().invoke([*args, "--no-partial-parse"])
            partial = dbt.cli.main.dbtRunner().invoke(args)
            compiled = _compile_macros(partial.result)
            _log(
                f"primed: dbt parse success={full.success}, partial {partial.success},"
                f" {compiled} macros compiled"
            )
        finally:
            os.environ.clear()
            os.environ.update(saved)
            cleanup_event_logger()
            reset_adapters()


def _compile_macros(manifest: object) -> int:
    """Compile every macro of the parsed project into dbt's template cache. dbt compiles a
    macro's Jinja on its first call in a process (materialisations, adapter macros, the
    project's: 0.1-0.2 s a command); the cache is keyed by the macro's source text, so a macro
    edited since the server started is compiled afresh by the child that calls it."""
    from dbt_common.clients.jinja import template_cache

    compiled = 0
    for macro in getattr(manifest, "macros", {}).values():
        with contextlib.suppress(Exception):  # one the child would fail on, and report, itself
            template_cache.get_node_template(macro)
            compiled += 1
    return compiled


def _os_threads() -> int:
    """Threads of this process, native ones included (Linux); Python's count elsewhere."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def serve(path: Path, owner: str = "") -> int:
    """Run the server on `path` until idle for IDLE_SECONDS, asked to stop, or its owner
    (`process_identity` of session_owner) is gone."""
    lock = open(path.with_suffix(".lock"), "w")  # noqa: SIM115 (held for the server's life)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        _log("another server holds the lock; exiting")
        return 0
    t0 = time.monotonic()
    with contextlib.suppress(OSError):
        if os.fstat(1).st_size > 1024 * 1024:  # the log (stdout) of earlier servers
            os.ftruncate(1, 0)
    _prime()
    # Everything priming left in memory is permanent for the children: without this, each
    # child's full garbage collections walk the whole primed heap again (~0.3 s a command) and,
    # touching every object's header, copy the shared pages into the child.
    gc.freeze()
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a socket left by a server that died
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chmod(path, 0o600)
    listener.listen(64)
    threads = _os_threads()
    if threads != 1:  # a fork copies only the forking thread; a child would hang on the others
        _log(f"refusing to serve: {threads} threads after priming")
        path.unlink()
        return 1
    _log(f"serving {path.name} (ready in {time.monotonic() - t0:.1f}s)")
    children: dict[int, tuple[socket.socket, float, str]] = {}
    last_activity = time.monotonic()
    stop_requested: list[int] = []
    owner_checked = 0.0
    signal.signal(signal.SIGTERM, lambda signum, _frame: stop_requested.append(signum))

    def stop_listening() -> None:
        # New commands start a new server (or run the plain dbt) while the running ones finish.
        if listener.fileno() != -1:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            listener.close()

    while True:
        if stop_requested:
            stop_listening()
        readable, _, _ = select.select(
            [listener] if listener.fileno() != -1 else [], [], [], 0.02 if children else 1.0
        )
        if readable:
            last_activity = time.monotonic()
            with contextlib.suppress(OSError):
                conn, _ = listener.accept()
                if _handle(conn, listener, children):
                    stop_requested.append(0)
                    stop_listening()
                    conn.close()  # only now: the asker may rely on the above once answered
        for pid, (conn, started, command) in list(children.items()):
            done, wait_status, usage = os.wait4(pid, os.WNOHANG)
            if not done:
                continue
            del children[pid]
            last_activity = time.monotonic()
            with contextlib.suppress(OSError):
                conn.sendall(_STATUS.pack(wait_status, usage.ru_maxrss))
            conn.close()
            _log(
                f"dbt {command}: exit {os.waitstatus_to_exitcode(wait_status)},"
                f" {time.monotonic() - started:.1f}s, peak RSS {usage.ru_maxrss // 1024} MB"
            )
        idle = not children and time.monotonic() - last_activity > IDLE_SECONDS
        if owner and not stop_requested and time.monotonic() - owner_checked > 1.0:
            owner_checked = time.monotonic()
            if process_identity(int(owner.partition(":")[0])) != owner:
                _log("owner process gone; stopping")
                stop_requested.append(0)
                stop_listening()
        if (stop_requested or idle) and not children:
            break
    stop_listening()
    _log("stopped")
    return 0


def _recv_request(conn: socket.socket) -> tuple[dict, list[int]]:
    header, fds = b"", []
    while len(header) < 4:
        data, ancillary, _flags, _addr = conn.recvmsg(4 - len(header), socket.CMSG_SPACE(12))
        if not data:
            if not header:
                raise EOFError
            raise ConnectionError("client closed mid-header")
        header += data
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds += list(struct.unpack(f"{len(payload) // 4}i", payload))
    (size,) = struct.unpack("!I", header)
    if size > _MAX_REQUEST:
        raise ConnectionError("request too large")
    body = b""
    while len(body) < size:
        data = conn.recv(size - len(body))
        if not data:
            raise ConnectionError("client closed mid-request")
        body += data
    return json.loads(body), fds


def _handle(
    conn: socket.socket,
    listener: socket.socket,
    children: dict[int, tuple[socket.socket, float, str]],
) -> bool:
    """Fork a child for one command (the server keeps `conn` to send its exit status); True if
    the request was to stop."""
    fds: list[int] = []
    try:
        conn.settimeout(10)
        request, fds = _recv_request(conn)
        conn.settimeout(None)
        if request.get("stop"):
            return True  # the caller closes the listener, then `conn`
        if len(fds) != 3:
            raise ConnectionError("a command needs the client's three standard streams")
        command = next((a for a in request["argv"] if not a.startswith("-")), "")
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            listener.close()
            for other, _started, _command in children.values():
                other.close()
            _child(conn, fds, request)  # never returns
        children[pid] = (conn, time.monotonic(), command)
        with contextlib.suppress(OSError):
            conn.sendall(b"\x01")  # forked: from here on the command may have run
        return False
    except EOFError:
        conn.close()  # a client that only checked the server is up (start_server)
        return False
    except (OSError, ValueError, KeyError) as exc:
        _log(f"bad request: {type(exc).__name__}")
        conn.close()
        return False
    finally:
        for fd in fds:
            os.close(fd)


def _watch_client(conn: socket.socket) -> None:
    """In the child: signals the client forwards, and SIGKILL as soon as the client is gone."""
    while True:
        try:
            data = conn.recv(1)
        except InterruptedError:
            continue
        except OSError:
            data = b""
        if not data:
            os.kill(os.getpid(), signal.SIGKILL)
        elif data[0] in _FORWARDED_SIGNALS:
            os.kill(os.getpid(), data[0])


def _child(conn: socket.socket, fds: list[int], request: dict) -> None:
    code = 1
    try:
        os.setpgid(0, 0)  # signals aimed at the server's group do not reach commands
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        # Streams as a fresh interpreter has them: stdout line-buffered on a terminal, stderr
        # always; dagster-dbt reads dbt's structured log lines from stdout as they come.
        encoding = (request["env"].get("PYTHONIOENCODING") or "").split(":")[0] or "utf-8"
        sys.stdin = open(0, closefd=False, encoding=encoding)  # noqa: SIM115
        sys.stdout = open(1, "w", buffering=1, closefd=False, encoding=encoding)  # noqa: SIM115
        sys.stderr = open(  # noqa: SIM115
            2, "w", buffering=1, closefd=False, encoding=encoding, errors="backslashreplace"
        )
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["dbt", *request["argv"]]
        threading.Thread(target=_watch_client, args=(conn,), daemon=True).start()
        import dbt.cli.main

        try:
            dbt.cli.main.cli.main(args=request["argv"], prog_name="dbt", standalone_mode=True)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except KeyboardInterrupt:
            code = 130
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        # What a normal interpreter exit runs (dbt's and multiprocessing's cleanups).
        import atexit

        with contextlib.suppress(Exception):
            atexit._run_exitfuncs()
    finally:
        os._exit(code)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        sys.exit(serve(Path(sys.argv[2]), (sys.argv[3:4] or [""])[0]))
    if sys.argv[1:2] == ["stop"]:
        stop_server()
        sys.exit(0)
    sys.exit(main())
