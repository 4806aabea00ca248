#!/usr/bin/env bash
# Set up everything logflow-reconcile needs on a fresh Debian/Ubuntu machine:
# the Debian servers the tests talk to (when run as root or with sudo), and a virtualenv
# in .venv with the package and its test extras (including the local Elasticsearch-
# compatible server, noida-db, and moto's server). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(prometheus-alertmanager prometheus-pushgateway chromium)
missing=()
for pkg in "${DEBS[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing Debian packages: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The packages start system services; the tests start their own on free ports.
  for svc in "${missing[@]}"; do
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || $SUDO service "$svc" stop >/dev/null 2>&1 || true
  done
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test,bench]'
echo "ready: .venv/bin/reconcile --help" >&2
