//! The units of the synthetic journals and what each one logs: message templates filled
//! in by [`super::render`] (`{n}` a number, `{k}` the entry index, `{s}` seconds, `{ip}`,
//! `{port}`, `{hex}`, `{b64}`, `{host}`, `{iso}` a date), and which units a node or a
//! container runs.

use super::FLOOD_UNIT;
use crate::model::counters::mix;
use crate::term::sandbox::CtInfo;

/// One systemd unit and what it logs.
#[derive(Debug)]
pub(super) struct Unit {
    pub name: &'static str,
    pub ident: &'static str,
    /// Syslog facility (for `/var/log/messages`).
    pub facility: &'static str,
    pub msgs: &'static [&'static str],
}

const PVEPROXY: Unit = Unit {
    name: "pveproxy.service",
    ident: "pveproxy",
    facility: "daemon.info",
    msgs: &[
        "worker {n} finished",
        "starting 1 worker(s)",
        "worker {n} started",
    ],
};
const PVEDAEMON: Unit = Unit {
    name: "pvedaemon.service",
    ident: "pvedaemon",
    facility: "daemon.info",
    msgs: &[
        "<root@pam> successful auth for user 'root@pam'",
        "<root@pam> starting task UPID:{host}:{hex}:{hex}:{hex}:vncshell::root@pam:",
        "<root@pam> end task UPID:{host}:{hex}:{hex}:{hex}:vncshell::root@pam: OK",
    ],
};
const PVESTATD: Unit = Unit {
    name: "pvestatd.service",
    ident: "pvestatd",
    facility: "daemon.info",
    msgs: &[
        "status update time ({s} seconds)",
        "auth key pair too old, rotating..",
    ],
};
const CRON: Unit = Unit {
    name: "cron.service",
    ident: "CRON",
    facility: "cron.info",
    msgs: &[
        "pam_unix(cron:session): session opened for user root(uid=0) by root(uid=0)",
        "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
        "pam_unix(cron:session): session closed for user root",
    ],
};
const SSHD: Unit = Unit {
    name: "ssh.service",
    ident: "sshd",
    facility: "auth.info",
    msgs: &[
        "Accepted publickey for root from {ip} port {port} ssh2: ED25519 SHA256:{b64}",
        "pam_unix(sshd:session): session opened for user root(uid=0) by root(uid=0)",
        "Received disconnect from {ip} port {port}:11: disconnected by user",
        "Disconnected from user root {ip} port {port}",
        "pam_unix(sshd:session): session closed for user root",
    ],
};
const LOGIND: Unit = Unit {
    name: "systemd-logind.service",
    ident: "systemd-logind",
    facility: "auth.info",
    msgs: &[
        "New session {n} of user root.",
        "Session {n} logged out. Waiting for processes to exit.",
        "Removed session {n}.",
    ],
};
const NGINX: Unit = Unit {
    name: "nginx.service",
    ident: "nginx",
    facility: "daemon.info",
    msgs: &[
        "{ip} - - \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.31\"",
        "{ip} - - \"GET / HTTP/1.1\" 200 615 \"-\" \"curl/8.14.1\"",
        "{ip} - - \"POST /api/v1/events HTTP/1.1\" 201 48 \"-\" \"python-requests/2.32.3\"",
        "{ip} - - \"GET /favicon.ico HTTP/1.1\" 404 153 \"-\" \"Mozilla/5.0\"",
    ],
};
const POSTGRES: Unit = Unit {
    name: "postgresql.service",
    ident: "postgres",
    facility: "local0.info",
    msgs: &[
        "[{n}] LOG:  checkpoint starting: time",
        "[{n}] LOG:  checkpoint complete: wrote {n} buffers (0.1%); 0 WAL file(s) added, 0 removed, 1 recycled",
        "[{n}] LOG:  automatic vacuum of table \"app.public.sessions\": index scans: 1",
        "[{n}] LOG:  duration: {s} ms  statement: SELECT count(*) FROM events",
    ],
};
const REDIS: Unit = Unit {
    name: "redis-server.service",
    ident: "redis-server",
    facility: "daemon.notice",
    msgs: &[
        "{n}:M * 100 changes in 300 seconds. Saving...",
        "{n}:M * Background saving started by pid {n}",
        "{n}:C * DB saved on disk",
        "{n}:M * Background saving terminated with success",
    ],
};
const DOCKER: Unit = Unit {
    name: "docker.service",
    ident: "dockerd",
    facility: "daemon.info",
    msgs: &[
        "time=\"{iso}\" level=info msg=\"ignoring event\" container={hex}{hex} module=libcontainerd namespace=moby topic=/tasks/delete type=\"*events.TaskDelete\"",
        "time=\"{iso}\" level=info msg=\"Container failed to exit within 10s of signal 15 - using the force\" container={hex}{hex}",
    ],
};
const CROND: Unit = Unit {
    name: "crond.service",
    ident: "crond",
    facility: "cron.info",
    msgs: &[
        "USER root pid {n} cmd run-parts /etc/periodic/15min",
        "USER root pid {n} cmd run-parts /etc/periodic/hourly",
    ],
};
pub(super) const FLOOD: Unit = Unit {
    name: FLOOD_UNIT,
    ident: "pvekit-flood",
    facility: "daemon.info",
    msgs: &["flood {k} the quick brown fox jumps over the lazy dog 0123456789"],
};

/// The units of a node.
pub(super) fn node() -> Vec<&'static Unit> {
    vec![&PVEPROXY, &PVEDAEMON, &PVESTATD, &CRON, &SSHD, &LOGIND]
}

/// The units of a container: its services follow its hostname (twice as chatty as the
/// rest), then cron (busybox crond without systemd) and sshd.
pub(super) fn container(ct: &CtInfo, seed: u64) -> Vec<&'static Unit> {
    let h = ct.hostname.to_ascii_lowercase();
    let has = |keys: &[&str]| keys.iter().any(|k| h.contains(k));
    let service: &'static Unit = if has(&["db", "sql", "pg", "postgres"]) {
        &POSTGRES
    } else if has(&["redis", "cache"]) {
        &REDIS
    } else if has(&["docker", "k8s", "ci"]) {
        &DOCKER
    } else if has(&["web", "www", "nginx", "proxy", "gw"]) {
        &NGINX
    } else {
        [&NGINX, &POSTGRES, &REDIS][(mix(seed ^ 0x5e41) % 3) as usize]
    };
    let cron = if ct.systemd() { &CRON } else { &CROND };
    vec![service, service, cron, &SSHD]
}
