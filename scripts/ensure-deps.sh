#!/usr/bin/env bash
# Installs the npm dependencies when they are missing or older than the lockfile.
# `npm install` rather than `npm ci`: npm 11 leaves other platforms' optional packages out of a
# lockfile written on Linux and `npm ci` then refuses it as out of sync (npm/cli#8320); `npm
# install` installs the locked versions all the same.
set -euo pipefail
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "inferq: installing dependencies (npm install)"
  npm install --no-audit --no-fund
fi
