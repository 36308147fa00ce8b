//! Drives the real app's webview through WebDriver: `tauri-driver` (from crates.io) in front of
//! WebKitGTK's own driver (`WebKitWebDriver`, Debian package `webkit2gtk-driver`), which starts
//! the app binary given in the session's `tauri:options`. Only the W3C WebDriver calls the tests
//! use, over the crate's plain HTTP client.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::{free_port, http, wait_until};

/// The key W3C WebDriver uses for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// Starting the app and its web process can take a while on a loaded 2-core machine.
const SESSION_TIMEOUT: Duration = Duration::from_secs(60);
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// `tauri-driver` on PATH or in cargo's bin directory.
pub fn tauri_driver() -> Option<PathBuf> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|d| d.join("bin/tauri-driver"));
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("tauri-driver"))
        .chain(cargo_bin)
        .find(|p| p.is_file())
}

/// What the WebDriver tests need that is not here, if anything.
pub fn missing() -> Option<String> {
    let mut missing = Vec::new();
    if tauri_driver().is_none() {
        missing.push("tauri-driver (cargo install tauri-driver --locked)");
    }
    if !Path::new("/usr/bin/WebKitWebDriver").exists() {
        missing.push("WebKitWebDriver (Debian package webkit2gtk-driver)");
    }
    (!missing.is_empty()).then(|| missing.join(", "))
}

/// A running `tauri-driver`; stopped on drop.
pub struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// Starts the driver with `cmd`'s environment (the machine's HOME and XDG directories, the
    /// desktop's DISPLAY and bus), which the app it starts inherits.
    pub fn start(mut cmd: Command) -> Self {
        let port = free_port();
        let native = std::iter::repeat_with(free_port)
            .find(|&p| p != port)
            .unwrap();
        let child = cmd
            .args(["--port", &port.to_string()])
            .args(["--native-port", &native.to_string()])
            .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
            .stdin(Stdio::null())
            .spawn()
            .expect("start tauri-driver");
        let driver = Self { child, port };
        assert!(
            wait_until(Duration::from_secs(20), || http::port_open(port)),
            "tauri-driver did not listen on port {port}"
        );
        driver
    }

    /// A session with `app` started with `args`.
    pub fn session(&self, app: &Path, args: &[&str]) -> Session {
        let base = format!("http://127.0.0.1:{}", self.port);
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "tauri:options": { "application": app, "args": args }
                }
            }
        });
        let value = call(
            "POST",
            &format!("{base}/session"),
            Some(&caps),
            SESSION_TIMEOUT,
        );
        let id = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {value}"))
            .to_owned();
        Session {
            url: format!("{base}/session/{id}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn call(method: &str, url: &str, body: Option<&Value>, timeout: Duration) -> Value {
    let body = body.map(Value::to_string).or_else(|| {
        // WebDriver wants a JSON body on every POST.
        (method == "POST").then(|| "{}".to_owned())
    });
    let response =
        http::call(method, url, body, timeout).unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let json = response.json();
    assert!(
        response.status == 200,
        "{method} {url}: {} {}",
        response.status,
        json
    );
    json["value"].clone()
}

/// One WebDriver session: the app's window. Ended (the app closed) on drop.
pub struct Session {
    url: String,
}

impl Session {
    fn post(&self, path: &str, body: &Value) -> Value {
        call(
            "POST",
            &format!("{}{path}", self.url),
            Some(body),
            CALL_TIMEOUT,
        )
    }

    /// Elements matching `css`, as WebDriver references.
    pub fn find_all(&self, css: &str) -> Vec<String> {
        let found = self.post(
            "/elements",
            &json!({ "using": "css selector", "value": css }),
        );
        found
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The rendered text of the first element matching `css`, if there is one.
    pub fn text(&self, css: &str) -> Option<String> {
        let element = self.find_all(css).into_iter().next()?;
        let text = call(
            "GET",
            &format!("{}/element/{element}/text", self.url),
            None,
            CALL_TIMEOUT,
        );
        text.as_str().map(str::to_owned)
    }

    /// Waits until the first element matching `css` has text for which `ok` holds; returns it.
    pub fn wait_text(&self, css: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
        let mut last = None;
        let seen = wait_until(timeout, || {
            last = self.text(css);
            last.as_deref().is_some_and(&ok)
        });
        assert!(
            seen,
            "{css} never showed the expected text; last: {last:?}\npage: {:?}",
            self.text("body")
        );
        last.unwrap_or_default()
    }

    /// Clicks the first element matching `css` (waiting for it to exist).
    pub fn click(&self, css: &str) {
        let mut element = None;
        let found = wait_until(Duration::from_secs(20), || {
            element = self.find_all(css).into_iter().next();
            element.is_some()
        });
        assert!(
            found,
            "nothing matches {css}; page: {:?}",
            self.text("body")
        );
        let element = element.unwrap_or_default();
        self.post(&format!("/element/{element}/click"), &json!({}));
    }

    /// Clicks the first button whose text is `label`.
    pub fn click_button(&self, label: &str) {
        let script = "return [...document.querySelectorAll('button')]\
                      .filter(b => b.textContent === arguments[0] && !b.disabled).length";
        let ready = wait_until(Duration::from_secs(20), || {
            self.execute(script, &[json!(label)]).as_u64() > Some(0)
        });
        assert!(
            ready,
            "no enabled button {label:?}; page: {:?}",
            self.text("body")
        );
        self.execute(
            "[...document.querySelectorAll('button')]\
             .find(b => b.textContent === arguments[0] && !b.disabled).click()",
            &[json!(label)],
        );
    }

    /// A PNG of the window's page as it is drawn now.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let shot = call(
            "GET",
            &format!("{}/screenshot", self.url),
            None,
            CALL_TIMEOUT,
        );
        base64::engine::general_purpose::STANDARD
            .decode(shot.as_str().unwrap_or_default())
            .expect("the screenshot is base64")
    }

    /// Runs `script` in the page with `args`; returns its value.
    pub fn execute(&self, script: &str, args: &[Value]) -> Value {
        self.post("/execute/sync", &json!({ "script": script, "args": args }))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = http::call("DELETE", &self.url, None, CALL_TIMEOUT);
    }
}
