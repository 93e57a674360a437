#!/usr/bin/env bash
# DNA da Força AI on one host with Docker Compose (or docker-compose, or podman-compose).
#
#   scripts/deploy.sh deploy [--scale N] [--no-build]
#                                          build and start (N replicas of each server behind HAProxy)
#   scripts/deploy.sh status               containers and their health, then the servers' /health
#   scripts/deploy.sh logs rag|api|worker|redis|proxy [-f]
#   scripts/deploy.sh stop | restart
#   scripts/deploy.sh backup [FILE]         the database, materials and index in one archive (default backups/)
#
# COMPOSE="podman-compose" (or "docker compose", "docker-compose") picks the tool; otherwise the first that
# works here is used. The first deploy writes .env from env.example with random secrets.
set -euo pipefail

cd "$(dirname "$0")/.."

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

find_compose() {
  if [ -n "${COMPOSE:-}" ]; then
    read -r -a COMPOSE_CMD <<<"$COMPOSE"
    return
  fi
  # A docker client without a running engine answers `version` but cannot run anything: ask the engine.
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    if docker compose version >/dev/null 2>&1; then
      COMPOSE_CMD=(docker compose)
      return
    fi
    if command -v docker-compose >/dev/null 2>&1; then
      COMPOSE_CMD=(docker-compose)
      return
    fi
  fi
  if command -v podman-compose >/dev/null 2>&1; then
    COMPOSE_CMD=(podman-compose)
    return
  fi
  echo "No compose tool found: install Docker with its compose plugin (https://docs.docker.com/compose/install/)," >&2
  echo "docker-compose, or podman with podman-compose (pip install podman-compose)." >&2
  exit 1
}

random_secret() {
  if command -v openssl >/dev/null 2>&1; then
    openssl rand -base64 48 | tr -d '\n/+=' | cut -c1-48
  else
    python3 -c 'import secrets; print(secrets.token_urlsafe(36))'
  fi
}

# .env from env.example on the first deploy; every secret the compose file requires, generated when unset.
ensure_env() {
  if [ ! -f .env ]; then
    cp env.example .env
    chmod 600 .env
    echo "Wrote .env from env.example"
  fi
  local name
  for name in JWT_SECRET_KEY RAG_SERVICE_TOKEN REDIS_PASSWORD; do
    if ! grep -Eq "^${name}=.+" .env; then
      printf '%s=%s\n' "$name" "$(random_secret)" >>.env
      echo "Generated $name in .env"
    fi
  done
}

# The compose files and profiles in use: a scaled deployment (remembered in .deploy-scale) leaves out the
# override that publishes the servers' own ports. COMPOSE_FILES adds more files (e.g. a test's override).
compose() {
  local files=(-f docker-compose.yml)
  if [ -f .deploy-scale ]; then
    files+=(-f compose.scale.yml)
  else
    files+=(-f docker-compose.override.yml)
  fi
  local extra
  for extra in ${COMPOSE_FILES:-}; do
    files+=(-f "$extra")
  done
  if [ -f .deploy-scale ]; then
    files+=(--profile scale)
    REPLICAS=$(cat .deploy-scale)  # compose.scale.yml reads it
    export REPLICAS
  fi
  "${COMPOSE_CMD[@]}" "${files[@]}" "$@"
}

service_of() {
  case "$1" in
    rag) echo rag-server ;;
    api) echo api-server ;;
    worker | redis | proxy | migrate) echo "$1" ;;
    *) echo "unknown service '$1' (rag, api, worker, redis, proxy)" >&2; exit 2 ;;
  esac
}

health() {
  local name=$1 url=$2 answered
  if command -v curl >/dev/null 2>&1; then
    curl --fail --silent --output /dev/null --max-time 5 "$url" && answered=yes || answered=no
  else
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "$url" 2>/dev/null \
      && answered=yes || answered=no
  fi
  if [ "$answered" = yes ]; then
    echo "$name: healthy ($url)"
  else
    echo "$name: NOT answering ($url)"
    return 1
  fi
}

deploy() {
  local replicas=1 build=(--build)
  while [ $# -gt 0 ]; do
    case "$1" in
      --scale) replicas=${2:?--scale needs a number}; shift 2 ;;
      --no-build) build=(); shift ;;  # images built elsewhere (a registry, a CI job)
      *) usage ;;
    esac
  done
  ensure_env
  local was_scaled=false
  [ -f .deploy-scale ] && was_scaled=true
  if { [ "$replicas" -gt 1 ] && [ "$was_scaled" = false ]; } || { [ "$replicas" -le 1 ] && [ "$was_scaled" = true ]; }; then
    compose down  # the published ports change: the containers are recreated (volumes stay)
  fi
  if [ "$replicas" -gt 1 ]; then
    echo "$replicas" >.deploy-scale
    compose up -d "${build[@]}"
  else
    rm -f .deploy-scale
    compose up -d "${build[@]}"
  fi
  wait_healthy
  status
}

# Until both servers answer their /health (the RAG server loads its models first), at most DEPLOY_WAIT seconds.
wait_healthy() {
  local deadline=$((SECONDS + ${DEPLOY_WAIT:-300}))
  until status >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "The servers did not become healthy in ${DEPLOY_WAIT:-300} s; see: scripts/deploy.sh logs rag|api" >&2
      return 1
    fi
    sleep 3
  done
}

# A port from the environment, else from .env (where Compose reads it), else its default.
port() {
  local name=$1 line
  line=$(grep -E "^${name}=" .env 2>/dev/null | tail -n 1 || true)
  line=${line#*=}
  line=${line%%#*}
  line=${line//[[:space:]]/}
  echo "${!name:-${line:-$2}}"
}

status() {
  compose ps
  local failed=0
  if [ -f .deploy-scale ]; then
    health "API server (via proxy)" "http://127.0.0.1:$(port PROXY_API_PORT 8080)/health" || failed=1
    health "RAG server (via proxy)" "http://127.0.0.1:$(port PROXY_RAG_PORT 8081)/health" || failed=1
  else
    health "API server" "http://127.0.0.1:$(port API_PUBLISHED_PORT 8000)/health" || failed=1
    health "RAG server" "http://127.0.0.1:$(port RAG_PUBLISHED_PORT 8001)/health" || failed=1
  fi
  return "$failed"
}

backup() {
  local file=${1:-backups/dnaforca-backup-$(date -u +%Y%m%d-%H%M%S).tar.gz}
  mkdir -p "$(dirname "$file")"
  compose exec -T api-server python -m servers.cli backup - >"$file.partial"
  mv "$file.partial" "$file"
  echo "Backup written to $file ($(wc -c <"$file") bytes)"
}

[ $# -ge 1 ] || usage
find_compose
command=$1
shift
case "$command" in
  deploy) deploy "$@" ;;
  status) status ;;
  logs)
    [ $# -ge 1 ] || usage
    service=$(service_of "$1")
    shift
    compose logs "$@" "$service"
    ;;
  stop) compose stop ;;
  restart) compose restart ;;
  backup) backup "$@" ;;
  *) usage ;;
esac
