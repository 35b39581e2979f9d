//! The programs the simulator installs into its node and container roots, as shell scripts.
//!
//! They stand in for the node's `pct`, `journalctl` and `login` (and a container's syslog
//! daemon). Whatever needs live cluster state or the synthetic journal asks the simulator's
//! local agent (see [`super::agent`]) over bash's `/dev/tcp`; `@PORT@` is replaced by the
//! agent's port when the scripts are written. Every root names itself in
//! `/var/lib/pvekit/scope` (`node <name>` or `ct <vmid>`).

/// `/usr/local/sbin/pct` on a node: `exec`, `enter`, `status`, `list` of pve-container's
/// `pct`, with its messages and exit codes (a failing `PVE::CLIHandler` command exits 255;
/// `lxc-attach` on a stopped container exits 1).
pub(crate) const PCT: &str = r#"#!/bin/bash
# pct - Proxmox Container Toolkit (pvekit-sim: exec, enter, status, list)
agent() {
    { exec 3<>"/dev/tcp/127.0.0.1/@PORT@"; } 2>/dev/null || {
        echo "ipcc_send_rec[1] failed: Connection refused" >&2
        exit 255
    }
    printf '%s\n' "$*" >&3
    cat <&3
    exec 3<&-
}
node=$(hostname)
usage() {
    echo "USAGE: pct <COMMAND> [ARGS] [OPTIONS]" >&2
    echo "       pct exec <vmid> [<extra-args>]" >&2
    echo "       pct enter <vmid>" >&2
    echo "       pct list" >&2
    echo "       pct status <vmid> [OPTIONS]" >&2
    exit 255
}
cmd=$1
[ $# -gt 0 ] && shift
case "$cmd" in
    list)
        agent list "$node"
        exit 0
        ;;
    exec|enter|status) ;;
    help|"") usage ;;
    *)
        echo "unknown command 'pct $cmd'" >&2
        usage
        ;;
esac
vmid=$1
if [ -z "$vmid" ]; then
    echo "400 not enough arguments" >&2
    echo "pct $cmd <vmid>" >&2
    exit 255
fi
shift
case "$vmid" in
    *[!0-9]*|0*)
        echo "400 Parameter verification failed." >&2
        echo "vmid: invalid format - value does not look like a valid VM ID" >&2
        echo "" >&2
        echo "pct $cmd <vmid>" >&2
        exit 255
        ;;
esac
read -r state systemd hostname <<EOF
$(agent status "$node" "$vmid")
EOF
if [ "$state" != running ] && [ "$state" != stopped ]; then
    echo "Configuration file 'nodes/$node/lxc/$vmid.conf' does not exist" >&2
    exit 255
fi
case "$cmd" in
    status)
        echo "status: $state"
        exit 0
        ;;
    enter)
        if [ "$state" != running ]; then
            echo "Error: container '$vmid' not running!" >&2
            exit 255
        fi
        set -- /bin/bash
        dir=/root
        ;;
    exec)
        [ "$1" = "--" ] && shift
        if [ $# -eq 0 ]; then
            echo "missing command at /usr/share/perl5/PVE/CLI/pct.pm line 201." >&2
            exit 255
        fi
        if [ "$state" != running ]; then
            echo "lxc-attach: $vmid: ../src/lxc/attach.c: get_attach_context: 405 Connection refused - Failed to get init pid" >&2
            echo "lxc-attach: $vmid: ../src/lxc/tools/lxc_attach.c: lxc_attach_main: 400 Connection refused - Failed to attach to container" >&2
            exit 1
        fi
        ;;
esac
[ -n "$dir" ] || dir=/
tools=/var/lib/pvekit/tools/ct-plain
wrap=/usr/local/sbin/pvekit-syslogd
if [ "$systemd" = 1 ]; then
    tools=/var/lib/pvekit/tools/ct-systemd
    wrap=
fi
root=/var/lib/lxc/$vmid/rootfs
exec bwrap --die-with-parent --unshare-pid --unshare-uts --unshare-ipc \
    --hostname "$hostname" --bind "$root" / @RO_BINDS@ \
    --ro-bind "$tools" /usr/local/sbin --proc /proc --dev /dev --chdir "$dir" \
    -- $wrap "$@"
"#;

/// `journalctl` (node, and containers with systemd): the options are parsed by the agent,
/// which answers `ok` and the output, or `err <message>`.
pub(crate) const JOURNALCTL: &str = r#"#!/bin/bash
{ exec 3<>"/dev/tcp/127.0.0.1/@PORT@"; } 2>/dev/null || {
    echo "Failed to open journal: Connection refused" >&2
    exit 1
}
{
    printf 'journal %s %d\n' "$(cat /var/lib/pvekit/scope)" "$#"
    for a in "$@"; do printf '%s\n' "$a"; done
} >&3
IFS= read -r status <&3
if [ "$status" != ok ]; then
    printf '%s\n' "${status#err }" >&2
    exit 1
fi
exec cat <&3
"#;

/// Runs a command in a container without systemd while its `/var/log/messages` keeps
/// growing, like busybox `syslogd` writing it.
pub(crate) const SYSLOGD: &str = r#"#!/bin/bash
{
    exec 3<>"/dev/tcp/127.0.0.1/@PORT@" &&
        printf 'syslog %s\n' "$(cat /var/lib/pvekit/scope)" >&3 &&
        exec cat <&3 >>/var/log/messages
} </dev/null >/dev/null 2>&1 &
exec "$@"
"#;

/// `login`: what every identity but root@pam (ticket) gets on the node, and what a
/// container's getty runs. No password is ever accepted: after `Password: ` comes
/// `Login incorrect` (after a short delay; the real FAIL_DELAY is 3 s), five tries, and a
/// 60-second timeout, like util-linux login. `--getty` prints `/etc/issue` first.
pub(crate) const LOGIN: &str = r#"#!/bin/bash
host=$(hostname)
if [ "$1" = --getty ] && [ -r /etc/issue ]; then
    issue=$(cat /etc/issue)
    issue=${issue//\\n/$host}
    issue=${issue//\\l/tty1}
    issue=${issue//\\r/$(uname -r)}
    issue=${issue//\\m/$(uname -m)}
    printf '\n%s\n\n' "$issue"
fi
tries=0
while [ $tries -lt 5 ]; do
    printf '%s login: ' "$host"
    if ! IFS= read -r -t 60 user; then
        printf '\nLogin timed out after 60 seconds.\n'
        exit 1
    fi
    [ -z "$user" ] && continue
    stty -echo 2>/dev/null
    printf 'Password: '
    IFS= read -r -t 60 pass
    stty echo 2>/dev/null
    printf '\n'
    sleep 0.3
    printf '\nLogin incorrect\n'
    tries=$((tries + 1))
done
exit 1
"#;

/// root's `~/.bashrc` in node and container roots (Debian's prompt).
pub(crate) const BASHRC: &str = r#"# ~/.bashrc: executed by bash(1) for non-login shells.
PS1='${debian_chroot:+($debian_chroot)}\u@\h:\w\$ '
export LS_OPTIONS='--color=auto'
alias ls='ls $LS_OPTIONS'
alias ll='ls $LS_OPTIONS -l'
"#;

/// The static part of the node's login banner (`/etc/motd` on Debian).
pub(crate) const MOTD: &str = "
The programs included with the Debian GNU/Linux system are free software;
the exact distribution terms for each program are described in the
individual files in /usr/share/doc/*/copyright.

Debian GNU/Linux comes with ABSOLUTELY NO WARRANTY, to the extent
permitted by applicable law.
";

/// The kernel a simulated node reports in its banner.
pub(crate) const KERNEL: &str = "6.17.2-1-pve";

/// The banner's first line (`uname -snrvm`, from `/run/motd.dynamic`).
pub(crate) fn uname_line(node: &str) -> String {
    format!(
        "Linux {node} {KERNEL} #1 SMP PREEMPT_DYNAMIC PMX {} (2025-11-06T09:21Z) x86_64\n",
        KERNEL.trim_end_matches("-pve")
    )
}
