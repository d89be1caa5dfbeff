"""A page opened in a real headless Chromium (Debian's ``chromium``): its DOM, a screenshot, and every network request.

:func:`open_page` runs Chromium three ways on one local file: ``--dump-dom`` (the document as the browser built
it), ``--screenshot`` (a PNG a person can look at) and ``--log-net-log`` (Chromium's own record of every URL it
requested, the oracle for "nothing is fetched from outside": a request the page made carries the page's
``file://`` site in its network isolation key; Chromium's own update and account requests carry none, and are left
out). Chromium is a tool the tests need: missing, it fails.
"""

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

TIMEOUT = 120


@dataclass
class Page:
    dom: str
    screenshot: Path
    requested: list  # every URL the page itself made Chromium request (not Chromium's own services), in order


def chromium():
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("chromium is not installed (Debian package chromium; tools/toolchain.py installs it)")
    return found


def _run(args, workdir):
    argv = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-features=Translate,OptimizationHints,MediaRouter", f"--user-data-dir={workdir / 'profile'}",
            "--window-size=1280,1600", *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False, cwd=workdir)
    if done.returncode != 0:
        raise RuntimeError(f"chromium failed (rc={done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def open_page(path, workdir):
    """Open the local file ``path`` in headless Chromium; keep the screenshot and the net log in ``workdir``."""
    path, workdir = Path(path).resolve(), Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    url = path.as_uri()
    screenshot, net_log = workdir / f"{path.stem}.png", workdir / f"{path.stem}.netlog.json"
    dom = _run(["--dump-dom", url], workdir)
    _run([f"--screenshot={screenshot}", f"--log-net-log={net_log}", "--net-log-capture-mode=Everything", url], workdir)
    if not screenshot.exists() or screenshot.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot of {url}")
    return Page(dom, screenshot, requested_urls(net_log))


def requested_urls(net_log):
    """The URLs the page requested, from a Chromium net log (``--log-net-log``): every URL request started for the
    ``file://`` page (its network isolation key is the page's site)."""
    text = Path(net_log).read_text().rstrip()
    try:
        log = json.loads(text)
    except ValueError:  # a log cut short at exit lacks its closing brackets
        log = json.loads(text.rstrip(",") + "]}")
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log.get("events", []):
        params = event.get("params") or {}
        if event.get("type") == start_job and "file://" in str(params.get("network_isolation_key", "")):
            if params.get("url") not in urls:
                urls.append(params.get("url"))
    return urls
