//! termproxy, vncwebsocket and the sandboxed node shell.

use std::time::Duration;

use crate::termutil::{Who, open_ws, port, session, term_opts, termproxy};
use crate::util::start;

#[tokio::test]
async fn termproxy_answer_task_and_errors() {
    let s = start(term_opts()).await;
    let login = s.login().await;
    let d = termproxy(&s, &Who::Root(&login), "/nodes/pve1", &[]).await;
    let obj = d.as_object().expect("object");
    assert_eq!(obj.len(), 4, "{d}");
    // A string, as a real Proxmox VE 9 answers it.
    assert!(d["port"].is_string(), "{d}");
    assert_eq!(d["user"], "root@pam");
    let port = port(&d);
    assert!((5900..=5999).contains(&port));
    let ticket = d["ticket"].as_str().expect("ticket");
    assert!(
        ticket.starts_with("PVEVNC:") && ticket.contains("::"),
        "{ticket}"
    );
    let upid = d["upid"].as_str().expect("upid");
    assert!(upid.ends_with(":vncshell::root@pam:"), "{upid}");
    let t = s.task(upid).await;
    assert_eq!(t["status"], "running");
    assert_eq!(t["type"], "vncshell");

    // A second session gets another port; a token's answer names the token.
    let d2 = termproxy(&s, &Who::Token, "/nodes/pve1", &[]).await;
    assert_eq!(d2["user"], s.sim.info().token_id.as_str());
    assert_ne!(d2["port"], d["port"]);
    assert!(
        d2["upid"]
            .as_str()
            .unwrap()
            .contains(":vncshell::root@pam!pvekit:")
    );

    // LXC: vncproxy with the VMID.
    let d3 = termproxy(&s, &Who::Token, "/nodes/pve1/lxc/100", &[]).await;
    assert!(d3["upid"].as_str().unwrap().contains(":vncproxy:100:"));

    // CSRF is required with a ticket.
    let r = s
        .send(
            s.http
                .post(s.url("/nodes/pve1/termproxy"))
                .header("Cookie", format!("PVEAuthCookie={}", login.ticket)),
        )
        .await;
    assert_eq!(r.status, 401);
    // Offline node, unknown container, bad cmd.
    let r = s.post("/nodes/pve3/termproxy", &[]).await;
    assert_eq!(r.status, 595);
    let r = s.post("/nodes/pve1/lxc/999/termproxy", &[]).await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.message(),
        "Configuration file 'nodes/pve1/lxc/999.conf' does not exist\n"
    );
    let r = s.post("/nodes/pve1/termproxy", &[("cmd", "bash")]).await;
    assert_eq!(r.status, 400);

    // A session ends its task and frees its port.
    let (mut term, d4) = session(&s, &Who::Root(&login), "/nodes/pve1").await;
    term.until("# ").await;
    term.input("exit\r").await;
    assert!(term.wait_end(10).await);
    assert!(!term.close_frame, "the session ends without a close frame");
    let t = s.task(d4["upid"].as_str().unwrap()).await;
    assert_eq!(t["status"], "stopped", "{t}");
    assert_eq!(t["exitstatus"], "OK");
}

#[tokio::test]
async fn vnc_ticket_checks() {
    let s = start(term_opts()).await;
    let login = s.login().await;
    let root = Who::Root(&login);
    let d = termproxy(&s, &root, "/nodes/pve1", &[]).await;
    let port = port(&d);
    let ticket = d["ticket"].as_str().unwrap();
    // Wrong port, wrong path, other identity.
    assert_eq!(
        open_ws(&s, &root, "/nodes/pve1", port + 1, ticket, None)
            .await
            .err(),
        Some(401)
    );
    assert_eq!(
        open_ws(&s, &root, "/nodes/pve1/lxc/100", port, ticket, None)
            .await
            .err(),
        Some(401)
    );
    assert_eq!(
        open_ws(&s, &Who::Token, "/nodes/pve1", port, ticket, None)
            .await
            .err(),
        Some(401)
    );
    let r = s
        .send(
            s.http
                .get(s.url("/nodes/pve1/vncwebsocket"))
                .header("Cookie", format!("PVEAuthCookie={}", login.ticket))
                .query(&[
                    ("port", port.to_string()),
                    ("vncticket", "PVEVNC:00000000::abc".into()),
                ]),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.message(), "permission denied - invalid PVEVNC ticket\n");
    // Without Upgrade the call answers {port}.
    let r = s
        .send(
            s.http
                .get(s.url("/nodes/pve1/vncwebsocket"))
                .header("Cookie", format!("PVEAuthCookie={}", login.ticket))
                .query(&[
                    ("port", port.to_string()),
                    ("vncticket", ticket.to_string()),
                ]),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["port"], port.to_string());
    // Expired: older than 40 s.
    s.sim.advance_clock(Duration::from_secs(41));
    let login2 = s.login().await;
    assert_eq!(
        open_ws(&s, &Who::Root(&login2), "/nodes/pve1", port, ticket, None)
            .await
            .err(),
        Some(401)
    );
}

#[tokio::test]
async fn root_shell_prompt_resize_and_framed_commands() {
    let s = start(term_opts()).await;
    let login = s.login().await;
    let root = Who::Root(&login);
    let d = termproxy(&s, &root, "/nodes/pve1", &[]).await;
    // No subprotocol requested: none echoed.
    let t = open_ws(
        &s,
        &root,
        "/nodes/pve1",
        port(&d),
        d["ticket"].as_str().unwrap(),
        None,
    )
    .await
    .expect("ws");
    assert_eq!(t.protocol, None);
    drop(t);

    let (mut t, _) = session(&s, &root, "/nodes/pve1").await;
    assert_eq!(t.protocol.as_deref(), Some("binary"));
    let banner = t.until("root@pve1:~# ").await;
    assert!(banner.contains("Linux pve1 "), "{banner}");
    assert!(
        banner.contains("Debian GNU/Linux comes with ABSOLUTELY NO WARRANTY"),
        "{banner}"
    );
    // Keepalives vanish; input echoes; output comes back.
    t.send_raw(b"2").await;
    t.input("cat /etc/hostname\r").await;
    let out = t.until("root@pve1:~# ").await;
    assert!(out.contains("cat /etc/hostname\r\npve1\r\n"), "{out:?}");
    t.input("stty size\r").await;
    assert!(t.until("root@pve1:~# ").await.contains("\r\n20 80\r\n"));
    t.resize(132, 43).await;
    t.input("stty size\r").await;
    // (readline redraws the prompt on SIGWINCH first.)
    let out = t.until("43 132\r\n").await;
    assert!(out.ends_with("stty size\r\n43 132\r\n"), "{out:?}");
    t.until("root@pve1:~# ").await;
    t.input("echo $TERM $HOME $USER\r").await;
    assert!(
        t.until("root@pve1:~# ")
            .await
            .contains("xterm-256color /root root")
    );

    // Writes stay in the node's root; /usr is read-only.
    let (out, code) = t
        .framed("echo probe > /pvekit-host-probe && ls / | grep -c pvekit-host-probe; touch /usr/pvekit-x 2>/dev/null || echo ro")
        .await;
    assert_eq!(out, "1\nro\n");
    assert_eq!(code, 0);
    assert!(!std::path::Path::new("/pvekit-host-probe").exists());
    assert!(
        s.sim
            .state_dir()
            .join("nodes/pve1/pvekit-host-probe")
            .exists()
    );
    assert!(t.wait_end(10).await, "exit ends the session");
    assert!(!t.close_frame);

    let (mut t, _) = session(&s, &root, "/nodes/pve1").await;
    t.until("# ").await;
    let (out, code) = t.framed("printf 'a\\nb'; exit 3").await;
    assert_eq!(out, "a\nb");
    assert_eq!(code, 3);
}

#[tokio::test]
async fn pct_exec_and_enter() {
    let s = start(term_opts()).await;
    let login = s.login().await;
    let root = Who::Root(&login);
    let (mut t, _) = session(&s, &root, "/nodes/pve1").await;
    t.until("# ").await;
    let script = "pct exec 100 -- cat /etc/hostname; echo rc=$?; \
        pct exec 100 -- sh -c 'echo out; echo err >&2; exit 7' 2>/tmp/e; echo rc=$? $(cat /tmp/e); \
        pct exec 101 -- true 2>/tmp/e; echo rc=$?; cat /tmp/e; \
        pct exec 999 -- true 2>&1; echo rc=$?; \
        pct exec 200 -- true 2>&1; echo rc=$?; \
        pct exec 100 -- sh -c 'echo hi > /root/f; [ -d /run/systemd/system ] && echo systemd'; \
        cat /var/lib/lxc/100/rootfs/root/f; test -e /root/f || echo node-clean; \
        pct status 101; pct enter 101 2>&1; echo rc=$?";
    let (out, code) = t.framed(script).await;
    assert_eq!(code, 0);
    let want = "web\nrc=0\nout\nrc=7 err\nrc=1\n\
        lxc-attach: 101: ../src/lxc/attach.c: get_attach_context: 405 Connection refused - Failed to get init pid\n\
        lxc-attach: 101: ../src/lxc/tools/lxc_attach.c: lxc_attach_main: 400 Connection refused - Failed to attach to container\n\
        Configuration file 'nodes/pve1/lxc/999.conf' does not exist\nrc=255\n\
        Configuration file 'nodes/pve1/lxc/200.conf' does not exist\nrc=255\n\
        systemd\nhi\nnode-clean\nstatus: stopped\nError: container '101' not running!\nrc=255\n";
    assert_eq!(out, want);

    // pct enter: an interactive shell in the container.
    let (mut t, _) = session(&s, &root, "/nodes/pve1").await;
    t.until("root@pve1:~# ").await;
    t.input("pct enter 100\r").await;
    t.until("root@web:~# ").await;
    t.input("cat /etc/hostname\r").await;
    assert!(t.until("root@web:~# ").await.contains("\r\nweb\r\n"));
    t.input("exit\r").await;
    t.until("root@pve1:~# ").await;
}

#[tokio::test]
async fn journalctl_on_node_and_in_containers() {
    let s = start(term_opts()).await;
    let login = s.login().await;
    let root = Who::Root(&login);
    let (mut t, _) = session(&s, &root, "/nodes/pve1").await;
    t.until("# ").await;
    let (out, code) = t
        .framed("journalctl -n 5 -u pvestatd --no-pager; journalctl -n 3 -o short-iso --no-pager | grep -c '^20[0-9-]*T[0-9:]*+00:00 pve1 '; pct exec 100 -- journalctl -n 2 --no-pager; journalctl --bogus; echo rc=$?; journalctl -u nothing -n 3")
        .await;
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5 + 1 + 2 + 2 + 1, "{out}");
    assert!(
        lines[..5].iter().all(|l| l.contains(" pve1 pvestatd[")),
        "{out}"
    );
    assert_eq!(lines[5], "3");
    assert!(
        lines[6].contains(" web ") && lines[7].contains(" web "),
        "{out}"
    );
    assert_eq!(lines[8], "journalctl: unrecognized option '--bogus'");
    assert_eq!(lines[9], "rc=1");
    assert_eq!(lines[10], "-- No entries --");

    // -f: new lines keep arriving.
    let (mut t, _) = session(&s, &root, "/nodes/pve1").await;
    t.until("# ").await;
    t.input("journalctl -f -n 1\r").await;
    t.until("journalctl -f -n 1\r\n").await;
    t.collect(1500).await;
    let n = t.text().matches(" pve1 ").count();
    assert!(n >= 4, "only {n} lines: {}", t.text());
    // Ctrl-C stops it.
    t.input("\u{3}").await;
    t.until("root@pve1:~# ").await;

    // The flood unit is fast.
    t.input("journalctl -u pvekit-flood -f | head -c 2000000 | wc -c\r")
        .await;
    t.until("2000000").await;
}

#[tokio::test]
async fn container_without_systemd_uses_var_log_messages() {
    let s = start(term_opts()).await;
    let login = s.login().await;
    let (mut t, _) = session(&s, &Who::Root(&login), "/nodes/pve1").await;
    t.until("# ").await;
    let (out, code) = t
        .framed(
            "pct exec 102 -- sh -c 'if [ -d /run/systemd/system ] && command -v journalctl >/dev/null 2>&1; then exec journalctl -n 3; else exec tail -n 3 /var/log/messages; fi'",
        )
        .await;
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.lines().all(|l| l.contains(" alpine1 ")), "{out}");
    // tail -F follows the growing file.
    let (mut t, _) = session(&s, &Who::Root(&login), "/nodes/pve1").await;
    t.until("# ").await;
    t.input("pct exec 102 -- sh -c 'exec tail -n 0 -F /var/log/messages'\r")
        .await;
    t.until("messages'\r\n").await;
    t.collect(1500).await;
    let n = t.text().matches(" alpine1 ").count();
    assert!(n >= 3, "only {n} new lines: {}", t.text());
}

#[tokio::test]
async fn token_and_other_users_get_a_login_prompt() {
    let s = start(term_opts()).await;
    let (mut t, d) = session(&s, &Who::Token, "/nodes/pve1").await;
    assert_eq!(d["user"], "root@pam!pvekit");
    t.until("pve1 login: ").await;
    t.input("root\r").await;
    t.until("Password: ").await;
    t.input("secret\r").await;
    let out = t.until("pve1 login: ").await;
    assert!(out.contains("Login incorrect"), "{out}");
    assert!(!out.contains("secret"), "no echo of the password");
    assert!(!t.text().contains('#'));
}

#[tokio::test]
async fn lxc_console() {
    let s = start(term_opts()).await;
    // cmode shell: a root shell in the container.
    let (mut t, _) = session(&s, &Who::Token, "/nodes/pve1/lxc/100").await;
    t.until("root@web:~# ").await;
    t.input("cat /etc/hostname\r").await;
    assert!(t.until("root@web:~# ").await.contains("\r\nweb\r\n"));
    // cmode tty (default): the getty login prompt.
    let (mut t, _) = session(&s, &Who::Token, "/nodes/pve1/lxc/103").await;
    let out = t.until("app login: ").await;
    assert!(out.contains("Debian GNU/Linux 12 app tty1"), "{out:?}");
    // Stopped: the session ends at once.
    let (mut t, d) = session(&s, &Who::Token, "/nodes/pve1/lxc/101").await;
    assert!(t.wait_end(5).await);
    assert!(!t.close_frame);
    let _ = d;
}

#[tokio::test]
async fn websocket_framing() {
    let s = start(term_opts()).await;
    let login = s.login().await;
    let (mut t, d) = session(&s, &Who::Root(&login), "/nodes/pve1").await;
    t.until("# ").await;
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    // Text frames carry protocol bytes too; pings get pongs.
    t.ws.send(Message::Text("0:12:echo framed\r".into()))
        .await
        .unwrap();
    t.until("framed\r\n").await;
    t.ws.send(Message::Ping(b"hi".to_vec().into()))
        .await
        .unwrap();
    // Close from the client: no close frame comes back; the task ends.
    t.ws.send(Message::Close(None)).await.unwrap();
    assert!(t.wait_end(5).await);
    assert!(!t.close_frame, "no close frame back");
    let upid = d["upid"].as_str().unwrap();
    for _ in 0..50 {
        if s.task(upid).await["status"] == "stopped" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(s.task(upid).await["status"], "stopped");
    assert_eq!(s.sim.terminal_sessions(), 0);
}

#[tokio::test]
async fn rest_journal() {
    let s = start(term_opts()).await;
    let d = s.data("/nodes/pve1/journal?lastentries=5").await;
    let lines: Vec<&str> = d
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(lines.len(), 7, "{lines:?}");
    assert!(lines[0].starts_with("s=") && lines[6].starts_with("s="));
    assert!(
        lines[1..6].iter().all(|l| l.contains(" pve1 ")),
        "{lines:?}"
    );
    s.sim.advance_clock(Duration::from_secs(2));
    let more = s
        .data(&format!(
            "/nodes/pve1/journal?startcursor={}",
            lines[6].replace(';', "%3B").replace('=', "%3D")
        ))
        .await;
    assert!(more.as_array().unwrap().len() >= 2 + 9, "{more}");
    let r = s.get("/nodes/pve3/journal").await;
    assert_eq!(r.status, 595);
    let r = s.get("/nodes/pve1/journal?lastentries=-1").await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn rest_journal_bounds_never_overflow() {
    let s = start(term_opts()).await;
    let cursor = |i: &str| format!("s%3Dx%3Bi%3D{i}%3Bb%3Dx");
    // Cursors past every entry: nothing after them; everything before them.
    for i in [
        "7fffffffffffffff",
        "7ffffffffffffffe",
        "8000000000000000",
        "ffffffffffffffff",
    ] {
        let d = s
            .data(&format!("/nodes/pve1/journal?startcursor={}", cursor(i)))
            .await;
        assert_eq!(d, serde_json::json!([]), "startcursor i={i}");
        let d = s
            .data(&format!("/nodes/pve1/journal?endcursor={}", cursor(i)))
            .await;
        assert_eq!(d.as_array().unwrap().len(), 52, "endcursor i={i}");
        let d = s
            .data(&format!(
                "/nodes/pve1/journal?startcursor={}&endcursor={}&lastentries=18446744073709551615",
                cursor(i),
                cursor(i)
            ))
            .await;
        assert_eq!(d, serde_json::json!([]), "both i={i}");
    }
    // The first entry and before.
    let d = s
        .data(&format!("/nodes/pve1/journal?endcursor={}", cursor("0")))
        .await;
    assert_eq!(d, serde_json::json!([]));
    // Times at the very end of the range.
    for q in [
        "since=9223372036854775807",
        "since=18446744073709551615",
        "until=9223372036854775807&lastentries=3",
        "until=18446744073709551615&since=9223372036854775807",
        "lastentries=18446744073709551615",
    ] {
        let r = s.get(&format!("/nodes/pve1/journal?{q}")).await;
        assert_eq!(r.status, 200, "{q}: {}", String::from_utf8_lossy(&r.body));
    }
    // Garbage cursors: mini-journalreader fails, as on Proxmox VE.
    for c in [
        "garbage",
        "i%3D",
        "i%3D-5",
        "i%3Dzz",
        "i%3D%2B5",
        "i%3D1ffffffffffffffff",
    ] {
        let r = s.get(&format!("/nodes/pve1/journal?startcursor={c}")).await;
        assert_eq!(r.status, 500, "{c}");
        assert_eq!(
            r.message(),
            "command '/usr/bin/mini-journalreader' failed: exit code 1\n",
            "{c}"
        );
    }
    // Perl-false values are not passed on at all.
    let d = s.data("/nodes/pve1/journal?startcursor=0").await;
    assert_eq!(d.as_array().unwrap().len(), 52);
}
