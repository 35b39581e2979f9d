//! A headless Chromium driven over WebDriver: one chromedriver per test on a free port
//! (killed, with its browser, on drop), one session with a fresh profile.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A browser session and the chromedriver behind it.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().unwrap().port()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium (as root: `--no-sandbox`).
    pub async fn start() -> Browser {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists(),
            "browser tests need Debian's chromium and chromium-driver (scripts/test installs them)"
        );
        let port = free_port();
        let mut cmd = Command::new(CHROMEDRIVER);
        cmd.arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, so that drop ends chromedriver and the browser it started.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let driver = cmd.spawn().expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("a profile directory");
        let browser = Browser {
            client: connect(port, &profile).await,
            driver,
            _profile: profile,
        };
        browser
            .client
            .set_window_size(1440, 900)
            .await
            .expect("window size");
        browser
    }

    /// Ends the session (the browser quits) before the driver is killed on drop.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigation");
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns its value; a
    /// returned promise is awaited.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `script` returns something truthy; returns it. Panics with `what` and
    /// the page's text on timeout.
    pub async fn until(&self, what: &str, timeout: Duration, script: &str) -> Value {
        let start = Instant::now();
        loop {
            if let Ok(v) = self.client.execute(script, vec![]).await
                && truthy(&v)
            {
                return v;
            }
            if start.elapsed() > timeout {
                let text = self
                    .js("return document.body.innerText", vec![])
                    .await
                    .as_str()
                    .unwrap_or_default()
                    .chars()
                    .take(3000)
                    .collect::<String>();
                self.screenshot(&format!("failed-{}", what.replace(' ', "-")))
                    .await;
                panic!("timed out after {timeout:?} waiting for {what}; the page says:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("cannot type into {css}: {e}"));
    }

    /// Writes a PNG of the viewport to `target/screenshots/NAME.png`; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).expect("screenshots directory");
        let path = dir.join(format!("{name}.png"));
        match self.client.screenshot().await {
            Ok(png) => std::fs::write(&path, png).expect("screenshot written"),
            Err(e) => eprintln!("screenshot {name} failed: {e}"),
        }
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: chromedriver and the Chromium it started.
        let pgid = self.driver.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// `screenshots/` in the target directory this test binary was built into (it runs from
/// `target/debug/deps/`), so `CARGO_TARGET_DIR` is respected.
pub fn screenshots_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .ancestors()
        .find(|p| p.join("CACHEDIR.TAG").exists())
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("screenshots")
}

async fn connect(port: u16, profile: &tempfile::TempDir) -> Client {
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--window-size=1440,900",
                "--force-color-profile=srgb",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    let url = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => return c,
            Err(e) if start.elapsed() < Duration::from_secs(20) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no WebDriver session on {url}: {e}"),
        }
    }
}
