//! The programs the simulator installs into its node and container roots (bound read-only on
//! `/usr/local/sbin`).
//!
//! They stand in for the node's `pct`, `journalctl` and `login` (and a container's syslog
//! daemon). Whatever needs live cluster state, the synthetic journal or another sandbox asks
//! the simulator's agent (see [`super::agent`]) through [`AGENT_CLIENT`], a small Perl relay
//! (`/usr/bin/perl` with the core `Socket` module: Debian's perl-base, present on every
//! Proxmox VE node and, through the host's `/usr`, in every sandbox). Bash cannot speak to a
//! Unix socket, and the sandboxes have no network to reach a TCP port of the host. Each
//! sandbox sees only its own socket, `/run/pvekit/agent.sock`, which tells the agent who asks.

/// `/usr/local/sbin/pvekit-agent`: sends one request to the agent and relays the answer.
///
/// `pvekit-agent [--fail CODE MESSAGE] VERB ARGS...`: without an agent it prints MESSAGE and
/// exits with CODE. The request is `VERB ARGC\n` and each argument as `LEN\n` plus its bytes;
/// `exec` adds whether stdout and stderr are the same file and `$TERM`, `enter` the terminal
/// size and `$TERM`. Both directions then carry frames `[type u8][length u32 BE][payload]`:
/// from the agent 1 stdout, 2 stderr, 3 exit status (decimal); to it (`exec`/`enter` only)
/// 0 stdin, 4 end of stdin, 5 new size (`ROWS COLS`). `enter` puts the terminal in raw mode
/// for the relay (`stty raw -echo`) and restores it. Writes to the socket never block the
/// relay, so output keeps flowing while the command does not read its input; once the agent
/// takes no more input (the command ended), the answer is still read to its end.
pub(crate) const AGENT_CLIENT: &str = r#"#!/usr/bin/perl
# pvekit-agent - relay to the pvekit-sim agent through /run/pvekit/agent.sock
use strict;
use warnings;
use Socket qw(PF_UNIX SOCK_STREAM MSG_NOSIGNAL MSG_DONTWAIT pack_sockaddr_un);

my ($fail_code, $fail_msg) = (1, '');
if (@ARGV >= 3 && $ARGV[0] eq '--fail') {
    (undef, $fail_code, $fail_msg) = splice(@ARGV, 0, 3);
}
sub fail {
    print STDERR "$fail_msg\n" if $fail_msg ne '';
    exit $fail_code;
}
my $verb = shift(@ARGV) // '';
my @args = @ARGV;
my $sock;
socket($sock, PF_UNIX, SOCK_STREAM, 0) or fail();
connect($sock, pack_sockaddr_un('/run/pvekit/agent.sock')) or fail();
binmode($_) for ($sock, \*STDIN, \*STDOUT, \*STDERR);

sub size {
    my $s = `stty size 2>/dev/null` // '';
    return $s =~ /^(\d+) (\d+)/ ? ($1, $2) : (24, 80);
}
my $saved;
sub restore {
    system('stty', $saved) if defined $saved && $saved ne '';
    undef $saved;
}
my $relay = $verb eq 'exec' || $verb eq 'enter';
if ($verb eq 'exec') {
    my @o = stat(STDOUT);
    my @e = stat(STDERR);
    my $merged = (@o && @e && $o[0] == $e[0] && $o[1] == $e[1]) ? 1 : 0;
    splice(@args, 1, 0, $merged, $ENV{TERM} // '');
} elsif ($verb eq 'enter') {
    push @args, size(), $ENV{TERM} // '';
    if (-t STDIN) {
        $saved = `stty -g 2>/dev/null`;
        chomp $saved;
        system('stty', 'raw', '-echo');
    }
}
my $winch = 0;
$SIG{WINCH} = sub { $winch = 1 } if defined $saved;
$SIG{$_} = sub { restore(); exit 129 } for qw(HUP TERM);

sub frame { return pack('C N', $_[0], length $_[1]) . $_[1] }
sub put {
    my ($fh, $d) = @_;
    while (length $d) {
        my $w = syswrite($fh, $d);
        if (!defined $w) {
            next if $!{EINTR};
            if ($!{EAGAIN}) {
                my $v = '';
                vec($v, fileno($fh), 1) = 1;
                select(undef, $v, undef, undef);
                next;
            }
            restore();
            exit 1;
        }
        substr($d, 0, $w) = '';
    }
}

my $out = "$verb " . scalar(@args) . "\n";
$out .= length($_) . "\n" . $_ for @args;
my $in_open = $relay;
my ($inbuf, $status) = ('', undef);
my $sfd = fileno($sock);
my $ifd = fileno(STDIN);
LOOP: while (1) {
    if ($winch) {
        $winch = 0;
        $out .= frame(5, join(' ', size())) if $relay;
    }
    my ($rin, $win) = ('', '');
    vec($rin, $sfd, 1) = 1;
    vec($rin, $ifd, 1) = 1 if $in_open && length($out) < 65536;
    vec($win, $sfd, 1) = 1 if length $out;
    my $n = select(my $rout = $rin, my $wout = $win, undef, undef);
    if ($n < 0) {
        next if $!{EINTR};
        last;
    }
    if (length($out) && vec($wout, $sfd, 1)) {
        my $w = send($sock, $out, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (defined $w) {
            substr($out, 0, $w) = '';
        } elsif (!$!{EAGAIN} && !$!{EINTR}) {
            # The agent is done with our input (the command ended): still read its answer.
            ($out, $in_open, $relay) = ('', 0, 0);
        }
    }
    if ($in_open && vec($rout, $ifd, 1)) {
        my $r = sysread(STDIN, my $data, 65536);
        if (defined $r && $r > 0) {
            $out .= frame(0, $data);
        } elsif (defined $r || !($!{EINTR} || $!{EAGAIN})) {
            $in_open = 0;
            $out .= frame(4, '');
        }
    }
    if (vec($rout, $sfd, 1)) {
        my $r = sysread($sock, $inbuf, 65536, length $inbuf);
        if (!defined $r) {
            next if $!{EINTR} || $!{EAGAIN};
            last;
        }
        last if $r == 0;
        while (length($inbuf) >= 5) {
            my ($t, $len) = unpack('C N', $inbuf);
            last if length($inbuf) < 5 + $len;
            my $p = substr($inbuf, 5, $len);
            substr($inbuf, 0, 5 + $len) = '';
            if ($t == 1) {
                put(\*STDOUT, $p);
            } elsif ($t == 2) {
                put(\*STDERR, $p);
            } elsif ($t == 3) {
                $status = $p;
                last LOOP;
            }
        }
    }
}
restore();
exit(defined $status && $status =~ /^\d+$/ ? $status : $fail_code);
"#;

/// `/usr/local/sbin/pct` on a node: `exec`, `enter`, `status`, `list` of pve-container's
/// `pct`, with its messages and exit codes (a failing `PVE::CLIHandler` command exits 255;
/// `lxc-attach` on a stopped container exits 1). `exec` and `enter` run in the container's
/// own sandbox, which the agent starts next to the node's and relays.
pub(crate) const PCT: &str = r#"#!/bin/bash
# pct - Proxmox Container Toolkit (pvekit-sim: exec, enter, status, list)
refused="ipcc_send_rec[1] failed: Connection refused"
agent() {
    /usr/local/sbin/pvekit-agent --fail 255 "$refused" "$@"
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
        agent list
        exit $?
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
read -r state _ <<EOF
$(agent status "$vmid")
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
        exec /usr/local/sbin/pvekit-agent --fail 255 "$refused" enter "$vmid"
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
        exec /usr/local/sbin/pvekit-agent --fail 255 "$refused" exec "$vmid" "$@"
        ;;
esac
"#;

/// `journalctl` (node, and containers with systemd): the options are parsed by the agent,
/// which answers the output, or journalctl's message and status 1.
pub(crate) const JOURNALCTL: &str = r#"#!/bin/bash
exec /usr/local/sbin/pvekit-agent --fail 1 "Failed to open journal: Connection refused" journal "$@"
"#;

/// Runs a command in a container without systemd while its `/var/log/messages` keeps
/// growing, like busybox `syslogd` writing it.
pub(crate) const SYSLOGD: &str = r#"#!/bin/bash
{ /usr/local/sbin/pvekit-agent syslog </dev/null >>/var/log/messages; } 2>/dev/null &
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
