//! The web dashboard in a real headless Chromium (Debian's chromium and chromium-driver,
//! driven over WebDriver with fantoccini), against `pvekit serve` over the simulator.
//! Screenshots of every view go to `target/screenshots/` on every run.

mod driver;

use std::time::Duration;

use pvekit::Client;
use pvekit_serve::{Running, Server};
use pvekit_sim::{RunningSim, SimOptions, Simulator};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

use crate::util::{fast, install_provider, lab, password_config, token_config};
use driver::Browser;

const WAIT: Duration = Duration::from_secs(20);

/// The page's own text of the guests table's row of `vmid`, or null.
const ROW_TEXT: &str = r#"
    const tr = [...document.querySelectorAll('table.guests tbody tr[data-key]')]
        .find(r => r.dataset.key.endsWith('/' + arguments[0]));
    return tr ? tr.innerText : null;"#;

async fn row_text(b: &Browser, vmid: u32) -> String {
    b.js(ROW_TEXT, vec![json!(vmid)])
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn wait_text(b: &Browser, what: &str, css: &str, needle: &str) -> String {
    let script = format!(
        "const e = document.querySelector({css}); const t = e ? e.innerText : ''; return t.includes({needle}) ? t : null;",
        css = json!(css),
        needle = json!(needle)
    );
    b.until(what, WAIT, &script)
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Bytes the page fetched: (over the wire, decoded), from the Resource Timing entries.
async fn transferred(b: &Browser) -> (u64, u64) {
    let v = b
        .js(
            r#"const all = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
                 .filter(e => !e.name.includes('/api/'));
               return [all.reduce((s, e) => s + e.transferSize, 0), all.reduce((s, e) => s + e.decodedBodySize, 0)];"#,
            vec![],
        )
        .await;
    (v[0].as_u64().unwrap_or(0), v[1].as_u64().unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_login_overview_guests_live_and_stale() {
    let lab = lab().await;
    lab.ready().await;
    let b = Browser::start().await;

    // Without the login link the page loads (it holds no data) but the API refuses.
    b.goto(&format!("{}/", lab.url)).await;
    wait_text(&b, "the signed-out notice", "main", "Not signed in").await;
    let status = b
        .js("return fetch('/api/v1/guests').then(r => r.status)", vec![])
        .await;
    assert_eq!(status, json!(401));

    // The login link sets the session and opens the overview.
    b.goto(lab.server().login_url().expose_secret()).await;
    b.until(
        "the overview's nodes",
        WAIT,
        "return document.querySelectorAll('section.cluster article.card.node').length === 2",
    )
    .await;
    let url = b.client.current_url().await.unwrap();
    assert_eq!(url.path(), "/", "the login link lands on the dashboard");
    assert!(
        !url.as_str().contains("code="),
        "no code left in the address"
    );
    let overview = wait_text(&b, "the cluster's counts", "section.cluster", "pve2").await;
    assert!(overview.contains("lab"), "{overview}");
    assert!(overview.contains("3 running"), "{overview}");
    b.until(
        "the gauges",
        WAIT,
        "return [...document.querySelectorAll('.gauge')].every(g => g.getAttribute('aria-valuetext'))",
    )
    .await;
    b.screenshot("overview").await;

    // The guests table: every guest, with its IPs.
    b.goto(&format!("{}/#/guests", lab.url)).await;
    b.until(
        "five guest rows",
        WAIT,
        "return document.querySelectorAll('table.guests tbody tr[data-key]').length === 5",
    )
    .await;
    let web = row_text(&b, 100).await;
    assert!(web.contains("web") && web.contains("10.0.0.100"), "{web}");
    assert!(web.contains("running") && web.contains("31.1 %"), "{web}");
    let busy = row_text(&b, 106).await;
    assert!(busy.contains("192.168.6.6"), "{busy}");
    assert!(row_text(&b, 102).await.contains("template"));
    b.screenshot("guests").await;
    // The dark theme (auto -> light -> dark), kept across reloads.
    b.click("#theme").await;
    b.click("#theme").await;
    let dark = b
        .js("return [document.documentElement.dataset.theme, getComputedStyle(document.body).backgroundColor]", vec![])
        .await;
    assert_eq!(dark[0], json!("dark"), "{dark}");
    assert_eq!(dark[1], json!("rgb(17, 20, 24)"), "{dark}");
    b.screenshot("guests-dark").await;
    b.click("#theme").await;

    // A counter change shows up without a reload: the simulator's clock moves an hour, so
    // the running guests' uptimes and traffic counters grow.
    b.js("window.__noReload = 1", vec![]).await;
    let before = row_text(&b, 106).await;
    lab.sim.advance_clock(Duration::from_secs(3600));
    let script = format!(
        "{ROW_TEXT_FN} const t = rowText(106); return t && t !== {before} && window.__noReload === 1 ? t : null;",
        ROW_TEXT_FN = "function rowText(v) { const tr = [...document.querySelectorAll('table.guests tbody tr[data-key]')].find(r => r.dataset.key.endsWith('/' + v)); return tr ? tr.innerText : null; }",
        before = json!(before)
    );
    let after = b.until("row 106 to change live", WAIT, &script).await;
    println!("row 106 before: {before:?}\nrow 106 after:  {after}");

    // Search: by IP, by tag-less name, by node.
    b.type_into("#guest-search", "192.168.6").await;
    b.until(
        "the search to leave one row",
        WAIT,
        "return document.querySelectorAll('table.guests tbody tr[data-key]').length === 1",
    )
    .await;
    assert!(row_text(&b, 106).await.contains("busy"));
    b.js("const s = document.getElementById('guest-search'); s.value = 'pve1'; s.dispatchEvent(new Event('input'));", vec![]).await;
    b.until(
        "the search by node",
        WAIT,
        "return document.querySelectorAll('table.guests tbody tr[data-key]').length === 3",
    )
    .await;
    // Sorting by name, descending on the second click.
    b.js("const s = document.getElementById('guest-search'); s.value = ''; s.dispatchEvent(new Event('input'));", vec![]).await;
    b.click("th.c-name button").await;
    b.click("th.c-name button").await;
    let names = b
        .js(
            "return [...document.querySelectorAll('table.guests tbody tr[data-key] td.c-name a')].map(a => a.textContent)",
            vec![],
        )
        .await;
    assert_eq!(names, json!(["web", "vm-agent", "tpl", "db", "busy"]));

    // A cluster that stops answering: a banner with the error and the age of the last
    // good poll, on every view.
    lab.sim.control().stop_listener("pve1").await.unwrap();
    let banner = wait_text(&b, "the stale banner", "#banners", "stopped answering").await;
    assert!(banner.contains("Cluster lab"), "{banner}");
    assert!(banner.contains("last good poll"), "{banner}");
    b.goto(&format!("{}/#/overview", lab.url)).await;
    wait_text(
        &b,
        "the stale cluster",
        "section.cluster",
        "stale, last good poll",
    )
    .await;
    b.screenshot("overview-stale").await;
    lab.sim.control().start_listener("pve1").unwrap();
    b.until(
        "the banner to go",
        Duration::from_secs(90),
        "return document.querySelectorAll('#banners .banner').length === 0",
    )
    .await;

    // Sign out: the session ends, the page says so.
    b.click("#logout").await;
    wait_text(&b, "the signed-out notice", "main", "Not signed in").await;
    b.close().await;
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_guest_actions_logs_and_terminal() {
    let lab = lab().await;
    lab.ready().await;
    let b = Browser::start().await;
    b.goto(lab.server().login_url().expose_secret()).await;
    b.until(
        "the session",
        WAIT,
        "return document.getElementById('who').textContent.includes('admin')",
    )
    .await;

    // Start a stopped container: the task's progress shows, then the guest runs.
    b.goto(&format!("{}/#/guest/lab/lxc/101", lab.url)).await;
    b.until(
        "the Start button",
        WAIT,
        "return document.querySelector('.actions button[data-action=start]')",
    )
    .await;
    let summary = wait_text(&b, "the IPs", "section[aria-label=Summary]", "10.0.0.101").await;
    assert!(summary.contains("IP addresses"), "{summary}");
    wait_text(&b, "the config", "table.config", "net0").await;
    b.click(".actions button[data-action=start]").await;
    b.until(
        "the task's progress",
        WAIT,
        "return document.querySelector('.task progress') && document.querySelector('.task h3').textContent.startsWith('Start')",
    )
    .await;
    let state = b
        .until(
            "the task's end",
            WAIT,
            "const s = document.querySelector('.task'); return s && s.dataset.state !== 'running' ? s.dataset.state + ': ' + s.innerText : null",
        )
        .await;
    assert!(state.as_str().unwrap().starts_with("ok"), "{state}");
    wait_text(&b, "the running state", "#guest-status", "running").await;
    b.until(
        "the actions of a running guest",
        WAIT,
        "return document.querySelector('.actions button[data-action=shutdown]')",
    )
    .await;
    b.screenshot("guest-started").await;

    // A guest that has run for a while: its history charts (uPlot) over the last hour.
    b.goto(&format!("{}/#/guest/lab/lxc/106", lab.url)).await;
    b.until(
        "the charts",
        WAIT,
        "return document.querySelectorAll('.charts .uplot canvas').length === 4",
    )
    .await;
    wait_text(&b, "the guest's actions", ".actions", "Shut down").await;
    b.screenshot("guest").await;
    let (wire, raw) = transferred(&b).await;
    println!(
        "page weight with a guest's charts (uPlot): {wire} bytes transferred, {raw} bytes decoded"
    );

    // A template's start fails: the task's own error text shows.
    b.goto(&format!("{}/#/guest/lab/lxc/102", lab.url)).await;
    b.until(
        "the template's actions",
        WAIT,
        "return document.querySelector('.more-actions button[data-action=start]')",
    )
    .await;
    b.click(".more-actions summary").await;
    b.click(".more-actions button[data-action=start]").await;
    let failed = b
        .until(
            "the template's start to fail",
            WAIT,
            "const s = document.querySelector('.task'); return s && s.dataset.state === 'failed' ? s.innerText : null",
        )
        .await;
    assert!(
        failed
            .as_str()
            .unwrap()
            .contains("you can't start a CT if it's a template"),
        "{failed}"
    );
    b.screenshot("guest-template-start-failed").await;

    // A node's journal: lines arrive and keep arriving.
    b.goto(&format!("{}/#/logs?node=pve1&limit=200&start=1", lab.url))
        .await;
    b.until(
        "journal lines",
        WAIT,
        "return document.querySelectorAll('#log-lines .line').length > 5",
    )
    .await;
    let seen = b
        .js(
            "return Number(document.getElementById('log-lines').dataset.count)",
            vec![],
        )
        .await;
    let more =
        format!("return Number(document.getElementById('log-lines').dataset.count) > {seen}");
    b.until("the journal to follow", WAIT, &more).await;
    b.screenshot("journal").await;

    // A tailed file whose line holds HTML and an OSC escape: shown as text, inert.
    let root = lab.sim.state_dir().join("nodes/pve1/var/log");
    std::fs::create_dir_all(&root).unwrap();
    let evil = root.join("pvekit-evil.log");
    std::fs::write(
        &evil,
        "first line\n<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned=2\"> \x1b]0;owned title\x07 \x1b[31mred\x1b[0m\n",
    )
    .unwrap();
    b.goto(&format!(
        "{}/#/logs?node=pve1&file=/var/log/pvekit-evil.log&limit=50&start=1",
        lab.url
    ))
    .await;
    let line = b
        .until(
            "the evil line",
            WAIT,
            "const l = [...document.querySelectorAll('#log-lines .line')].find(l => l.textContent.includes('script')); return l ? l.textContent : null",
        )
        .await;
    let line = line.as_str().unwrap();
    assert!(
        line.contains("<script>window.__pwned = 1</script>"),
        "{line}"
    );
    assert!(
        line.contains("\u{241b}]0;owned title\u{2407}"),
        "the OSC shows as control pictures: {line}"
    );
    assert!(line.contains(" red"), "colours are dropped: {line}");
    let inert = b
        .js(
            "return [window.__pwned === undefined, document.querySelectorAll('#log-lines script, #log-lines img').length, document.title]",
            vec![],
        )
        .await;
    assert_eq!(inert[0], json!(true), "{inert}");
    assert_eq!(inert[1], json!(0), "{inert}");
    assert!(!inert[2].as_str().unwrap().contains("owned"), "{inert}");
    // It keeps following the file.
    std::fs::write(
        &evil,
        format!("{}a later line\n", std::fs::read_to_string(&evil).unwrap()),
    )
    .unwrap();
    wait_text(&b, "the appended line", "#log-lines", "a later line").await;

    // The node's shell in xterm.js: typing `echo hi` shows `hi`.
    b.goto(&format!("{}/#/terminal?cluster=lab&node=pve1", lab.url))
        .await;
    b.until(
        "the shell",
        WAIT,
        "return document.getElementById('term-screen').dataset.state === 'open' && document.querySelector('.xterm-rows') && document.querySelector('.xterm-rows').textContent.trim().length > 0",
    )
    .await;
    b.type_into(".xterm-helper-textarea", "echo hi\n").await;
    b.until(
        "`hi` on the terminal",
        WAIT,
        "return [...document.querySelectorAll('.xterm-rows > div')].some(r => r.textContent.trim() === 'hi')",
    )
    .await;
    // Resize: the terminal follows its box and tells the server (the shell sees it).
    b.client.set_window_size(1100, 800).await.unwrap();
    b.type_into(".xterm-helper-textarea", "clear; stty size\n")
        .await;
    let size = b
        .until(
            "the new size in the shell",
            WAIT,
            "const rows = [...document.querySelectorAll('.xterm-rows > div')].map(r => r.textContent.trim()); return rows.find(r => /^\\d+ \\d+$/.test(r)) || null",
        )
        .await;
    println!("stty size after the resize: {size}");
    b.client.set_window_size(1440, 900).await.unwrap();
    b.type_into(".xterm-helper-textarea", "echo hi; uname -n\n")
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    b.screenshot("terminal").await;
    let (wire, raw) = transferred(&b).await;
    println!(
        "page weight with the terminal (xterm.js): {wire} bytes transferred, {raw} bytes decoded"
    );
    b.close().await;
    lab.stop().await;
}

/// A simulator with 1,000 containers on 4 nodes, and a server over it.
async fn big_lab() -> (RunningSim, Running) {
    install_provider();
    let sim = Simulator::start(SimOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        nodes: 4,
        containers: 1000,
        vms: 0,
        ..Default::default()
    })
    .await
    .expect("simulator starts");
    let mut config = password_config(&sim);
    let token = token_config(&sim);
    config.token_id = token.token_id;
    config.secret = token.secret;
    let client = Client::connect(&config).await.expect("client connects");
    let server = Server::start(vec![client], fast())
        .await
        .expect("server starts");
    (sim, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_a_thousand_guests_update_live() {
    let (sim, server) = big_lab().await;
    let b = Browser::start().await;
    b.goto(server.login_url().expose_secret()).await;
    b.until(
        "the session",
        WAIT,
        "return document.getElementById('who').textContent.length > 0",
    )
    .await;
    b.until(
        "the overview",
        Duration::from_secs(60),
        "return document.querySelectorAll('section.cluster article.card.node').length === 4",
    )
    .await;
    // A fresh profile: what the first visit costs (the page, its modules, styles and icon).
    let (wire, raw) = transferred(&b).await;
    println!(
        "page weight, first visit to the overview: {wire} bytes transferred (gzip), {raw} bytes decoded"
    );
    b.goto(&format!("{}/#/guests", server.url())).await;
    b.until(
        "1,000 guests",
        Duration::from_secs(60),
        "return document.getElementById('guest-count').textContent === '1000 of 1000 guests'",
    )
    .await;
    // Only the rows in view are in the DOM.
    let in_dom = b
        .js(
            "return document.querySelectorAll('table.guests tbody tr[data-key]').length",
            vec![],
        )
        .await;
    assert!(in_dom.as_u64().unwrap() < 120, "{in_dom} rows in the DOM");

    // Every poll changes the counters of every running guest: each poll's update carries all
    // of them, in messages of at most 100 guests that arrive together. (`/cluster/resources`
    // renews a node's figures every 10 s, at each node's own moment, as `pvestatd` does: the
    // simulator's clock is moved on by 10 s twice a second, so that each poll sees every
    // node's next figures.) The page times each message from its arrival to the table
    // redrawn and laid out; one poll's figure is the sum over its messages (those less than
    // 100 ms apart).
    sim.advance_clock(Duration::from_secs(600));
    let polls_js = "const l = window.pvekitMetrics.updates.filter(u => u.type === 'update'); \
        const polls = []; let cur = null; \
        for (const u of l) { \
          if (cur && u.at - cur.end < 100) { cur.guests += u.guests; cur.ms += u.ms; cur.messages += 1; cur.end = u.at + u.ms; } \
          else { cur = { guests: u.guests, ms: u.ms, messages: 1, end: u.at + u.ms }; polls.push(cur); } \
        } \
        const whole = polls.filter(p => p.guests >= 400); \
        return whole.length >= 5 ? { polls: whole, listed: window.pvekitMetrics.updates.filter(u => u.type === 'listed') } : null";
    let ticks = async {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            sim.advance_clock(Duration::from_secs(10));
        }
    };
    let found = tokio::select! {
        found = b.until("five whole-table updates", Duration::from_secs(30), polls_js) => found,
        never = ticks => never,
    };
    let mut figures: Vec<(u64, u64, f64)> = found["polls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["guests"].as_u64().unwrap(),
                p["messages"].as_u64().unwrap(),
                p["ms"].as_f64().unwrap(),
            )
        })
        .collect();
    figures.sort_by(|a, b| a.2.total_cmp(&b.2));
    if let Some(l) = found["listed"].as_array().and_then(|l| l.first()) {
        println!(
            "1,000-guest table, first listing's first message ({} guests): {:.1} ms in the page (parse, apply, sort, render, layout)",
            l["guests"],
            l["ms"].as_f64().unwrap_or(f64::NAN)
        );
    }
    println!(
        "1,000-guest table, live updates: {} polls of {} changed guests each (every running guest, in {} messages), median {:.1} ms, worst {:.1} ms in the page per poll",
        figures.len(),
        figures[0].0,
        figures[0].1,
        figures[figures.len() / 2].2,
        figures[figures.len() - 1].2
    );
    // Scrolled to the end, the last guests show; sorting by CPU keeps every guest.
    b.js(
        "document.querySelector('.table-scroll').scrollTop = 1e9",
        vec![],
    )
    .await;
    b.until(
        "the last rows",
        WAIT,
        "return [...document.querySelectorAll('table.guests tbody tr[data-key]')].some(r => r.getAttribute('aria-rowindex') === '1001')",
    )
    .await;
    b.click("th.c-cpu button").await;
    let first: Value = b
        .js("document.querySelector('.table-scroll').scrollTop = 0; return document.getElementById('guest-count').textContent", vec![])
        .await;
    assert_eq!(first, json!("1000 of 1000 guests"));
    b.screenshot("guests-1000").await;
    b.close().await;
    server.shutdown().await;
}
