#!/usr/bin/env bash
# Makes sure the services Kiln's tests need are running on this host, installing what is missing
# on a Debian-like system when run as root: Redis, PostgreSQL, a Docker engine and the small local
# images the tests use, and the native containerizer's runc and slirp4netns. Idempotent: a second run finds everything up and changes nothing.
# It says what it found and what it did; where it cannot do something, it says why and exits 1.
set -uo pipefail

REDIS_PORT=6379
PG_PORT=5432
DOCKER_WAIT_SECONDS=60
LOG_DIR=/var/log/kiln-services
BUSYBOX_IMAGE=kiln-test/busybox:latest
REGISTRY_ADDR=127.0.0.1:5000
REGISTRY_WAIT_SECONDS=20

failures=0
apt_updated=0

say() { printf 'services: %s\n' "$*"; }
fail() {
  printf 'services: FAILED: %s\n' "$*" >&2
  failures=$((failures + 1))
}
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# apt_install PACKAGE...: installs Debian packages, or explains why it cannot.
apt_install() {
  if ! is_root; then
    fail "need Debian package(s) $* but not running as root; install them or rerun as root"
    return 1
  fi
  if ! have apt-get; then
    fail "need package(s) $* but this host has no apt-get; install them by hand"
    return 1
  fi
  if [ "$apt_updated" -eq 0 ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || {
      fail "apt-get update failed"
      return 1
    }
    apt_updated=1
  fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null || {
    fail "apt-get install $* failed"
    return 1
  }
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.25 s until it succeeds or time runs out.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.25
  done
}

mkdir -p "$LOG_DIR" 2>/dev/null || LOG_DIR=$(mktemp -d)

# --- Redis ------------------------------------------------------------------------------------
redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

ensure_redis() {
  if have redis-cli && redis_up; then
    say "Redis answers on 127.0.0.1:$REDIS_PORT"
    return
  fi
  have redis-server || apt_install redis-server || return
  say "starting Redis on 127.0.0.1:$REDIS_PORT"
  mkdir -p /var/lib/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
    --appendonly no --dir /var/lib/redis --logfile "$LOG_DIR/redis.log" ||
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" \
      --appendonly no --dir /var/lib/redis --logfile "$LOG_DIR/redis.log"
  wait_until 10 redis_up && say "Redis is up" || fail "Redis did not start (see $LOG_DIR/redis.log)"
}

# --- PostgreSQL -------------------------------------------------------------------------------
pg_up() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; }

ensure_postgres() {
  if have pg_isready && pg_up; then
    say "PostgreSQL answers on 127.0.0.1:$PG_PORT"
    return
  fi
  local installed=0
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql || return
    installed=1
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if [ "$installed" -eq 1 ]; then
    # A cluster this script created is a throwaway test server: the tests connect as postgres
    # without a password, as on Kiln's development machines.
    say "configuring trust authentication on loopback for the new PostgreSQL $version cluster"
    sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' \
      "/etc/postgresql/$version/main/pg_hba.conf"
  fi
  say "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null ||
    pg_ctlcluster "$version" main start
  wait_until 20 pg_up && say "PostgreSQL is up" || fail "PostgreSQL did not start"
}

# --- Docker engine ----------------------------------------------------------------------------
docker_up() { docker info >/dev/null 2>&1; }

ensure_docker() {
  if have docker && docker_up; then
    say "a Docker engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
    return
  fi
  if ! have dockerd; then
    apt_install docker.io || return
  fi
  if ! is_root; then
    fail "no Docker engine answers and starting one needs root"
    return
  fi
  # A daemon may be starting already (a parallel run of this script): wait for it, never start
  # a second one on the same socket.
  if pgrep -x dockerd >/dev/null; then
    say "dockerd is running but not answering yet; waiting"
  else
    say "starting dockerd (no iptables, no bridge: containers use host or none networking)"
    setsid nohup dockerd --iptables=false --bridge=none >"$LOG_DIR/dockerd.log" 2>&1 </dev/null &
  fi
  if wait_until "$DOCKER_WAIT_SECONDS" docker_up; then
    say "the Docker engine is up"
  else
    fail "the Docker engine did not answer within ${DOCKER_WAIT_SECONDS} s (see $LOG_DIR/dockerd.log)"
  fi
}

# --- Local images (no registry is reachable: images are imported from a root filesystem) --------
ensure_busybox_image() {
  docker_up || return
  if docker image inspect "$BUSYBOX_IMAGE" >/dev/null 2>&1; then
    say "image $BUSYBOX_IMAGE is present"
    return
  fi
  [ -x /bin/busybox ] || apt_install busybox-static || return
  local rootfs
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc"
  cp /bin/busybox "$rootfs/bin/busybox"
  /bin/busybox --install -s "$rootfs/bin" 2>/dev/null ||
    for applet in $(/bin/busybox --list); do ln -sf busybox "$rootfs/bin/$applet"; done
  # --install -s links to the host path of busybox; point every applet at the copy in the image.
  find "$rootfs/bin" -type l -exec ln -sf busybox {} \;
  echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
  echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>"$rootfs/etc/passwd"
  chmod 1777 "$rootfs/tmp"
  say "building image $BUSYBOX_IMAGE from busybox-static"
  if tar -C "$rootfs" -c . | docker import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' - "$BUSYBOX_IMAGE" >/dev/null; then
    say "image $BUSYBOX_IMAGE is built"
  else
    fail "docker import of $BUSYBOX_IMAGE failed"
  fi
  rm -rf "$rootfs"
}

# --- Local registry (for the docker containerizer's pull tests; loopback only) ----------------
# The engine pulls from 127.0.0.1 over plain HTTP: 127.0.0.0/8 is an insecure registry by default.
registry_up() { curl -fs -o /dev/null "http://$REGISTRY_ADDR/v2/" 2>/dev/null; }

ensure_registry() {
  docker_up || return
  have curl || apt_install curl || return
  if registry_up; then
    say "a registry answers on $REGISTRY_ADDR"
  else
    have docker-registry || apt_install docker-registry || return
    local dir
    dir=/var/lib/kiln-registry
    mkdir -p "$dir/storage" 2>/dev/null || dir=$(mktemp -d)
    mkdir -p "$dir/storage"
    cat >"$dir/config.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: $dir/storage
http:
  addr: $REGISTRY_ADDR
YAML
    say "starting a registry on $REGISTRY_ADDR (storage in $dir/storage)"
    setsid nohup docker-registry serve "$dir/config.yml" >"$LOG_DIR/registry.log" 2>&1 </dev/null &
    if wait_until "$REGISTRY_WAIT_SECONDS" registry_up; then
      say "the registry is up"
    else
      fail "the registry did not answer within ${REGISTRY_WAIT_SECONDS} s (see $LOG_DIR/registry.log)"
      return
    fi
  fi
  local pushed="$REGISTRY_ADDR/$BUSYBOX_IMAGE"
  local name=${BUSYBOX_IMAGE%:*} tag=${BUSYBOX_IMAGE##*:}
  if curl -fs -o /dev/null -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY_ADDR/v2/$name/manifests/$tag"; then
    say "image $pushed is in the registry"
    return
  fi
  docker image inspect "$BUSYBOX_IMAGE" >/dev/null 2>&1 || {
    fail "cannot push $pushed: image $BUSYBOX_IMAGE is missing"
    return
  }
  say "pushing $BUSYBOX_IMAGE to the registry as $pushed"
  if docker tag "$BUSYBOX_IMAGE" "$pushed" && docker push "$pushed" >/dev/null; then
    say "image $pushed is in the registry"
  else
    fail "docker push $pushed failed"
  fi
}

# --- The native containerizer's sandbox: runc, slirp4netns, uidmap ------------------------------
ensure_sandbox_tools() {
  local missing=()
  have runc || missing+=(runc)
  have slirp4netns || missing+=(slirp4netns)
  have newuidmap || missing+=(uidmap)
  # The network hook fences the host's loopback off each task's tap device with ip and nsenter.
  have ip || missing+=(iproute2)
  have nsenter || missing+=(util-linux)
  if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}" || return
  fi
  say "runc $(runc --version 2>/dev/null | head -n 1 | awk '{print $3}') and slirp4netns are installed"
}

# --- Docker's default seccomp profile, the native containerizer's filter ------------------------
# Debian ships the file in golang-github-docker-docker-dev, a Go source package whose 260-odd
# dependencies (a Go toolchain) an agent does not need: the one file is taken out of the package.
SECCOMP_PROFILE=/usr/local/share/kiln/seccomp/docker-default.json
SECCOMP_IN_PACKAGE=./usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json
ensure_seccomp_profile() {
  if [ -s "$SECCOMP_PROFILE" ]; then
    say "Docker's default seccomp profile is at $SECCOMP_PROFILE"
    return
  fi
  if ! is_root; then
    fail "need Docker's default seccomp profile at $SECCOMP_PROFILE; rerun as root"
    return 1
  fi
  local dir
  dir=$(mktemp -d)
  if [ "$apt_updated" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && apt_updated=1
  fi
  if (cd "$dir" && apt-get download -qq golang-github-docker-docker-dev >/dev/null 2>&1) &&
    mkdir -p "$(dirname "$SECCOMP_PROFILE")" &&
    dpkg-deb --fsys-tarfile "$dir"/golang-github-docker-docker-dev_*.deb |
    tar -xO "$SECCOMP_IN_PACKAGE" >"$SECCOMP_PROFILE.tmp" &&
    [ -s "$SECCOMP_PROFILE.tmp" ]; then
    mv "$SECCOMP_PROFILE.tmp" "$SECCOMP_PROFILE"
    say "Docker's default seccomp profile is at $SECCOMP_PROFILE (from golang-github-docker-docker-dev)"
  else
    rm -f "$SECCOMP_PROFILE.tmp"
    fail "cannot take Docker's default seccomp profile out of golang-github-docker-docker-dev"
  fi
  rm -rf "$dir"
}

# --- Chromium (the web UI's browser tests drive it with playwright-core) -----------------------
ensure_chromium() {
  if have chromium; then
    say "Chromium is installed ($(chromium --version 2>/dev/null | head -n 1))"
    return
  fi
  apt_install chromium && say "Chromium is installed"
}

ensure_redis
ensure_postgres
ensure_docker
ensure_busybox_image
ensure_registry
ensure_chromium
ensure_sandbox_tools
ensure_seccomp_profile

if [ "$failures" -gt 0 ]; then
  say "$failures service(s) could not be made ready; see the messages above"
  exit 1
fi
say "all services ready"
