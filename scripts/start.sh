#!/usr/bin/env bash
# `npm start`: dependencies, services, migrations, then the API and one worker with the embedded model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
bash scripts/ensure-services.sh
exec node --import tsx scripts/dev-stack.ts
