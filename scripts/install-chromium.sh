#!/usr/bin/env bash
# Installs Debian's chromium (and a basic font) for the web UI's browser
# test (master/ui), unless it is already there. .ci/run calls it; it needs
# root, as CI and the developers' machines have.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends chromium fonts-dejavu-core
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo installed)"
