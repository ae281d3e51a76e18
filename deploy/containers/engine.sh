# shellcheck shell=bash
# podman as it runs on the project's machines, for deploy/containers/build.sh and
# cross/podman.sh (sourced, after `set -euo pipefail`):
#   - vfs storage and Debian's runc, and no default ulimits (crun, overlay and the default
#     ulimits are refused on these kernels); the configuration lives in $work/conf;
#   - `base_image NAME SUITE [ARCH]`: NAME is pulled, or, where no registry can be reached,
#     made from a debootstrap minbase root of Debian SUITE for ARCH (amd64 unless named), so
#     the Containerfiles name the public images and still build here.
# Expects $work (a folder for storage and roots) and log(); sets $sudo.
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
mkdir -p "$work/conf"
cat > "$work/conf/containers.conf" <<'CONF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
CONF
cat > "$work/conf/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$work/storage"
runroot = "$work/run"
CONF
export CONTAINERS_CONF=$work/conf/containers.conf CONTAINERS_STORAGE_CONF=$work/conf/storage.conf
# podman runs as the caller (root here; rootless elsewhere), as `cross` runs it, so both see
# the same images; only debootstrap and binfmt need root.

# Foreign architectures' roots and images run through qemu-user-static; the kernel must open
# the interpreter when it is registered (binfmt flag F), since containers and chroots lack it.
binfmt_fixed() {
  local name=qemu-$1-fixed magic mask
  [ -e "/proc/sys/fs/binfmt_misc/$name" ] && return 0
  mountpoint -q /proc/sys/fs/binfmt_misc || $sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  [ -x "/usr/bin/qemu-$1-static" ] || { echo "error: /usr/bin/qemu-$1-static is missing (Debian's qemu-user-static)" >&2; exit 1; }
  magic=$(sed -n 's/^magic //p' "/proc/sys/fs/binfmt_misc/qemu-$1" 2>/dev/null || true)
  mask=$(sed -n 's/^mask //p' "/proc/sys/fs/binfmt_misc/qemu-$1" 2>/dev/null || true)
  [ -n "$magic" ] || { echo "error: binfmt_misc has no qemu-$1 entry (update-binfmts --enable qemu-$1)" >&2; exit 1; }
  hex() { sed 's/../\\x&/g' <<< "$1"; }
  echo ":$name:M::$(hex "$magic"):$(hex "$mask"):/usr/bin/qemu-$1-static:F" | $sudo tee /proc/sys/fs/binfmt_misc/register >/dev/null
}

base_image() {
  local name=$1 suite=$2 arch=${3:-amd64} rootfs
  podman image exists "$name" && return 0
  podman pull -q --arch "$arch" "$name" >/dev/null 2>&1 && return 0
  rootfs=$work/rootfs-$suite-$arch
  if [ ! -x "$rootfs/usr/bin/dpkg" ]; then
    log "debootstrap $suite ($arch, minbase) into $rootfs"
    case $arch in amd64) ;; arm64) binfmt_fixed aarch64 ;; armhf) binfmt_fixed arm ;; esac
    $sudo debootstrap --variant=minbase --arch "$arch" "$suite" "$rootfs" http://deb.debian.org/debian >/dev/null
  fi
  $sudo rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  $sudo tar -C "$rootfs" -c . | podman import -q --arch "$arch" - "$name" >/dev/null
  log "base image $name ($arch) imported from $rootfs"
}
