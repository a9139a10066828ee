#!/usr/bin/env bash
# Packs the library, checks the tarball's contents, installs it into a scratch project and loads it (and its
# nestjs-yosai/testing entry) once with require() and once with import, each booting a tiny Nest app. Peers
# come from this checkout's node_modules (linked, so whatever Nest major is installed there is the one checked).
# Prints "pack-check: <name> ok|FAILED" lines; exits non-zero when any check failed.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=0
cd "$root"
tarball=$(npm pack --silent --pack-destination "$scratch" | tail -n 1)

# 1. Contents: dist/, README.md, LICENSE, package.json and nothing else.
unexpected=$(tar -tzf "$scratch/$tarball" | sed 's#^package/##' | grep -v -E '^(dist/.*|README\.md|LICENSE|package\.json)$' || true)
for required in package.json README.md LICENSE dist/esm/index.js dist/esm/index.d.ts dist/cjs/index.js dist/cjs/index.d.ts dist/cjs/package.json \
  dist/esm/testing/index.js dist/esm/testing/index.d.ts dist/cjs/testing/index.js dist/cjs/testing/index.d.ts; do
  tar -tzf "$scratch/$tarball" | grep -qx "package/$required" || unexpected="$unexpected missing:$required"
done
if [ -z "$unexpected" ]; then echo "pack-check: tarball contents ok"; else echo "pack-check: tarball contents FAILED: $unexpected"; failed=$((failed+1)); fi

# 2. A scratch consumer: peers linked from our node_modules, the package itself from the tarball.
mkdir -p "$scratch/app/node_modules"
for entry in "$root"/node_modules/* "$root"/node_modules/@*/*; do
  [ -e "$entry" ] || continue
  case "$entry" in "$root"/node_modules/@*) ;; *) [ -d "$entry" ] || continue ;; esac
  rel=${entry#"$root"/node_modules/}
  case "$rel" in @*) [ "${rel#*/}" = "$rel" ] && continue ;; esac
  [ "$rel" = "nestjs-yosai" ] && continue
  mkdir -p "$scratch/app/node_modules/$(dirname "$rel")"
  ln -s "$entry" "$scratch/app/node_modules/$rel"
done
mkdir -p "$scratch/app/node_modules/nestjs-yosai"
tar -xzf "$scratch/$tarball" -C "$scratch/app/node_modules/nestjs-yosai" --strip-components=1
printf '{ "name": "consumer", "private": true }\n' > "$scratch/app/package.json"
cp scripts/pack-check/consumer.cjs scripts/pack-check/consumer.mjs "$scratch/app/"
for kind in cjs mjs; do
  if (cd "$scratch/app" && node --disable-warning=ExperimentalWarning "consumer.$kind"); then
    echo "pack-check: $kind consumer ok"
  else
    echo "pack-check: $kind consumer FAILED"; failed=$((failed+1))
  fi
done
exit $failed
