#!/bin/bash
set -euo pipefail
P=/app/pkgsrc/netprobe
cat > "$P/DEBIAN/control" <<'CTL'
Package: netprobe
Version: 1.3.0-1
Architecture: all
Maintainer: Ops Team <ops@example.com>
Depends: bash
Section: net
Priority: optional
Description: probe TCP services on the local network
 Checks which of the TCP ports listed in /etc/netprobe.conf answer on a host.
CTL
echo /etc/netprobe.conf > "$P/DEBIAN/conffiles"
chmod 0755 "$P/DEBIAN/postinst" "$P/usr/bin/netprobe"
chmod 0644 "$P/DEBIAN/control" "$P/DEBIAN/conffiles" "$P/etc/netprobe.conf" "$P/usr/share/doc/netprobe/copyright"
mkdir -p /app/dist
dpkg-deb --root-owner-group --build "$P" /app/dist/netprobe_1.3.0-1_all.deb
dpkg -i /app/dist/netprobe_1.3.0-1_all.deb
netprobe --version
