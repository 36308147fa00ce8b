//! A private OpenSSH server for the SFTP target's tests: `sshd` on 127.0.0.1 with a host key and
//! a client key made for the test, root's login by key only, and an ssh config file for the
//! client that knows exactly that host key (so `StrictHostKeyChecking=yes` holds).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, output_text, wait_until};

/// A running `sshd` and the files a client needs to reach it.
pub struct Sshd {
    dir: PathBuf,
    /// The port on 127.0.0.1.
    pub port: u16,
    child: Option<Child>,
}

/// Whether Debian's OpenSSH server and client are here.
pub fn missing() -> Option<&'static str> {
    ["/usr/sbin/sshd", "/usr/bin/sftp", "/usr/bin/ssh-keygen"]
        .into_iter()
        .find(|p| !Path::new(p).exists())
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
}

impl Sshd {
    /// Starts a server whose state lives in `dir`.
    pub fn start(dir: &Path) -> Self {
        fs::create_dir_all(dir).unwrap();
        fs::create_dir_all("/run/sshd").unwrap();
        keygen(&dir.join("host_key"));
        keygen(&dir.join("client_key"));
        fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
        let mut sshd = Self {
            dir: dir.to_path_buf(),
            port: free_port(),
            child: None,
        };
        sshd.write_client_config();
        sshd.run();
        sshd
    }

    fn run(&mut self) {
        let d = &self.dir;
        let config = format!(
            "Port {}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\n\
             Subsystem sftp internal-sftp\n",
            self.port,
            d.join("host_key").display(),
            d.join("sshd.pid").display(),
            d.join("authorized_keys").display(),
        );
        fs::write(d.join("sshd_config"), config).unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(d.join("sshd.log")).unwrap())
            .spawn()
            .expect("start sshd");
        self.child = Some(child);
        let addr = format!("127.0.0.1:{}", self.port);
        let up = wait_until(Duration::from_secs(10), || {
            std::net::TcpStream::connect(&addr).is_ok()
        });
        assert!(up, "sshd did not listen on {addr}: {}", self.log());
    }

    /// The server's log.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }

    /// An ssh config for the client: this server's host key only, the test's key.
    fn write_client_config(&self) {
        let d = &self.dir;
        let host_key = fs::read_to_string(d.join("host_key.pub")).unwrap();
        let known = format!("[127.0.0.1]:{} {}", self.port, host_key.trim());
        fs::write(d.join("known_hosts"), known + "\n").unwrap();
        let config = format!(
            "Host 127.0.0.1\n  User root\n  IdentityFile {}\n  IdentitiesOnly yes\n  \
             UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n",
            d.join("client_key").display(),
            d.join("known_hosts").display()
        );
        fs::write(d.join("ssh_config"), config).unwrap();
    }

    /// The client's ssh config file (`ssh -F`).
    pub fn client_config(&self) -> PathBuf {
        self.dir.join("ssh_config")
    }

    /// `sftp://root@127.0.0.1:PORT/<dir>`.
    pub fn url(&self, dir: &Path) -> String {
        format!("sftp://root@127.0.0.1:{}{}", self.port, dir.display())
    }

    /// Stops the server and every session it forked (SIGKILL: as when it goes away mid-copy).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let sessions = descendants(c.id());
            let _ = c.kill();
            for pid in sessions {
                if let Some(pid) = rustix::process::Pid::from_raw(i32::try_from(pid).unwrap_or(0)) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
            let _ = c.wait();
        }
    }

    /// Starts it again, on the same port with the same keys.
    pub fn restart(&mut self) {
        self.kill();
        self.run();
    }

    /// Gives the server a new host key, as if it were another machine.
    pub fn change_host_key(&mut self) {
        self.kill();
        fs::remove_file(self.dir.join("host_key")).unwrap();
        fs::remove_file(self.dir.join("host_key.pub")).unwrap();
        keygen(&self.dir.join("host_key"));
        self.run();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Every process below `pid`.
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        let Ok(tasks) = fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children = fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
            {
                found.push(child);
                queue.push(child);
            }
        }
    }
    found
}
