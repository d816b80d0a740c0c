"""How the browser tests and the browser benchmarks start Debian's Chromium (never a downloaded
one) and tell that the app has finished a run."""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
APP_READY = "[data-testid='stApp'][data-test-script-state='notRunning']"
