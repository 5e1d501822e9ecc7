"""A real headless Chromium, cut off from the network, that opens pages of the built book and
reports what a reader's browser did: every request, console errors, typeset math, images, links,
accessibility.

Used by tests/book/test_browser.py. Chromium and ChromeDriver come from Debian's packages and
axe-core from the npm registry (`make browser`, which `make test` runs).
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path(os.environ.get("GRU_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("GRU_CHROMEDRIVER", "/usr/bin/chromedriver"))
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WINDOW = (1280, 900)


def missing_tools() -> list[str]:
    """What `make browser` would install, if it is not there."""
    return [str(path) for path in (CHROMIUM, CHROMEDRIVER, AXE) if not path.is_file()]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # one line per request would drown pytest's output
        pass


class StaticServer:
    """`_build/html` served on 127.0.0.1 (a random free port), as a reader's local web server
    would."""

    def __init__(self, root: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class PageReport:
    """What happened when one page was opened."""

    name: str
    url: str
    requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    weight_bytes: int = 0
    has_math: bool = False
    math_state: str = ""
    typeset: int = 0
    math_errors: list[str] = field(default_factory=list)
    raw_tex: list[str] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    audio: list[dict] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    prev_href: str | None = None
    next_href: str | None = None
    notebook_downloads: list[str] = field(default_factory=list)
    axe_violations: list[dict] = field(default_factory=list)
    screenshot: str = ""


# Waits for MathJax's first typeset; pages without math have no MathJax script.
_WAIT_FOR_MATH = """
const done = arguments[arguments.length - 1];
const start = Date.now();
(function poll() {
  if (document.readyState === 'complete' && !document.querySelector('script[src*="mathjax"]')) {
    done('no MathJax on this page');
  } else if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => done('typeset'), (e) => done('failed: ' + e));
  } else if (Date.now() - start > 30000) {
    done('MathJax never started');
  } else {
    setTimeout(poll, 50);
  }
})();
"""

# Everything the tests read off the rendered page, in one round trip.
_INSPECT = r"""
const article = document.querySelector('main') || document.body;
const prose = article.cloneNode(true);
prose.querySelectorAll('pre, code, mjx-container, script, style, .highlight, .cell_input')
     .forEach((node) => node.remove());
const text = prose.textContent;
const tex = /\\(begin|end|frac|mathbf|sigma|odot|tanh|left|right)\b[^\s]{0,20}|\$\$|\\\(|\\\[/g;
const raw = [...new Set(text.match(tex) || [])];
return {
  hasMath: document.querySelectorAll('.math').length > 0,
  typeset: document.querySelectorAll('mjx-container').length,
  mathErrors: [...document.querySelectorAll('mjx-merror')]
    .map((e) => e.getAttribute('data-mjx-error') || e.textContent),
  raw: raw,
  images: [...document.images].map((img) => ({
    src: img.currentSrc || img.src, loaded: img.complete && img.naturalWidth > 0,
    alt: img.getAttribute('alt')})),
  links: [...document.querySelectorAll('a[href]')].map((a) => a.href),
  prev: (document.querySelector('.prev-next-area a.left-prev') || {}).href || null,
  next: (document.querySelector('.prev-next-area a.right-next') || {}).href || null,
  notebooks: [...document.querySelectorAll('.dropdown-download-buttons a[href$=".ipynb"]')]
    .map((a) => a.href),
};
"""

# Every <audio> player: its metadata loaded by the element, and its bytes decoded by Web Audio,
# so a player that shows its controls but holds nothing playable is caught (``decoded`` null).
_AUDIO = """
const done = arguments[arguments.length - 1];
const players = [...document.querySelectorAll('audio')];
Promise.all(players.map(async (player) => {
  const source = player.querySelector('source');
  const src = player.currentSrc || player.src || (source ? source.src : '');
  const metadata = await new Promise((resolve) => {
    if (player.readyState >= 1) { resolve('loaded'); return; }
    player.addEventListener('loadedmetadata', () => resolve('loaded'), {once: true});
    player.addEventListener('error', () => resolve('error'), {once: true});
    (source || player).addEventListener('error', () => resolve('error'), {once: true});
    setTimeout(() => resolve('timeout'), 10000);
    player.load();
  });
  let decoded = null, error = null;
  try {
    const bytes = await (await fetch(src)).arrayBuffer();
    const sound = await new OfflineAudioContext(1, 1, 44100).decodeAudioData(bytes);
    let peak = 0;
    for (const value of sound.getChannelData(0)) peak = Math.max(peak, Math.abs(value));
    decoded = {seconds: sound.duration, channels: sound.numberOfChannels, peak: peak};
  } catch (e) { error = String(e); }
  return {src: src.slice(0, 32), type: source ? source.type : '', controls: player.controls,
          metadata: metadata, duration: player.duration, decoded: decoded, error: error};
})).then(done, (e) => done([{src: '', metadata: 'script failed: ' + e, decoded: null}]));
"""

_AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']}).then(
  (r) => done(r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.length, targets: v.nodes.slice(0, 5).map((n) => n.target.join(' '))}))),
  (e) => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: 0, targets: []}]));
"""

_FETCH_TEXT = """
const done = arguments[arguments.length - 1];
fetch(arguments[0]).then((r) => r.text().then((t) => done({status: r.status, text: t})),
                          (e) => done({status: 0, text: String(e)}));
"""


class Browser:
    """One headless Chromium for a test module: network blocked, cache off, logs on."""

    def __init__(self, html_root: Path, artifacts: Path) -> None:
        """Serve the parent of `html_root` (so probe pages in `artifacts`, a sibling, share the
        book's origin) and start Chromium."""
        self.root = html_root
        self.artifacts = artifacts
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.server = StaticServer(html_root.parent)
        self.book = self.server.base + html_root.name + "/"
        self.profile = tempfile.mkdtemp(prefix="gru-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for argument in (
            "--headless=new",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            f"--user-data-dir={self.profile}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            # The network is cut off: every host but the loopback fails to resolve, and any request
            # to an address goes to a proxy that is not there. A page that needs the network breaks.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--proxy-server=http://127.0.0.1:9",
        ):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        # An explicit driver and browser: Selenium Manager, which would download them, never runs.
        os.environ.setdefault("SE_OFFLINE", "true")
        self.driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        self.driver.set_page_load_timeout(60)
        self.driver.set_script_timeout(60)
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        self.axe_source = AXE.read_text(encoding="utf-8")
        # Chromium's own start-up (its new-tab page) makes chrome:// requests: not the book's.
        self.driver.get("about:blank")
        self.driver.get_log("performance")
        self.driver.get_log("browser")

    def close(self) -> None:
        self.driver.quit()
        self.server.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def url(self, page: str) -> str:
        """The address of `page`, a path under _build/html (or an absolute URL, kept as is)."""
        return page if "://" in page else self.book + page

    def is_local(self, url: str) -> bool:
        return url.startswith(self.server.base) or url.split(":", 1)[0] in {"data", "blob", "about"}

    def visit(self, page: str, *, audit: bool = True, screenshot: bool = True) -> PageReport:
        """Open `page` (a path under _build/html), let it settle, and report what happened."""
        self.driver.get_log("performance")  # drop the previous page's events
        self.driver.get_log("browser")
        report = PageReport(name=page, url=self.url(page))
        self.driver.get(report.url)
        if self.driver.current_url != report.url:
            raise RuntimeError(f"opened {self.driver.current_url}, not {report.url}")
        report.math_state = self.driver.execute_async_script(_WAIT_FOR_MATH)
        self._scroll_through()  # lazy content (images, iframes) loads as a reader scrolls
        seen = self.driver.execute_script(_INSPECT)
        report.has_math = seen["hasMath"]
        report.typeset = seen["typeset"]
        report.math_errors = seen["mathErrors"]
        report.raw_tex = seen["raw"]
        report.images = seen["images"]
        report.links = seen["links"]
        report.prev_href, report.next_href = seen["prev"], seen["next"]
        report.notebook_downloads = seen["notebooks"]
        report.audio = self.driver.execute_async_script(_AUDIO)
        if screenshot:
            report.screenshot = str(self._screenshot(page))
        if audit:
            self.driver.execute_script(self.axe_source)
            report.axe_violations = self.driver.execute_async_script(_AXE_RUN)
        self._read_network(report)
        report.console_errors = [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry["level"] == "SEVERE"
        ]
        return report

    def fetch_text(self, url: str) -> tuple[int, str]:
        """GET `url` from inside the page, as a download link would."""
        answer = self.driver.execute_async_script(_FETCH_TEXT, url)
        return answer["status"], answer["text"]

    def search(self, query: str) -> list[str]:
        """Run the book's own search page and return the result links."""
        self.driver.get(self.url(f"search.html?q={query.replace(' ', '+')}"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = self.driver.execute_script(
                "const s = document.querySelector('#search-results');"
                "return s ? {done: !!s.querySelector('p.search-summary, .search-summary'),"
                " links: [...s.querySelectorAll('ul.search li a')].map((a) => a.href)} : null;"
            )
            if state and state["done"]:
                return state["links"]
            time.sleep(0.1)
        raise TimeoutError(f"the search for {query!r} never finished")

    def _scroll_through(self) -> None:
        self.driver.execute_script(
            "window.scrollTo(0, document.body.scrollHeight); window.scrollTo(0, 0);"
        )
        self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "Promise.all([...document.images].map((i) => i.complete ? null :"
            " new Promise((r) => { i.onload = i.onerror = r; }))).then(() => done(true));"
        )

    def _screenshot(self, page: str) -> Path:
        """The whole page, top to bottom, kept as a test artifact."""
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": WINDOW[0], "height": height, "scale": 1},
            },
        )
        name = page.rsplit("://", 1)[-1].replace("/", "__").removesuffix(".html")
        path = self.artifacts / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def _read_network(self, report: PageReport) -> None:
        """Requests, failures and bytes on the wire, from Chromium's own network log."""
        urls: dict[str, str] = {}
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            method, params = message["method"], message.get("params", {})
            if method == "Network.requestWillBeSent":
                urls[params["requestId"]] = params["request"]["url"]
                report.requests.append(params["request"]["url"])
            elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
                report.failed_requests.append(
                    f"{params['response']['status']} {params['response']['url']}"
                )
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                url = urls.get(params["requestId"], "?")
                report.failed_requests.append(f"{params.get('errorText')} {url}")
            elif method == "Network.loadingFinished":
                report.weight_bytes += int(params.get("encodedDataLength", 0))
        report.external_requests = [url for url in report.requests if not self.is_local(url)]


def local_target(browser: Browser, href: str) -> tuple[Path, str] | None:
    """The file under _build/html and the anchor a local link points to (None for other sites)."""
    if not href.startswith(browser.server.base):
        return None
    url, fragment = urldefrag(href)
    path = urlsplit(url).path.lstrip("/")
    target = browser.root.parent / path
    if path == "" or target.is_dir():
        target = target / "index.html"
    return target, fragment
