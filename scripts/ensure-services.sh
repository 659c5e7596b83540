#!/usr/bin/env bash
# Makes sure the Postgres at DATABASE_URL and the Redis at REDIS_URL answer.
# When one is down and points at this machine, starts the locally installed server; with
# --install (CI, as root) installs it from Debian's packages first. Otherwise says what to install.
set -euo pipefail

install=0
[ "${1:-}" = "--install" ] && install=1

database_url=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/inferq}
redis_url=${REDIS_URL:-redis://127.0.0.1:6379}

# host and port of a URL like scheme://[user[:pass]@]host[:port][/path]
host_of() { local rest=${1#*://}; rest=${rest##*@}; rest=${rest%%/*}; echo "${rest%%:*}"; }
port_of() { local rest=${1#*://}; rest=${rest##*@}; rest=${rest%%/*}; [[ $rest == *:* ]] && echo "${rest##*:}" || echo "$2"; }

pg_host=$(host_of "$database_url"); pg_port=$(port_of "$database_url" 5432)
redis_host=$(host_of "$redis_url"); redis_port=$(port_of "$redis_url" 6379)

is_local() { [[ $1 == 127.0.0.1 || $1 == localhost || $1 == ::1 ]]; }
answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
wait_for() {
  for _ in $(seq 1 60); do answers "$1" "$2" && return 0; sleep 0.5; done
  return 1
}

apt_install() {
  if [ "$install" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "ensure-services: installing $* from Debian's packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
}

start_postgres() {
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  if ! command -v pg_ctlcluster >/dev/null; then
    echo "ensure-services: Postgres is not answering at $pg_host:$pg_port and is not installed." >&2
    echo "  Install it (Debian/Ubuntu: sudo apt-get install postgresql; macOS: brew install postgresql@16)," >&2
    echo "  or run one in Docker: docker compose up -d postgres; or set DATABASE_URL to a server you have." >&2
    exit 1
  fi
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -n "$version" ] || { echo "ensure-services: no Postgres cluster found under /etc/postgresql" >&2; exit 1; }
  echo "ensure-services: starting Postgres $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
}

start_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  if ! command -v redis-server >/dev/null; then
    echo "ensure-services: Redis is not answering at $redis_host:$redis_port and is not installed." >&2
    echo "  Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)," >&2
    echo "  or run one in Docker: docker compose up -d redis; or set REDIS_URL to a server you have." >&2
    exit 1
  fi
  # inferq relies on Redis never evicting queue entries; AOF keeps them across a restart.
  local dir=${INFERQ_REDIS_DIR:-$PWD/.inferq/redis}
  mkdir -p "$dir"
  echo "ensure-services: starting Redis on port $redis_port (data in $dir)"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --dir "$dir" \
    --appendonly yes --appendfsync everysec --save "" --maxmemory-policy noeviction \
    --logfile "$dir/redis.log"
}

if ! answers "$pg_host" "$pg_port"; then
  is_local "$pg_host" || { echo "ensure-services: Postgres at $pg_host:$pg_port does not answer" >&2; exit 1; }
  start_postgres
  wait_for "$pg_host" "$pg_port" || { echo "ensure-services: Postgres did not come up on $pg_host:$pg_port" >&2; exit 1; }
fi

if ! answers "$redis_host" "$redis_port"; then
  is_local "$redis_host" || { echo "ensure-services: Redis at $redis_host:$redis_port does not answer" >&2; exit 1; }
  start_redis
  wait_for "$redis_host" "$redis_port" || { echo "ensure-services: Redis did not come up on $redis_host:$redis_port" >&2; exit 1; }
fi

echo "ensure-services: Postgres at $pg_host:$pg_port and Redis at $redis_host:$redis_port are up"
