#!/usr/bin/env bash
# Headless Chromium for the browser checks (tests/test_predict_report.py, tests/test_browser.py, tools/docs_check.py): installed from Debian's packages
# when missing and this user may (root with apt-get). Otherwise the browser test skips and says why.
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser check ..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) >/dev/null 2>&1 \
    || echo "could not install chromium; the browser check will be skipped"
else
  echo "chromium is not installed and apt-get is not usable here; the browser check will be skipped"
fi
exit 0
