#!/usr/bin/env bash
# The release build: static tandem binaries (no cgo: SQLite is pure Go) for Linux, macOS and
# Windows on amd64 and arm64, each in an archive with README.md and LICENSE, and SHA256SUMS.
# The version and the commit are stamped in the binary (tandem version prints them); the time
# zone database and Mozilla's CA roots are compiled in (cmd/tandem/main.go), so a binary needs
# nothing on the machine, not even in a FROM scratch container (see Dockerfile).
#
#   scripts/release.sh VERSION [GOOS/GOARCH...]     e.g. scripts/release.sh v1.0.0
#
# Targets default to the six below. OUT sets the folder (default dist/VERSION); COMMIT the
# commit stamped (default: git rev-parse HEAD, with -dirty when the work tree has changes).
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:?usage: scripts/release.sh VERSION [GOOS/GOARCH...]}
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64)
fi
commit=${COMMIT:-}
if [ -z "$commit" ]; then
  commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
  if [ "$commit" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    commit="$commit-dirty"
  fi
fi
out=${OUT:-dist/$version}
mkdir -p "$out"
ldflags="-s -w -X main.Version=$version -X main.Commit=$commit"

for target in "${targets[@]}"; do
  os=${target%/*}
  arch=${target#*/}
  name="tandem_${version}_${os}_${arch}"
  exe=tandem
  if [ "$os" = windows ]; then exe=tandem.exe; fi
  rm -rf "${out:?}/$name"
  mkdir -p "$out/$name"
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$out/$name/$exe" ./cmd/tandem
  cp README.md LICENSE "$out/$name/"
  if [ "$os" = windows ]; then
    (cd "$out" && rm -f "$name.zip" && zip -qr "$name.zip" "$name")
  else
    (cd "$out" && tar -czf "$name.tar.gz" "$name")
  fi
  echo "built $out/$name/$exe"
done

(
  cd "$out"
  sums=$(ls tandem_*.tar.gz tandem_*.zip 2>/dev/null || true)
  if command -v sha256sum >/dev/null; then sha256sum $sums; else shasum -a 256 $sums; fi
) > "$out/SHA256SUMS.tmp"
mv "$out/SHA256SUMS.tmp" "$out/SHA256SUMS"
echo "checksums in $out/SHA256SUMS"
