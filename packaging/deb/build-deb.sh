#!/usr/bin/env bash
# Builds the weijian Debian package from this source tree:
#
#   packaging/deb/build-deb.sh                                      # for this machine
#   packaging/deb/build-deb.sh --target aarch64-unknown-linux-gnu   # for ARM64 (docs/packaging.md)
#
# The binary is the production build (no demo, simulator or benchmarks) with the `dist` profile
# (release, symbols stripped). The package lands in $CARGO_TARGET_DIR/deb (default target/deb);
# its path is the last line printed. Needs cargo, dpkg-deb and, for --target, the cross linker.
set -euo pipefail
cd "$(dirname "$0")/../.."

target=""
if [ "${1:-}" = "--target" ]; then
  target="${2:?--target needs a target triple}"
elif [ $# -gt 0 ]; then
  echo "usage: $0 [--target TRIPLE]" >&2
  exit 64
fi

case "${target:-native}" in
  native) arch="$(dpkg --print-architecture)" ;;
  x86_64-unknown-linux-gnu) arch=amd64 ;;
  aarch64-unknown-linux-gnu) arch=arm64 ;;
  *) echo "no Debian architecture known for target $target" >&2; exit 64 ;;
esac

target_dir="${CARGO_TARGET_DIR:-target}"
echo "== building the production binary (profile dist${target:+, target $target})"
cargo build --locked --profile dist -p weijian --no-default-features ${target:+--target "$target"}
binary="$target_dir/${target:+$target/}dist/weijian"

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
root="$stage/weijian_${version}_${arch}"

install -D -m 0755 "$binary" "$root/usr/bin/weijian"
# Configuration (conffiles: dpkg keeps the operator's edits on upgrade).
install -D -m 0640 packaging/etc/weijian.toml "$root/etc/weijian/weijian.toml"
install -D -m 0640 packaging/etc/weijian.env "$root/etc/weijian/weijian.env"
install -D -m 0640 packaging/etc/sites.jsonl "$root/etc/weijian/sites.jsonl"
install -D -m 0640 packaging/etc/devices.jsonl "$root/etc/weijian/devices.jsonl"
install -D -m 0640 config/rules/default.toml "$root/etc/weijian/rules/default.toml"
install -D -m 0640 config/supervisors.example.toml "$root/etc/weijian/supervisors.example.toml"
install -D -m 0644 packaging/systemd/weijian.service "$root/lib/systemd/system/weijian.service"
# Documentation and the broker's configuration.
doc="$root/usr/share/doc/weijian"
install -D -m 0644 README.md "$doc/README.md"
for f in docs/*.md; do install -D -m 0644 "$f" "$doc/$(basename "$f")"; done
install -D -m 0644 config/weijian.example.toml "$doc/examples/weijian.example.toml"
install -D -m 0644 config/mosquitto.conf "$doc/examples/mosquitto.conf"
install -D -m 0644 config/mosquitto.acl "$doc/examples/mosquitto.acl"
printf 'weijian\n\nLicense: Apache-2.0\n' > "$doc/copyright"

mkdir -p "$root/DEBIAN"
install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$root/DEBIAN/"
(cd "$root" && find etc -type f | sed 's|^|/|' | sort) > "$root/DEBIAN/conffiles"
installed_kib="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
cat > "$root/DEBIAN/control" <<CONTROL
Package: weijian
Version: $version
Architecture: $arch
Maintainer: weijian developers <weijian@localhost>
Section: net
Priority: optional
Installed-Size: $installed_kib
Depends: libc6 (>= 2.31), adduser
Recommends: mosquitto
Suggests: mosquitto-clients
Homepage: https://github.com/weijian/weijian
Description: online monitoring and risk-graded alerts for health supervision (卫监)
 weijian takes readings from gateways at drinking-water plants, medical-waste stores and
 dental steam sterilizers over MQTT (JSON or HJ 212), makes every accepted message durable
 before acknowledging it, stores everything in QuestDB and raises risk-graded alerts to the
 supervisors of each site's grid cell, escalating when nobody acknowledges.
CONTROL

out="$target_dir/deb"
mkdir -p "$out"
deb="$out/weijian_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "binary: $(stat -c %s "$binary") bytes ($(du -h "$binary" | cut -f1)), stripped"
echo "package: $(stat -c %s "$deb") bytes ($(du -h "$deb" | cut -f1))"
echo "$deb"
