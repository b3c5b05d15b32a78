#!/usr/bin/env bash
# Installs the Debian packages Kiln's tests drive for real, when they are missing:
# the AWS CLI (pointed at the local cloud) and Chromium (the dashboard's browser test, driven
# headless by playwright-core). Runs before `npm test`.
set -euo pipefail

missing=()
[ -x /usr/bin/aws ] || missing+=(awscli)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "Kiln's tests need these Debian packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing test tools: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
