#!/usr/bin/env bash
# install-deps.sh PKG... — make sure the named Debian packages are installed.
# Packages of the form name:s390x make the s390x architecture known first.
# Installs nothing when every package is already there; otherwise runs
# apt-get update once, then apt-get install. Needs root for the install step.
set -euo pipefail
missing=()
need_s390x=0
for p in "$@"; do
  case "$p" in *:s390x) need_s390x=1 ;; esac
  if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing Debian packages: ${missing[*]}" >&2
  echo "install-deps: run this as root (sudo make ...) or install them with apt-get" >&2
  exit 1
fi
if [ $need_s390x -eq 1 ] && ! dpkg --print-foreign-architectures | grep -qx s390x; then
  dpkg --add-architecture s390x
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
