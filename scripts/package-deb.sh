#!/usr/bin/env bash
# package-deb.sh BIN VERSION OUTDIR: builds OUTDIR/loopat_<version>_<arch>.deb from the
# desktop binary BIN (normally build/bin/loopat from `make build`) and prints its path.
#
# The package holds /usr/bin/loopat (and its window-less twin /usr/lib/loopat/loopat-headless
# when it is beside BIN), the application-menu entry
# /usr/share/applications/loopat.desktop and the icon in hicolor sizes rendered from
# build/appicon.png (needs ImageMagick's `convert`). Debian's desktop-file-utils and
# hicolor-icon-theme triggers refresh the menu and icon caches, so there are no
# maintainer scripts. Environment: DEB_ARCH (default: dpkg --print-architecture),
# DEB_MAINTAINER.
set -euo pipefail
if [[ $# -ne 3 ]]; then
	echo "usage: $0 BIN VERSION OUTDIR" >&2
	exit 2
fi
bin=$1 version=$2 outdir=$3
root_dir=$(cd "$(dirname "$0")/.." && pwd)
[[ -f $bin && -x $bin ]] || { echo "package-deb: $bin is not an executable (run make build)" >&2; exit 1; }
for tool in dpkg-deb convert; do
	command -v "$tool" >/dev/null || { echo "package-deb: $tool is missing (apt install dpkg-dev imagemagick)" >&2; exit 1; }
done

# Debian versions must start with a digit and use [A-Za-z0-9.+~-]; a git describe such
# as v0.1.3-4-gabc123-dirty becomes 0.1.3+4.gabc123.dirty, a bare hash 0~gabc123.
deb_version=${version#v}
deb_version=$(printf '%s' "$deb_version" | sed -e 's/-/+/' -e 's/-/./g' -e 's/[^A-Za-z0-9.+~]/./g')
[[ $deb_version =~ ^[0-9] ]] || deb_version="0~$deb_version"
arch=${DEB_ARCH:-$(dpkg --print-architecture)}
maintainer=${DEB_MAINTAINER:-loopat desktop maintainers <maintainers@loopat.invalid>}

stage=$(mktemp -d "${TMPDIR:-/tmp}/loopat-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
chmod 755 "$stage"
umask 022
install -Dm755 "$bin" "$stage/usr/bin/loopat"
# The window-less twin the desktop binary execs for CLI commands (backend/headless).
twin="$(dirname "$bin")/loopat-headless"
if [[ -x $twin ]]; then
	install -Dm755 "$twin" "$stage/usr/lib/loopat/loopat-headless"
fi
install -Dm644 "$root_dir/build/linux/loopat.desktop" "$stage/usr/share/applications/loopat.desktop"
for size in 16 24 32 48 64 128 256 512; do
	dir="$stage/usr/share/icons/hicolor/${size}x${size}/apps"
	mkdir -p "$dir"
	convert "$root_dir/build/appicon.png" -resize "${size}x${size}" -strip "PNG32:$dir/loopat.png"
done
mkdir -p "$stage/usr/share/doc/loopat"
if [[ -f $root_dir/LICENSE ]]; then
	install -m644 "$root_dir/LICENSE" "$stage/usr/share/doc/loopat/copyright"
else
	printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: loopat\nSource: https://github.com/loopat/desktop\n' \
		>"$stage/usr/share/doc/loopat/copyright"
fi

mkdir -p "$stage/DEBIAN"
installed_kb=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: loopat
Version: $deb_version
Section: devel
Priority: optional
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_kb
Depends: podman, libwebkit2gtk-4.1-0, libgtk-3-0, catatonit
Suggests: gnome-keyring
Homepage: https://github.com/loopat/desktop
Description: desktop app for Claude Code loops in podman sandboxes
 loopat runs AI coding-agent loops (Claude Code sessions) in podman sandbox
 containers, with a tray menu for the podman engine and notifications when a
 loop finishes, needs input or fails. \`loopat serve\` offers the same UI in a
 browser; \`loopat doctor\` checks the setup.
CONTROL

mkdir -p "$outdir"
deb="$outdir/loopat_${deb_version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
