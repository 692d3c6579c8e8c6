#!/bin/sh
# Downloads one release file and refuses it unless three things agree: the SHA-256 pinned in the
# Dockerfile, the vendor's checksum file for that release, and (where the vendor signs that file)
# a signature made by the vendor's key, named by its full fingerprint.
#
#   fetch-verified.sh --url URL --out FILE --sha256 HEX --sums URL --name NAME \
#                     [--sig URL --key URL --fingerprint HEX40]
#
#   --name         the file's name as it appears in the checksum file
#   --fingerprint  the signing key's published fingerprint (primary key or signing subkey)
#
# Exits non-zero, with one line saying what disagreed, on any mismatch.
set -eu

url='' out='' sha256='' sums='' name='' sig='' key='' fingerprint=''
while [ $# -gt 0 ]; do
  case "$1" in
    --url) url="$2" ;;
    --out) out="$2" ;;
    --sha256) sha256="$2" ;;
    --sums) sums="$2" ;;
    --name) name="$2" ;;
    --sig) sig="$2" ;;
    --key) key="$2" ;;
    --fingerprint) fingerprint="$2" ;;
    *) echo "fetch-verified: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done

die() { echo "fetch-verified: $name: $*" >&2; exit 1; }

[ -n "$url" ] && [ -n "$out" ] && [ -n "$sums" ] && [ -n "$name" ] || die "--url, --out, --sums and --name are required"
echo "$sha256" | grep -Eqx '[0-9a-f]{64}' || die "--sha256 must be 64 lowercase hex digits, got '$sha256'"
if [ -n "$sig$key$fingerprint" ]; then
  [ -n "$sig" ] && [ -n "$key" ] && [ -n "$fingerprint" ] || die "--sig, --key and --fingerprint go together"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

curl -fsSLo "$work/SHA256SUMS" "$sums" || die "cannot download the checksum file $sums"

if [ -n "$sig" ]; then
  fpr="$(echo "$fingerprint" | tr -d ' ' | tr 'a-f' 'A-F')"
  echo "$fpr" | grep -Eqx '[0-9A-F]{40}' || die "--fingerprint must be 40 hex digits, got '$fingerprint'"
  curl -fsSLo "$work/key.asc" "$key" || die "cannot download the signing key $key"
  curl -fsSLo "$work/SHA256SUMS.sig" "$sig" || die "cannot download the signature $sig"
  export GNUPGHOME="$work/gnupg"
  mkdir -m 0700 "$GNUPGHOME"
  gpg --batch --quiet --import "$work/key.asc" 2>/dev/null || die "the signing key at $key is not an OpenPGP key"
  # VALIDSIG <signing key fpr> ... <primary key fpr>: a good signature, and by which key. A key
  # file that holds other keys cannot pass: the signer must be the pinned fingerprint.
  status="$(gpg --batch --status-fd 1 --verify "$work/SHA256SUMS.sig" "$work/SHA256SUMS" 2>/dev/null || true)"
  line="$(echo "$status" | grep '^\[GNUPG:\] VALIDSIG ' | head -n 1)"
  [ -n "$line" ] || die "the checksum file's signature does not verify against the key at $key"
  signer="$(echo "$line" | awk '{print $3}')"
  primary="$(echo "$line" | awk '{print $NF}')"
  [ "$signer" = "$fpr" ] || [ "$primary" = "$fpr" ] || die "the checksum file is signed by $primary, not by the pinned key $fpr"
fi

listed="$(awk -v n="$name" '$2 == n || $2 == "*" n { print $1 }' "$work/SHA256SUMS")"
[ -n "$listed" ] || die "not listed in the vendor's checksum file"
[ "$(echo "$listed" | wc -l)" -eq 1 ] || die "listed more than once in the vendor's checksum file"
[ "$listed" = "$sha256" ] || die "the pinned SHA-256 $sha256 differs from the vendor's $listed"

curl -fsSLo "$out" "$url" || die "cannot download $url"
echo "$sha256  $out" | sha256sum -c - >/dev/null 2>&1 || die "the download's SHA-256 is $(sha256sum "$out" | cut -d' ' -f1), expected $sha256"
echo "fetch-verified: $name matches the pinned SHA-256 and the vendor's checksum file${sig:+ (signature by $fpr)}"
