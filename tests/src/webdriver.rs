//! A minimal W3C WebDriver client (the few commands the console's browser test needs) over
//! ureq, and chromedriver started on a free port with headless Debian chromium.
//!
//! Why not fantoccini: it brings hyper, its TLS stack and a second HTTP client into the
//! workspace for a dozen JSON calls to a driver on localhost; these calls are the protocol's
//! plain REST endpoints (<https://www.w3.org/TR/webdriver2/>), written here from the spec.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

/// The element reference key of the W3C protocol.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Debian's chromium and its driver, when installed.
#[derive(Debug, Clone)]
pub struct Browser {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

fn which(name: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    let from_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    from_path.or_else(|| fallbacks.iter().map(PathBuf::from).find(|p| p.is_file()))
}

impl Browser {
    /// Chromium and chromedriver from `PATH` (or `/usr/bin`, `/usr/lib/chromium`), or why not.
    ///
    /// # Errors
    /// What is missing and how to install it.
    pub fn find() -> Result<Browser, String> {
        let chromium = which(
            "chromium",
            &["/usr/bin/chromium", "/usr/lib/chromium/chromium"],
        );
        let chromedriver = which(
            "chromedriver",
            &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
        );
        match (chromium, chromedriver) {
            (Some(chromium), Some(chromedriver)) => Ok(Browser { chromium, chromedriver }),
            (c, d) => Err(format!(
                "{} not installed: apt-get install -y --no-install-recommends chromium chromium-driver \
                 (.ci/run installs them)",
                match (c, d) {
                    (None, None) => "chromium and chromedriver are",
                    (None, Some(_)) => "chromium is",
                    _ => "chromedriver is",
                }
            )),
        }
    }
}

/// A running chromedriver (stopped on drop).
#[derive(Debug)]
pub struct Driver {
    child: Child,
    base: String,
    agent: ureq::Agent,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

impl Driver {
    /// Starts `chromedriver` on a free port and waits until it is ready.
    ///
    /// # Errors
    /// It cannot be started or is not ready within 20 s.
    pub fn start(browser: &Browser) -> anyhow::Result<Driver> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(&browser.chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", browser.chromedriver.display()))?;
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            agent: agent(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = driver
                .agent
                .get(format!("{}/status", driver.base))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                return Ok(driver);
            }
            if Instant::now() > deadline {
                bail!("chromedriver on port {port} was not ready within 20 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A new headless chromium session with a window of `width` x `height`.
    ///
    /// # Errors
    /// The driver refused to start the browser.
    pub fn session(&self, browser: &Browser, width: u32, height: u32) -> anyhow::Result<Session> {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": browser.chromium.to_string_lossy(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--lang=zh-CN", format!("--window-size={width},{height}")]
            }
        }}});
        let value = call(
            &self.agent,
            "POST",
            &format!("{}/session", self.base),
            Some(caps),
        )?;
        let id = value["sessionId"]
            .as_str()
            .context("no sessionId in the driver's answer")?
            .to_owned();
        Ok(Session {
            url: format!("{}/session/{id}", self.base),
            agent: self.agent.clone(),
        })
    }
}

/// One WebDriver command: its `value`, or the driver's error.
fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut response = match (method, body) {
        ("GET", _) => agent.get(url).call()?,
        ("DELETE", _) => agent.delete(url).call()?,
        (_, body) => agent
            .post(url)
            .send_json(body.unwrap_or_else(|| json!({})))?,
    };
    let status = response.status().as_u16();
    let json: Value = response.body_mut().read_json()?;
    if status >= 400 {
        bail!(
            "WebDriver {method} {url}: HTTP {status} {} {}",
            json["value"]["error"],
            json["value"]["message"]
        );
    }
    Ok(json["value"].clone())
}

/// A browser session (closed on drop).
#[derive(Debug)]
pub struct Session {
    url: String,
    agent: ureq::Agent,
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = call(&self.agent, "DELETE", &self.url, None);
    }
}

/// An element of the current page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Session {
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        call(&self.agent, method, &format!("{}{path}", self.url), body)
    }

    /// Opens `url` and waits for the page to load.
    ///
    /// # Errors
    /// The driver failed.
    pub fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.cmd("POST", "/url", Some(json!({"url": url})))
            .map(|_| ())
    }

    /// The current URL.
    ///
    /// # Errors
    /// The driver failed.
    pub fn current_url(&self) -> anyhow::Result<String> {
        Ok(self
            .cmd("GET", "/url", None)?
            .as_str()
            .unwrap_or("")
            .to_owned())
    }

    /// The current page's HTML.
    ///
    /// # Errors
    /// The driver failed.
    pub fn source(&self) -> anyhow::Result<String> {
        Ok(self
            .cmd("GET", "/source", None)?
            .as_str()
            .unwrap_or("")
            .to_owned())
    }

    /// The first element matching a CSS selector.
    ///
    /// # Errors
    /// None matches, or the driver failed.
    pub fn find(&self, css: &str) -> anyhow::Result<Element> {
        let v = self
            .cmd(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .with_context(|| format!("no element {css}"))?;
        Ok(Element(
            v[ELEMENT]
                .as_str()
                .context("no element reference")?
                .to_owned(),
        ))
    }

    /// Types `text` into an element.
    ///
    /// # Errors
    /// The driver failed.
    pub fn type_into(&self, e: &Element, text: &str) -> anyhow::Result<()> {
        self.cmd(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({"text": text})),
        )
        .map(|_| ())
    }

    /// Clicks an element (a submit button waits for the next page).
    ///
    /// # Errors
    /// The driver failed.
    pub fn click(&self, e: &Element) -> anyhow::Result<()> {
        self.cmd("POST", &format!("/element/{}/click", e.0), Some(json!({})))
            .map(|_| ())
    }

    /// An element's rendered text.
    ///
    /// # Errors
    /// The driver failed.
    pub fn text(&self, e: &Element) -> anyhow::Result<String> {
        Ok(self
            .cmd("GET", &format!("/element/{}/text", e.0), None)?
            .as_str()
            .unwrap_or("")
            .to_owned())
    }

    /// Runs asynchronous JavaScript (the last argument is the callback) and returns its result.
    ///
    /// # Errors
    /// The script failed or the driver did.
    pub fn execute_async(&self, script: &str, args: Value) -> anyhow::Result<Value> {
        self.cmd(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Deletes every cookie (signs out without the form).
    ///
    /// # Errors
    /// The driver failed.
    pub fn delete_cookies(&self) -> anyhow::Result<()> {
        self.cmd("DELETE", "/cookie", None).map(|_| ())
    }

    /// Resizes the window.
    ///
    /// # Errors
    /// The driver failed.
    pub fn resize(&self, width: u32, height: u32) -> anyhow::Result<()> {
        self.cmd(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .map(|_| ())
    }

    /// Saves a PNG screenshot of the window to `path`.
    ///
    /// # Errors
    /// The driver failed, or the file cannot be written.
    pub fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        use base64::Engine as _;
        let b64 = self.cmd("GET", "/screenshot", None)?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or(""))
            .context("the screenshot is not base64")?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png).with_context(|| format!("cannot write {}", path.display()))
    }
}
