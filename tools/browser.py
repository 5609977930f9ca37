"""Headless Chromium for the browser checks (tests/test_browser.py, tests/test_deploy.py, tools/docs_check.py).

Playwright drives Debian's `chromium` (`tools/ensure_chromium.sh` installs it); Playwright's own browser download is
never used. `why_not()` says why the checks cannot run here (no chromium, no playwright), so tests skip with a reason."""
import os, shutil, socket, time, urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ.get('SX_SCREENSHOTS') or ROOT / '_screenshots')   # `make screenshots` points it at nbs/images

def chromium():
    "Path of a Chromium executable ($CHROMIUM, or chromium / chromium-browser / google-chrome on PATH), or None."
    for name in [os.environ.get('CHROMIUM'), 'chromium', 'chromium-browser', 'google-chrome']:
        if name and (p := shutil.which(name)): return p
    return None

def why_not():
    "None when the browser checks can run, else the reason they cannot."
    if not chromium(): return 'no Chromium on PATH (Debian: apt-get install chromium; `make test` tries tools/ensure_chromium.sh)'
    try: import playwright.sync_api  # noqa: F401
    except ImportError: return 'the playwright package is not installed (pip install -e ".[dev]")'
    return None

@contextmanager
def browser():
    "A headless Chromium (Debian's executable) driven by Playwright; closed on exit."
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), headless=True,
                              args=['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'])
        try: yield b
        finally: b.close()

def shot(page, name):
    "Save a screenshot of `page` as SHOTS/name (PNG); returns its path."
    SHOTS.mkdir(parents=True, exist_ok=True)
    p = SHOTS / name; page.screenshot(path=str(p)); return p

def page_load(url, text, screenshot=None, timeout=60):
    "Open `url` in Chromium and wait until `text` shows on the page; True if it did. Saves a screenshot when asked."
    with browser() as b:
        page = b.new_page(viewport={'width': 1280, 'height': 800})
        page.goto(url, wait_until='domcontentloaded', timeout=timeout * 1000)
        try: page.get_by_text(text, exact=False).first.wait_for(state='visible', timeout=timeout * 1000); ok = True
        except Exception: ok = False
        if screenshot: Path(screenshot).parent.mkdir(parents=True, exist_ok=True); page.screenshot(path=str(screenshot))
        return ok

def free_port():
    "A free TCP port on 127.0.0.1."
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def wait_http(url, timeout, proc=None):
    "True once `url` answers 200 within `timeout` seconds; False if it never does or `proc` exits first."
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None: return False
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200: return True
        except Exception: pass
        time.sleep(0.5)
    return False
