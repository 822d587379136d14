"""Looking at Dagster's UI as a person would: a real dagster-webserver on loopback and Debian's
Chromium driven by Playwright (whose own browser download cannot run on these machines).

Typical use (see claims_platform_tests/ui/test_asset_pictures.py):

    with dagster_webserver(dagster_home=home, module="my.defs") as server, chromium_page() as page:
        open_asset_page(page, server.url, ["actuarial", "pmpm"])
        dialog = show_markdown(page, "pmpm_chart")  # Markdown of >= 1000 chars opens in a dialog
        page.screenshot(path=tmp_path / "pmpm.png", full_page=True)

How Dagster 1.13 shows an asset (read from its UI source, dagster_webserver/webapp):
- `/assets/<key path, each part URL-encoded>?view=overview`: the Overview tab. Its "Metadata"
  section is the latest materialization's metadata (plus definition metadata), one table row per
  label. `?view=events` lists events with the selected one's metadata on the right.
- A Markdown value under 1000 characters renders inline in its row; a longer one (every inlined
  PNG) shows as a "[Show Markdown]" link that opens a dialog titled with the label.
- Numeric (float/int) metadata is plotted over materializations by the Metadata section's
  "Plots" button (one chart.js canvas per label, headed by the label).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from claims_platform_tests.conftest import REPO_ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

CHROMIUM = Path("/usr/bin/chromium")
# As on the machine notes: without the background-networking flags Chromium keeps opening
# connections that this closed network refuses.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VENV_BIN = REPO_ROOT / ".venv" / "bin"
DAGSTER_YAML = "telemetry:\n  enabled: false\n"

_LOCATIONS_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } }
} } } }
"""


_DISMISS_COMMUNITY_NUX = "try { localStorage.setItem('communityNux', '\"1\"'); } catch (e) {}"


class WebserverError(RuntimeError):
    pass


def require_chromium() -> Path:
    """Debian's Chromium, or an error that says how to get it (scripts/test installs it)."""
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(
            f"The UI tests need Chromium at {CHROMIUM}: run scripts/test (it installs Debian's "
            "package as root) or `apt-get update && apt-get install -y chromium`"
        )
    return CHROMIUM


def new_dagster_home(path: Path) -> Path:
    """A DAGSTER_HOME with SQLite storage under it, telemetry off (no network here) and the
    "Join the Dagster community" dialog marked seen, so it covers no screenshot."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "dagster.yaml").write_text(DAGSTER_YAML)
    (path / ".nux").mkdir(exist_ok=True)
    (path / ".nux" / "nux.yaml").write_text("seen: 1\n")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class Webserver:
    url: str
    log_path: Path
    process: subprocess.Popen
    startup_timeout: float

    def wait_until_ready(self) -> str:
        """Block until every code location loaded; the base URL. Raises with the log's tail."""
        _wait_until_loaded(self.url, self.process, self.log_path, self.startup_timeout)
        return self.url


@contextlib.contextmanager
def dagster_webserver(
    *,
    dagster_home: Path,
    module: str | None = None,
    workspace: Path | None = None,
    working_directory: Path = REPO_ROOT,
    startup_timeout: float = 120.0,
    wait: bool = True,
) -> Iterator[Webserver]:
    """Run the .venv's dagster-webserver on 127.0.0.1 and a free port, loading `module` (-m) or
    `workspace` (-w) against `dagster_home` (its log: `webserver-<port>.log` there).

    With `wait`, it is yielded once every code location loaded; without, at once, so the ~15 s
    start overlaps other work (materializing, say) until `wait_until_ready()`. Create the
    instance's storage first (DagsterInstance.from_config) so two processes do not both create
    the SQLite schema. On exit its whole process group (webserver and code server) gets SIGTERM,
    then SIGKILL after `_STOP_GRACE` seconds."""
    if (module is None) == (workspace is None):
        raise ValueError("give exactly one of module or workspace")
    port = free_port()
    # A workspace file names its own working directories; -d goes only with -m.
    target = ["-m", module, "-d", str(working_directory)] if module else ["-w", str(workspace)]
    cmd = [
        str(VENV_BIN / "dagster-webserver"),
        *target,
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home)}
    log_path = Path(dagster_home) / f"webserver-{port}.log"
    with open(log_path, "wb") as log:
        # Own session: the code server it spawns shares the group, so one signal reaches both.
        proc = subprocess.Popen(
            cmd,
            cwd=working_directory,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = Webserver(f"http://127.0.0.1:{port}", log_path, proc, startup_timeout)
        try:
            if wait:
                server.wait_until_ready()
            yield server
        finally:
            _stop_group(proc)


def _wait_until_loaded(url: str, proc: subprocess.Popen, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise WebserverError(
                f"dagster-webserver exited with {proc.returncode} before serving; "
                f"its log ({log_path}) ends:\n{_tail(log_path)}"
            )
        try:
            entries = _graphql(url, _LOCATIONS_QUERY)["workspaceOrError"]["locationEntries"]
        except (OSError, KeyError, TypeError, ValueError) as e:
            last = repr(e)
        else:
            errors = [
                f"{e['name']}: {e['locationOrLoadError'].get('message', '')}"
                for e in entries
                if (e.get("locationOrLoadError") or {}).get("__typename") == "PythonError"
            ]
            if errors:
                raise WebserverError("code location failed to load:\n" + "\n".join(errors))
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
            last = f"locations {[(e['name'], e['loadStatus']) for e in entries]}"
        time.sleep(0.25)
    raise WebserverError(
        f"dagster-webserver at {url} not ready after {timeout:.0f} s ({last}); "
        f"its log ({log_path}) ends:\n{_tail(log_path)}"
    )


def _graphql(url: str, query: str) -> dict:
    req = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.load(resp)["data"]


# Measured: the webserver and its code server are gone ~3-5 s after SIGTERM.
_STOP_GRACE = 10.0


def _stop_group(proc: subprocess.Popen, grace: float = _STOP_GRACE) -> None:
    pgid = proc.pid  # leader of its own session, so its group id is its pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    # The webserver may be gone while its code server still winds down: wait for the group.
    while time.monotonic() < deadline and _group_alive(pgid):
        time.sleep(0.1)
    if _group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    proc.wait()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def chromium_page(viewport: tuple[int, int] = (1440, 1100)) -> Iterator[Page]:
    """A page in headless Debian Chromium with a fresh profile, closed (and the profile removed)
    on exit. Dagster's pages scroll inside their own panes, so a full-page screenshot is no
    taller than the viewport: ask for a taller viewport to capture more."""
    from playwright.sync_api import sync_playwright

    executable = require_chromium()
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile,
                executable_path=str(executable),
                headless=True,
                args=list(CHROMIUM_ARGS),
                viewport={"width": viewport[0], "height": viewport[1]},
            )
            try:
                # The same dialog dismissed in the browser, for a DAGSTER_HOME not made above.
                context.add_init_script(_DISMISS_COMMUNITY_NUX)
                page = context.pages[0] if context.pages else context.new_page()
                page.set_default_timeout(30_000)
                yield page
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def asset_page_url(base_url: str, asset_key: Sequence[str] | str, view: str = "overview") -> str:
    """`/assets/<key parts, URL-encoded>?view=<tab>`; tabs: overview, events, partitions, checks,
    lineage, automation."""
    parts = [asset_key] if isinstance(asset_key, str) else list(asset_key)
    return f"{base_url}/assets/{'/'.join(quote(p, safe='') for p in parts)}?view={view}"


def open_asset_page(
    page: Page,
    base_url: str,
    asset_key: Sequence[str] | str,
    view: str = "overview",
    wait_for_label: str | None = None,
) -> Page:
    """Open an asset's tab and wait until it has rendered: on Overview and Events until the
    latest materialization's metadata row `wait_for_label` (or any metadata row) is shown."""
    page.goto(asset_page_url(base_url, asset_key, view))
    if view == "overview":
        page.get_by_placeholder("Filter metadata keys").wait_for()
    if view in ("overview", "events"):
        if wait_for_label:
            metadata_row(page, wait_for_label).first.wait_for()
        else:
            page.locator("tbody tr td:first-child").first.wait_for()
    page.wait_for_load_state("networkidle")
    return page


def metadata_row(page: Page, label: str) -> Locator:
    """The row of the Metadata table whose key is exactly `label`."""
    return page.locator("tr").filter(
        has=page.locator("td:first-child").get_by_text(label, exact=True)
    )


def show_markdown(page: Page, label: str) -> Locator:
    """Open the dialog of a Markdown value too long to show inline (>= 1000 characters, e.g. an
    inlined PNG) and return it once its images have decoded."""
    metadata_row(page, label).get_by_text("[Show Markdown]").click()
    dialog = page.get_by_role("dialog").filter(has_text=label)
    dialog.wait_for()
    wait_for_images(dialog)
    wait_for_animations(page)  # the dialog fades in: a screenshot too soon shows it see-through
    return dialog


def close_dialog(page: Page) -> None:
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    page.get_by_role("dialog").wait_for(state="detached")
    wait_for_animations(page)


def wait_for_animations(page: Page) -> None:
    """Until no CSS transition or animation runs (dialogs and menus fade)."""
    page.wait_for_function("() => document.getAnimations().every(a => a.playState !== 'running')")


def show_metadata_plots(page: Page) -> Locator:
    """Switch the Overview's Metadata section to "Plots" and return the plots' canvases once
    drawn (one per numeric label, headed by the label)."""
    page.get_by_role("button", name="Plots").click()
    canvases = page.locator("canvas")
    canvases.first.wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('canvas')].every(c => c.width > 0 && c.height > 0)"
    )
    return canvases


def wait_for_images(scope: Locator) -> None:
    """Wait until every <img> in `scope` finished loading (decoded or failed); check
    `image_natural_width` for which."""
    scope.locator("img").first.wait_for()
    scope.evaluate(
        "el => Promise.all([...el.querySelectorAll('img')].map(i => i.complete ? null :"
        " new Promise(r => { i.onload = r; i.onerror = r; })))"
    )


def painted_pixels(canvas: Locator) -> int:
    """How many pixels of a <canvas> are not transparent: 0 for a chart that drew nothing."""
    return canvas.evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"
    )


def image_natural_width(img: Locator) -> int:
    """0 unless the browser actually decoded the image."""
    return img.evaluate("i => i.complete ? i.naturalWidth : 0")


def main(argv: Sequence[str] | None = None) -> int:
    """scripts/screenshot: an asset page of an existing DAGSTER_HOME as a PNG (for the README)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="scripts/screenshot",
        description="Screenshot an asset's page in a real dagster-webserver and headless Chromium.",
    )
    parser.add_argument("asset_key", help="slash-separated key, e.g. actuarial/mart_pmpm")
    parser.add_argument("out", type=Path, help="PNG to write")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("-m", "--module", help="definitions module (default: -w workspace.yaml)")
    target.add_argument("-w", "--workspace", type=Path, default=REPO_ROOT / "workspace.yaml")
    parser.add_argument(
        "--dagster-home",
        type=Path,
        default=os.environ.get("DAGSTER_HOME"),
        help="instance holding the materializations (default: $DAGSTER_HOME)",
    )
    parser.add_argument("--view", default="overview", help="overview (default) or events")
    show = parser.add_mutually_exclusive_group()
    show.add_argument("--markdown", metavar="LABEL", help="open this long Markdown value first")
    show.add_argument("--plots", action="store_true", help="show the numeric metadata's plots")
    parser.add_argument("--size", default="1440x1100", help="viewport WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    if not args.dagster_home:
        parser.error("give --dagster-home or set DAGSTER_HOME")
    width, height = (int(n) for n in args.size.split("x"))
    with (
        dagster_webserver(
            dagster_home=args.dagster_home,
            module=args.module,
            workspace=None if args.module else args.workspace,
        ) as server,
        chromium_page(viewport=(width, height)) as page,
    ):
        open_asset_page(page, server.url, args.asset_key.split("/"), view=args.view)
        if args.markdown:
            show_markdown(page, args.markdown)
        elif args.plots:
            show_metadata_plots(page)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
