#!/usr/bin/env bash
# Installs what trapbox's build, tests and examples need on a fresh Debian machine.
# Idempotent: packages already present are not fetched again.
set -euo pipefail
packages=(busybox-static gcc libc6-dev binutils file strace tzdata iproute2 python3 util-linux
          # the real programs of tests/tests/run_programs.rs (Java and node are tested where present)
          perl git make sqlite3 curl bash coreutils findutils
          # the OCI runtime's tests: podman drives trapbox-oci; runc is the reference it is compared with
          podman runc containerd uidmap slirp4netns)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=()
    [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The rootless podman test (tests/tests/oci.rs) runs podman as this unprivileged user, which
# needs a subordinate id range of its own.
if [ "$(id -u)" = 0 ]; then
    id trapbox-rootless >/dev/null 2>&1 || useradd --create-home --shell /usr/sbin/nologin trapbox-rootless
    grep -q '^trapbox-rootless:' /etc/subuid || usermod --add-subuids 524288-589823 trapbox-rootless
    grep -q '^trapbox-rootless:' /etc/subgid || usermod --add-subgids 524288-589823 trapbox-rootless
fi
command -v cargo >/dev/null || { echo "setup: cargo is required (https://rustup.rs)" >&2; exit 1; }
