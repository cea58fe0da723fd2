#!/usr/bin/env bash
# The Debian package, end to end (as root; .ci/run calls this after `cargo test`):
#
# 1. builds it twice from one release build with packaging/build-deb: the version in
#    Cargo.toml (revision 1), then a later one (<version>.1~test-1) for the upgrade;
# 2. checks what it holds (files, conffile, stripped binary, debug symbols in the .ddeb under
#    the binary's build id, the packaged unit's ExecStart) and runs lintian, every tag it
#    reports at any level being one explained in packaging/README.md;
# 3. runs the maintainer scripts for real in a throwaway root: a private mount and PID
#    namespace (unshare) with an overlay over this machine's / (writes go to a tmpfs and
#    vanish with the namespace), chroot'ed into, where dpkg installs the first build, the
#    daemon runs as user groupsms and gets data, the second build is installed over it
#    (upgrade: database untouched, conffile change kept, the daemon starts on the old
#    database), a backup is restored, then the package is removed and purged.
#
# Prints one line per check and ends with "N passed, N failed"; exits non-zero on a failure.
# Needs: cargo-deb, lintian, binutils, dpkg-dev, util-linux (unshare, setpriv), and a kernel
# with overlayfs.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "tests/package.sh needs root (unshare, mount, chroot, dpkg)" >&2
    exit 1
fi

work=$(mktemp -d /tmp/groupsms-package.XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
ok() { echo "ok: $1"; passed=$((passed + 1)); }
bad() { echo "FAILED: $1" >&2; failed=$((failed + 1)); }
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}

# --- 1. two builds from one release build ----------------------------------------------
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
v1="$version-1"
v2="$version.1~test-1"
dpkg --compare-versions "$v2" gt "$v1"
arch=$(dpkg --print-architecture)
mkdir -p "$work/v1" "$work/v2"
for v in v1 v2; do
    # --fast: lighter compression, the test does not keep the packages.
    if ! packaging/build-deb --deb-version "${!v}" --fast -o "$work/$v" >"$work/build-$v.log" 2>&1; then
        tail -n 40 "$work/build-$v.log" >&2
        echo "FAILED: packaging/build-deb --deb-version ${!v}" >&2
        exit 1
    fi
done
deb1="$work/v1/groupsms_${v1}_${arch}.deb"
ddeb1="$work/v1/groupsms-dbgsym_${v1}_${arch}.ddeb"
deb2="$work/v2/groupsms_${v2}_${arch}.deb"
check "both builds made a .deb and a .ddeb" test -f "$deb1" -a -f "$ddeb1" -a -f "$deb2"

# --- 2. contents and lintian -----------------------------------------------------------
x="$work/x"
dpkg-deb -x "$deb1" "$x"
dpkg-deb -e "$deb1" "$x/DEBIAN"
for f in usr/bin/groupsms \
    usr/lib/systemd/system/groupsms.service usr/lib/systemd/system/groupsms.socket \
    usr/lib/sysusers.d/groupsms.conf usr/lib/udev/rules.d/60-groupsms.rules \
    etc/groupsms/groupsms.toml \
    usr/share/man/man1/groupsms.1.gz usr/share/man/man1/groupsms-backup.1.gz \
    usr/share/man/man1/groupsms-restore.1.gz usr/share/man/man1/groupsms-send.1.gz \
    usr/share/bash-completion/completions/groupsms \
    usr/share/zsh/vendor-completions/_groupsms \
    usr/share/fish/vendor_completions.d/groupsms.fish \
    usr/share/doc/groupsms/README.md usr/share/doc/groupsms/copyright \
    usr/share/doc/groupsms/changelog.Debian.gz; do
    check "the package holds /$f" test -f "$x/$f"
done
check "the example configuration is the only conffile" \
    test "$(cat "$x/DEBIAN/conffiles")" = /etc/groupsms/groupsms.toml
check "the conffile is packaging/groupsms.toml" cmp -s "$x/etc/groupsms/groupsms.toml" packaging/groupsms.toml
check "the sysusers file is systemd/groupsms.sysusers.conf" \
    cmp -s "$x/usr/lib/sysusers.d/groupsms.conf" systemd/groupsms.sysusers.conf
check "the udev rules are udev/60-groupsms.rules" cmp -s "$x/usr/lib/udev/rules.d/60-groupsms.rules" udev/60-groupsms.rules
check "the packaged service is the repository's with ExecStart=/usr/bin/groupsms" \
    cmp -s "$x/usr/lib/systemd/system/groupsms.service" \
    <(sed 's|^ExecStart=/usr/local/bin/groupsms |ExecStart=/usr/bin/groupsms |' systemd/groupsms.service)
check "the packaged service runs /usr/bin/groupsms" grep -q '^ExecStart=/usr/bin/groupsms ' "$x/usr/lib/systemd/system/groupsms.service"
check "the man page lists the subcommands" sh -c "zcat '$x/usr/share/man/man1/groupsms.1.gz' | grep -q 'groupsms\\\\-backup(1)'"
check "the binary runs" test "$("$x/usr/bin/groupsms" --version)" = "groupsms $version"
check "the binary is stripped" sh -c "! readelf -S '$x/usr/bin/groupsms' 2>/dev/null | grep -q '\\.debug_info'"
size=$(stat -c %s "$x/usr/bin/groupsms")
# A guard against bloat, not a target: 24.5 MB with the HTTP API (axum, hyper, the TLS client
# with its crypto for https webhooks, the OpenAPI document), 25.1 MB with the web console.
check "the binary is small ($size bytes < 30 MB)" test "$size" -lt 30000000
build_id=$(readelf -n "$x/usr/bin/groupsms" 2>/dev/null | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
dbg="usr/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug"
dpkg-deb -x "$ddeb1" "$work/dbg"
check "the .ddeb holds /$dbg (the binary's build id)" test -n "$build_id" -a -f "$work/dbg/$dbg"
check "the .debug file has the debug info" sh -c "readelf -S '$work/dbg/$dbg' 2>/dev/null | grep -q '\\.debug_info'"
check "the postinst never opens the database" sh -c "! grep -q 'groupsms\\.db\\|sqlite' '$x/DEBIAN/postinst'"
check "the maintainer scripts pass sh -n" sh -c "for s in '$x'/DEBIAN/p*; do sh -n \"\$s\" || exit 1; done"
check "the maintainer scripts kept no unexpanded token" sh -c "! grep -q '#DEBHELPER#' '$x'/DEBIAN/p*"

if command -v lintian >/dev/null; then
    for pkg in "$deb1" "$ddeb1"; do
        lintian --pedantic -I "$pkg" >"$work/lintian.txt" 2>/dev/null || true
        unexplained=""
        while read -r level pkgname tag rest; do
            case "$level" in E: | W: | I: | P: | X:) ;; *) continue ;; esac
            grep -q "\`$tag\`" packaging/README.md || unexplained="$unexplained $tag"
        done <"$work/lintian.txt"
        check "lintian $(basename "$pkg"): every tag is explained in packaging/README.md${unexplained:+ (not:$unexplained)}" \
            test -z "$unexplained"
        sed 's/^/    /' "$work/lintian.txt"
    done
    check "lintian: no error or warning on the .deb" lintian --fail-on error,warning "$deb1"
else
    bad "lintian is not installed (apt-get install lintian)"
fi

# --- 3. the maintainer scripts in a throwaway root ------------------------------------
cat >"$work/scenario.sh" <<'SCENARIO'
#!/bin/bash
# Runs inside the throwaway root. One "ok: ..." or "FAILED: ..." line per check.
set -u
export DEBIAN_FRONTEND=noninteractive PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
unset GROUPSMS_CONFIG GROUPSMS_SOCKET
t() {
    local what=$1
    shift
    if "$@" >>/tmp/pkg/commands.log 2>&1; then echo "ok: $what"; else echo "FAILED: $what"; fi
}
db=/var/lib/groupsms/groupsms.db
daemon=""
start_daemon() {
    install -d -m 0750 -o groupsms -g groupsms /run/groupsms # RuntimeDirectory= of the unit
    # As the unit runs it: user and group groupsms, UMask=0007.
    (umask 0007 && exec setpriv --reuid=groupsms --regid=groupsms --init-groups \
        /usr/bin/groupsms daemon) >>/tmp/pkg/daemon.log 2>&1 &
    daemon=$!
    for _ in $(seq 150); do
        groupsms status >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}
stop_daemon() {
    [ -n "$daemon" ] || return 0
    kill -TERM "$daemon"
    wait "$daemon"
    local status=$?
    daemon=""
    return "$status"
}
# A clean start: no trace of an earlier install in this root.
dpkg -P groupsms >/dev/null 2>&1
userdel groupsms >/dev/null 2>&1
groupdel groupsms >/dev/null 2>&1
rm -rf /var/lib/groupsms /etc/groupsms

t "install $V1" dpkg -i /tmp/pkg/v1.deb
t "user groupsms was created" getent passwd groupsms
t "group groupsms was created" getent group groupsms
t "user groupsms is in group dialout" sh -c 'id -nG groupsms | grep -qw dialout'
t "/var/lib/groupsms is 0750 groupsms:groupsms" test "$(stat -c '%a %U %G' /var/lib/groupsms)" = "750 groupsms groupsms"
t "groupsms.service is enabled" test -L /etc/systemd/system/multi-user.target.wants/groupsms.service
t "groupsms.socket is enabled" test -L /etc/systemd/system/sockets.target.wants/groupsms.socket
t "nothing was started: no database yet" test ! -e "$db"
t "the conffile is in place" cmp -s /etc/groupsms/groupsms.toml /tmp/pkg/groupsms.toml
cp /etc/groupsms/groupsms.toml /tmp/pkg/saved.toml
echo "bogus_key = 1" >>/etc/groupsms/groupsms.toml
t "the CLI reads /etc/groupsms/groupsms.toml by default" sh -c 'groupsms status 2>&1 | grep -q "/etc/groupsms/groupsms.toml: line .*bogus_key"'
cp /tmp/pkg/saved.toml /etc/groupsms/groupsms.toml

t "the daemon ($V1) runs as user groupsms with the shipped configuration" start_daemon
t "a group is created" groupsms group create ops --name Ops
t "a member is added" groupsms member add alice --name Alice --phone +8613800138000
t "backup while the daemon runs" groupsms backup /root/ops.db
t "the daemon's database belongs to groupsms" test "$(stat -c %U "$db")" = groupsms
t "the daemon stops on SIGTERM" stop_daemon
before=$(sha256sum <"$db")
echo "# a local change" >>/etc/groupsms/groupsms.toml

t "upgrade to $V2" dpkg -i /tmp/pkg/v2.deb
t "version $V2 is installed" test "$(dpkg-query -W -f='${Version}' groupsms)" = "$V2"
t "the upgrade left the database alone" test "$(sha256sum <"$db")" = "$before"
t "the local change to the conffile is kept" grep -q '^# a local change' /etc/groupsms/groupsms.toml
t "no .dpkg-new or .dpkg-dist next to it" sh -c '! ls /etc/groupsms | grep -q dpkg'
t "groupsms.service is still enabled" test -L /etc/systemd/system/multi-user.target.wants/groupsms.service
t "the daemon ($V2) starts on the old database" start_daemon
t "the group made before the upgrade is there" sh -c 'groupsms --json group show ops | grep -q "\"Ops\""'
t "restore is refused while the daemon runs" sh -c 'groupsms restore /root/ops.db; test $? -eq 69'
t "the daemon stops" stop_daemon
owner_mode=$(stat -c '%U %G %a' "$db")
t "restore with the daemon stopped" groupsms restore /root/ops.db
t "the restored database has the old one's owner and mode ($owner_mode)" test "$(stat -c '%U %G %a' "$db")" = "$owner_mode"
t "the database belongs to groupsms" test "$(stat -c '%U %G' "$db")" = "groupsms groupsms"
t "the replaced one is kept" test -f "$db.before-restore"
t "the daemon starts on the restored database" start_daemon
t "the member is there" sh -c 'groupsms --json member show alice | grep -q 8613800138000'
t "the daemon stops" stop_daemon

t "remove" dpkg -r groupsms
t "the binary is gone" test ! -e /usr/bin/groupsms
t "remove keeps the database" test -f "$db"
t "remove keeps the conffile" test -f /etc/groupsms/groupsms.toml
t "purge" dpkg -P groupsms
t "purge deletes /var/lib/groupsms" test ! -e /var/lib/groupsms
t "purge deletes /etc/groupsms" test ! -e /etc/groupsms
t "purge forgets the units" sh -c '! ls /etc/systemd/system/*.wants/groupsms.* /etc/systemd/system/groupsms.* 2>/dev/null | grep -q .'
t "user groupsms stays (Debian policy)" getent passwd groupsms
SCENARIO

cat >"$work/root.sh" <<'ROOT'
#!/bin/bash
# In a new mount and PID namespace: an overlay over / on a tmpfs, then the scenario in a chroot.
set -euo pipefail
work=$1
t="$work/ns"
mkdir -p "$t"
mount -t tmpfs tmpfs "$t"
mkdir "$t/upper" "$t/work" "$t/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$t/upper,workdir=$t/work" "$t/root"
mount -t proc proc "$t/root/proc"
mount --rbind /dev "$t/root/dev"
mount -t tmpfs tmpfs "$t/root/run"
mount -t tmpfs tmpfs "$t/root/tmp"
mkdir "$t/root/tmp/pkg"
cp "$work/v1/"*.deb "$t/root/tmp/pkg/v1.deb"
cp "$work/v2/"*.deb "$t/root/tmp/pkg/v2.deb"
cp "$work/scenario.sh" packaging/groupsms.toml "$t/root/tmp/pkg/"
chroot "$t/root" env V1="$V1" V2="$V2" bash /tmp/pkg/scenario.sh
for log in commands daemon; do
    if [ -s "$t/root/tmp/pkg/$log.log" ]; then
        echo "--- $log.log (last lines)"
        tail -n 15 "$t/root/tmp/pkg/$log.log" | sed 's/^/    /'
    fi
done
ROOT

if V1="$v1" V2="$v2" timeout 300 unshare --mount --pid --fork --propagation private \
    bash "$work/root.sh" "$work" >"$work/root.log" 2>&1; then
    ok "the throwaway root ran"
else
    bad "the throwaway root failed"
fi
while IFS= read -r line; do
    case "$line" in
        "ok: "*) ok "${line#ok: }" ;;
        "FAILED: "*) bad "${line#FAILED: }" ;;
        *) echo "$line" ;;
    esac
done <"$work/root.log"

echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
