#!/usr/bin/env bash
# Install the Debian packages SyncPlanet and its tests use, when they are missing:
# rsync + OpenSSH (transfers, test sites), Prometheus + promtool (metrics tests),
# Chromium (web page tests). Needs root (or sudo); prints what is missing otherwise.
set -euo pipefail
declare -A want=(
  [rsync]=/usr/bin/rsync
  [openssh-server]=/usr/sbin/sshd
  [openssh-client]=/usr/bin/ssh
  [prometheus]=/usr/bin/promtool
  [chromium]=/usr/bin/chromium
)
missing=()
for pkg in "${!want[@]}"; do
  [ -x "${want[$pkg]}" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo=sudo; else
    echo "error: run as root or install: ${missing[*]}" >&2; exit 1
  fi
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
