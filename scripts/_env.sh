# Shared set-up for scripts/dockyard and scripts/test: apt packages and the project venv.
# Idempotent and quick when nothing changed (a stamp per package set / pyproject hash).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${DOCKYARD_VENV:-$HERE/.venv}
STAMPS=$VENV/.stamps

need_root() { [[ $(id -u) == 0 ]] || { echo "dockyard needs root (namespaces, mounts, cgroups): run with sudo" >&2; exit 1; }; }

apt_ensure() {  # apt_ensure PKG... : install the Debian packages that are missing
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  echo "[setup] installing Debian packages: ${missing[*]}" >&2
  # policy-rc.d keeps docker-registry from starting its packaged service (it listens on all interfaces)
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; local rm_policy=1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [[ -z ${rm_policy:-} ]] || rm -f /usr/sbin/policy-rc.d
}

venv_ensure() {  # venv_ensure EXTRAS : project installed editable with the given extras
  local extras=$1 key
  key=$(cat "$HERE/pyproject.toml" | sha256sum | cut -c1-16)-$extras
  if [[ ! -x $VENV/bin/python ]]; then /usr/bin/python3 -m venv "$VENV"; fi
  if [[ ! -e $STAMPS/$key ]]; then
    "$VENV/bin/pip" install -q --disable-pip-version-check --config-settings editable_mode=compat -e "$HERE${extras:+[$extras]}"
    mkdir -p "$STAMPS" && touch "$STAMPS/$key"
  fi
  # byte-compile now, so no command pays for it (and it still works where PYTHONDONTWRITEBYTECODE is set)
  "$VENV/bin/python" -m compileall -q "$HERE/core" "$HERE/tui" "$HERE/api" "$HERE/compose" >/dev/null
}

RUNTIME_APT=(python3 python3-venv ca-certificates libseccomp2 nftables iproute2 kmod ripgrep)
