//! A headless desktop for the menu-bar app: an X server (Xvfb), a session bus (dbus-daemon),
//! and a real notification daemon (dunst), plus readers for what the app shows there: its tray
//! menu as the desktop's tray host sees it (the `com.canonical.dbusmenu` object that
//! libayatana-appindicator exports), and the notifications dunst received.
//!
//! Every process is a child of this guard and is killed when it drops.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use zbus::zvariant::{OwnedValue, Value as ZValue};

use crate::wait_until;

/// The Debian packages that provide the desktop's programs.
pub const PROGRAMS: [(&str, &str); 4] = [
    ("/usr/bin/Xvfb", "xvfb"),
    ("/usr/bin/dbus-daemon", "dbus"),
    ("/usr/bin/dunst", "dunst"),
    ("/usr/bin/dunstctl", "dunst"),
];

/// Where libayatana-appindicator exports the menu of Tauri's tray with id `main`.
const MENU_PATH: &str = "/org/ayatana/NotificationItem/tray_icon_tray_app_main/Menu";
/// The status notifier item itself (icon, tooltip).
const ITEM_PATH: &str = "/org/ayatana/NotificationItem/tray_icon_tray_app_main";

/// The programs this machine lacks, as a sentence for a skip notice.
pub fn missing() -> Option<String> {
    let missing: Vec<String> = PROGRAMS
        .iter()
        .filter(|(p, _)| !Path::new(p).exists())
        .map(|(p, pkg)| format!("{p} (Debian package {pkg})"))
        .collect();
    (!missing.is_empty()).then(|| missing.join(", "))
}

/// The running desktop.
pub struct Desktop {
    children: Vec<Child>,
    display: String,
    bus: String,
    _dir: tempfile::TempDir,
}

fn first_line(child: &mut Child, what: &str) -> String {
    let out = child
        .stdout
        .take()
        .unwrap_or_else(|| panic!("{what}: no stdout"));
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(!line.trim().is_empty(), "{what} printed nothing and exited");
    line.trim().to_owned()
}

impl Desktop {
    /// Starts Xvfb on a free display, a session bus and dunst, and waits until dunst answers.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("gardener-desktop-")
            .tempdir()
            .unwrap();
        let mut children = Vec::new();
        // -displayfd: Xvfb picks a free display and writes its number once it accepts clients.
        let mut xvfb = Command::new("/usr/bin/Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn Xvfb");
        let display = format!(":{}", first_line(&mut xvfb, "Xvfb -displayfd"));
        children.push(xvfb);

        let socket = dir.path().join("bus");
        let mut bus = Command::new("/usr/bin/dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}", socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn dbus-daemon");
        let bus_address = first_line(&mut bus, "dbus-daemon --print-address");
        children.push(bus);

        let mut desktop = Self {
            children,
            display,
            bus: bus_address,
            _dir: dir,
        };
        let dunst = desktop
            .command("/usr/bin/dunst")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn dunst");
        desktop.children.push(dunst);
        assert!(
            wait_until(Duration::from_secs(10), || desktop
                .dunstctl(&["count", "history"])
                .is_some()),
            "dunst did not answer on the session bus"
        );
        desktop
    }

    /// `DISPLAY` and `DBUS_SESSION_BUS_ADDRESS` for programs on this desktop.
    pub fn env(&self) -> [(&'static str, OsString); 2] {
        [
            ("DISPLAY", self.display.clone().into()),
            ("DBUS_SESSION_BUS_ADDRESS", self.bus.clone().into()),
        ]
    }

    /// A command for `program` with this desktop's environment.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(self.env());
        cmd
    }

    fn dunstctl(&self, args: &[&str]) -> Option<String> {
        let out = self
            .command("/usr/bin/dunstctl")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Every notification dunst has received so far, oldest first, as (summary, body).
    /// Shown ones are closed first, so that dunst's history holds them all.
    pub fn notifications(&self) -> Vec<(String, String)> {
        let _ = self.dunstctl(&["close-all"]);
        // close-all is asynchronous inside dunst; its history settles within moments.
        std::thread::sleep(Duration::from_millis(300));
        let text = self
            .dunstctl(&["history"])
            .expect("dunstctl history answers");
        let json: Value = serde_json::from_str(&text).expect("dunstctl history prints JSON");
        let field = |n: &Value, key: &str| n[key]["data"].as_str().unwrap_or("").to_owned();
        let mut all: Vec<(i64, String, String)> = json["data"][0]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|n| {
                        (
                            n["id"]["data"].as_i64().unwrap_or(0),
                            field(n, "summary"),
                            field(n, "body"),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        all.sort_by_key(|(id, _, _)| *id);
        all.into_iter().map(|(_, s, b)| (s, b)).collect()
    }

    /// Clicks the notification at the top of the screen, as a person would (dunst runs its
    /// default action); false when none is shown. dunst cannot list what is on screen, so the
    /// caller checks with [`Desktop::notifications`] afterwards which one it was.
    pub fn click_notification(&self) -> bool {
        let shown = self
            .dunstctl(&["count", "displayed"])
            .and_then(|n| n.trim().parse::<u32>().ok())
            .unwrap_or(0);
        shown > 0 && self.dunstctl(&["action", "0"]).is_some()
    }

    /// The tray menu of the app whose process is `pid`, once it has exported one.
    pub fn tray(&self, pid: u32, timeout: Duration) -> TrayMenu {
        // The app has several bus connections, and not all of them answer calls for objects
        // they do not have: without a timeout, asking the wrong one would wait for ever.
        let conn = zbus::blocking::connection::Builder::address(self.bus.as_str())
            .map(|b| b.method_timeout(Duration::from_secs(5)))
            .and_then(zbus::blocking::connection::Builder::build)
            .expect("connect to the session bus");
        let dbus = zbus::blocking::fdo::DBusProxy::new(&conn).expect("bus proxy");
        let mut owner = None;
        let found = wait_until(timeout, || {
            let Ok(names) = dbus.list_names() else {
                return false;
            };
            owner = names
                .into_iter()
                .filter(|n| n.starts_with(':'))
                .find(|n| {
                    dbus.get_connection_unix_process_id(n.clone().into())
                        .is_ok_and(|p| p == pid)
                        && layout(&conn, n.as_str()).is_ok()
                })
                .map(|n| n.to_string());
            owner.is_some()
        });
        assert!(
            found,
            "process {pid} exported no tray menu within {timeout:?}"
        );
        TrayMenu {
            conn,
            owner: owner.unwrap_or_default(),
        }
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One entry of a tray menu.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The dbusmenu id, for [`TrayMenu::click`].
    pub id: i32,
    /// Its text (empty for separators).
    pub label: String,
    /// Whether it can be chosen.
    pub enabled: bool,
    /// Entries of its submenu.
    pub children: Vec<Item>,
}

/// A tray menu read over D-Bus, as a panel's tray host reads it.
pub struct TrayMenu {
    conn: zbus::blocking::Connection,
    owner: String,
}

fn layout(conn: &zbus::blocking::Connection, owner: &str) -> zbus::Result<Item> {
    let reply = conn.call_method(
        Some(owner),
        MENU_PATH,
        Some("com.canonical.dbusmenu"),
        "GetLayout",
        &(0i32, -1i32, Vec::<String>::new()),
    )?;
    type Node = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);
    let (_revision, (id, props, children)): (u32, Node) = reply.body().deserialize()?;
    Ok(node(id, &props, &children))
}

fn node(id: i32, props: &HashMap<String, OwnedValue>, children: &[OwnedValue]) -> Item {
    let label = props
        .get("label")
        .and_then(|v| v.downcast_ref::<String>().ok())
        .unwrap_or_default();
    let enabled = props
        .get("enabled")
        .and_then(|v| v.downcast_ref::<bool>().ok())
        .unwrap_or(true);
    Item {
        id,
        label,
        enabled,
        children: children.iter().filter_map(|c| child(c)).collect(),
    }
}

/// A child entry: a variant holding `(ia{sv}av)`.
fn child(value: &ZValue<'_>) -> Option<Item> {
    match value {
        ZValue::Value(inner) => child(inner),
        ZValue::Structure(s) => {
            let [
                ZValue::I32(id),
                ZValue::Dict(props),
                ZValue::Array(children),
            ] = s.fields()
            else {
                return None;
            };
            let props: HashMap<String, OwnedValue> = props.try_clone().ok()?.try_into().ok()?;
            let children: Vec<OwnedValue> = children
                .iter()
                .filter_map(|c| c.try_to_owned().ok())
                .collect();
            Some(node(*id, &props, &children))
        }
        _ => None,
    }
}

impl TrayMenu {
    /// The whole menu: top-level entries with their submenus.
    pub fn items(&self) -> Vec<Item> {
        layout(&self.conn, &self.owner)
            .expect("read the tray menu")
            .children
    }

    /// The labels of the top-level entries.
    pub fn labels(&self) -> Vec<String> {
        self.items().into_iter().map(|i| i.label).collect()
    }

    /// The entry labelled `label`, searched through submenus too.
    pub fn find(&self, label: &str) -> Option<Item> {
        fn walk(items: &[Item], label: &str) -> Option<Item> {
            items.iter().find_map(|i| {
                (i.label == label)
                    .then(|| i.clone())
                    .or_else(|| walk(&i.children, label))
            })
        }
        walk(&self.items(), label)
    }

    /// Chooses the entry labelled `label`, as a click in the panel would.
    pub fn click(&self, label: &str) {
        let item = self
            .find(label)
            .unwrap_or_else(|| panic!("no menu entry {label:?} in {:?}", self.labels()));
        assert!(item.enabled, "menu entry {label:?} is disabled");
        self.conn
            .call_method(
                Some(self.owner.as_str()),
                MENU_PATH,
                Some("com.canonical.dbusmenu"),
                "Event",
                &(item.id, "clicked", ZValue::from(0i32), 0u32),
            )
            .expect("send the click");
    }

    /// The icon file the tray shows (tray-icon writes each icon it is given to a new file).
    pub fn icon(&self) -> PathBuf {
        let reply = self
            .conn
            .call_method(
                Some(self.owner.as_str()),
                ITEM_PATH,
                Some("org.freedesktop.DBus.Properties"),
                "Get",
                &("org.kde.StatusNotifierItem", "IconName"),
            )
            .expect("read the tray icon");
        let value: OwnedValue = reply.body().deserialize().expect("a variant");
        PathBuf::from(String::try_from(value).expect("IconName is a string"))
    }
}

/// The RGBA pixels of a PNG (as the tray's icon files are written).
pub fn decode_png(bytes: &[u8]) -> Vec<u8> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::ALPHA | png::Transformations::EXPAND);
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a PNG of sane size")];
    let info = reader.next_frame(&mut pixels).expect("a PNG frame");
    pixels.truncate(info.buffer_size());
    assert_eq!(info.color_type, png::ColorType::Rgba, "an RGBA icon");
    pixels
}
