#!/usr/bin/env bash
# `make run`: install what answering needs, index the sample materials and serve both servers, saying what it does
# at each step. The bundled chat model (llama.cpp, built from source: ~5 min on 2 cores) is prepared in the
# background meanwhile: the servers answer with the extractive answerer until it is ready, then switch to it.
# A second run finds everything in place and serves in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
VENV=.venv
BIN=$VENV/bin
LOGS=${DATA_DIR:-data}/logs
STAMP=$VENV/.installed-run
started=$SECONDS
started_epoch=$(date +%s)
mkdir -p "$LOGS"

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m' clear_line=$'\r\033[K'; else bold='' plain='' clear_line=''; fi
step() { printf '\n%s[%s/5] %s%s\n' "$bold" "$1" "$2" "$plain"; }
elapsed() { echo "$((SECONDS - started)) s"; }

# pip's output into a log; on the terminal one line that counts the packages (a line per 20 without a terminal).
pip_with_progress() {
  local log=$1 count=0 line
  shift
  echo "\$ pip $*" >"$log"
  set +e
  "$BIN/pip" "$@" --progress-bar off 2>&1 | while IFS= read -r line; do
    echo "$line" >>"$log"
    case $line in
      Collecting*)
        count=$((count + 1))
        if [ -n "$clear_line" ]; then
          printf '%s      %3d packages resolved (%s)' "$clear_line" "$count" "${line#Collecting }"
        elif [ $((count % 20)) -eq 0 ]; then
          echo "      $count packages resolved"
        fi ;;
      "Installing collected packages"*) printf '%s      installing %d packages…' "$clear_line" "$count"
        [ -n "$clear_line" ] || echo ;;
    esac
  done
  local code=${PIPESTATUS[0]}
  set -e
  printf '%s' "$clear_line"
  if [ "$code" -ne 0 ]; then
    echo "      pip failed (status $code); the last lines of $log:" >&2
    tail -n 15 "$log" >&2
    exit "$code"
  fi
}

step 1 "Python environment ($VENV)"
if [ -x "$BIN/python" ]; then
  echo "      in place"
else
  "$PYTHON" -m venv "$VENV"
  pip_with_progress "$LOGS/install.log" install --quiet --upgrade pip==26.3
  echo "      created ($(elapsed))"
fi

step 2 "The product's packages and the embedding model (about 2 minutes the first time)"
newest() { for stamp in "$@"; do [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && [ "$stamp" -nt requirements.lock ] && return 0; done; return 1; }
if newest "$STAMP" "$VENV/.installed"; then
  echo "      in place"
else
  pip_with_progress "$LOGS/install.log" install -c requirements.lock -e ".[server,transcription]"
  touch "$STAMP"
  echo "      installed ($(elapsed)); pip's log: $LOGS/install.log"
fi

step 3 "The local chat model, prepared in the background"
# At low priority, so that the compiler does not slow indexing and the first answers.
"$BIN/dnaforca" prepare-model --background

step 4 "Indexing the sample materials (examples/materials)"
"$BIN/dnaforca" ingest --if-changed examples/materials
echo "      done ($(elapsed) since make run)"

step 5 "Starting the servers"
# The RAG server starts while the API server's schema is brought up to date.
"$BIN/dnaforca" serve &
rag=$!
trap 'kill $rag 2>/dev/null' EXIT INT TERM
"$BIN/dnaforca" ready --since "$started_epoch" &
"$BIN/dnaforca" migrate >/dev/null
"$BIN/dnaforca" api
