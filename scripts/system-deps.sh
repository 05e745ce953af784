#!/usr/bin/env bash
# Installs the system tools the tests use when they are missing. The tests never skip for a
# missing tool: they fail with a clear message, so this is where a fresh machine gets them.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# The Redis Cluster tests join their nodes with redis-cli --cluster create (Debian's redis-tools).
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
# The playground's browser tests drive Debian's Chromium (Playwright never downloads one),
# and the Node example clients need node (18 or newer, for fetch) and npm (for the
# eventsource package that examples/node/eventsource.mjs uses); tests/langgraph_js needs
# node 20 or newer (the LangGraph SDK's p-queue and p-retry ask for it).
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    echo "system-deps: missing ${need[*]}; install them with your package manager" >&2
    exit 1
  fi
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "system-deps: installing ${need[*]} from Debian's packages"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The Node examples' packages, exactly as examples/node/package-lock.json pins them (versions
# and integrity hashes; the lock names no registry, so npm uses the one it is configured for).
# Only when the lock changed since the last install, so an installed machine needs no network.
node_examples=examples/node
if [ ! -f "$node_examples/node_modules/.package-lock.json" ] ||
  [ "$node_examples/package-lock.json" -nt "$node_examples/node_modules/.package-lock.json" ]; then
  echo "system-deps: npm ci in $node_examples"
  npm ci --prefix "$node_examples" --no-audit --no-fund --loglevel=error
fi

# The LangGraph JavaScript SDK tests' packages (@langchain/langgraph-sdk, react, react-dom,
# esbuild), as tests/langgraph_js/package-lock.json pins them; the same rule as above.
langgraph_js=tests/langgraph_js
if [ ! -f "$langgraph_js/node_modules/.package-lock.json" ] ||
  [ "$langgraph_js/package-lock.json" -nt "$langgraph_js/node_modules/.package-lock.json" ]; then
  echo "system-deps: npm ci in $langgraph_js"
  npm ci --prefix "$langgraph_js" --no-audit --no-fund --loglevel=error
fi

# The front-end protocols' clients (ai 6 and 7 under the aliases ai6 and ai7, @ag-ui/client), as
# tests/frontends/package-lock.json pins them; the same rule as above.
frontends=tests/frontends
if [ ! -f "$frontends/node_modules/.package-lock.json" ] ||
  [ "$frontends/package-lock.json" -nt "$frontends/node_modules/.package-lock.json" ]; then
  echo "system-deps: npm ci in $frontends"
  npm ci --prefix "$frontends" --no-audit --no-fund --loglevel=error
fi
