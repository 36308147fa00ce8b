//! The machine's gauges (CPU, memory, swap, the data volume) and the memory
//! and CPU of each service's process tree, read every tick. One long-lived
//! `sysinfo::System` is refreshed only for what is shown — never a full
//! process scan on Linux — so a tick costs tens of microseconds for the
//! machine plus some tens per watched process. The process trees are
//! walked and measured in `gauges/trees.rs`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use sysinfo::{MemoryRefreshKind, System};

use super::snapshot::{Disk, Memory, Snapshot, Swap, SystemGauges};
use crate::fsutil::existing_ancestor;

#[cfg(test)]
mod tests;
mod trees;

use trees::Trees;
#[cfg(all(test, target_os = "linux"))]
use trees::proc_children;
#[cfg(test)]
use trees::{MAX_TREE, descendants, next_cpu_sample};

/// Resource use of a process and all its descendants.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TreeUsage {
    /// Resident memory summed over the tree (pages shared between its
    /// processes count in each, as summing `ps` RSS would).
    pub rss_bytes: u64,
    /// CPU time used since the previous call, in percent of one core (a
    /// tree keeping two cores busy shows 200). Processes seen for the first
    /// time count 0 until the next call.
    pub cpu_percent: f32,
    /// How many live processes the tree has, the root included.
    pub pids: usize,
}

/// Reads the gauges. Keep one for the life of the monitor: CPU figures are
/// deltas between calls.
pub struct Gauges {
    /// `None` only on platforms sysinfo does not support (not Linux or macOS).
    system: Option<System>,
    disk_path: PathBuf,
    #[cfg(target_os = "linux")]
    cpu: ProcStatCpu,
    trees: Trees,
}

impl Gauges {
    /// Gauges for the volume holding `disk_path` (normally the data
    /// directory; it need not exist yet). Nothing is read until asked.
    pub fn new(disk_path: impl Into<PathBuf>) -> Self {
        let system = match System::new() {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "no CPU, memory or process gauges on this platform");
                None
            }
        };
        Self {
            system,
            disk_path: disk_path.into(),
            #[cfg(target_os = "linux")]
            cpu: ProcStatCpu::default(),
            trees: Trees::new(),
        }
    }

    /// CPU, memory, swap and disk now.
    ///
    /// `cpu_percent` is the use of all cores since the previous call (all
    /// busy = 100). The first call has nothing to compare with and says 0;
    /// calls closer together than sysinfo's `MINIMUM_CPU_UPDATE_INTERVAL`
    /// repeat the previous figure. Callers tick every few seconds.
    pub fn system(&mut self) -> SystemGauges {
        let cpu_percent = self.cpu_percent();
        let (memory, swap) = self.memory_and_swap();
        SystemGauges {
            cpu_percent,
            memory,
            swap,
            disk: self.disk(),
        }
    }

    /// On Linux the machine's CPU comes from `/proc/stat` directly, not from
    /// sysinfo: sysinfo refreshes its machine-wide counters whenever process
    /// CPU is refreshed too, so `process_trees` at the start of a tick and
    /// `system` at its end would measure only the time between them.
    #[cfg(target_os = "linux")]
    fn cpu_percent(&mut self) -> f32 {
        self.cpu.sample(Instant::now())
    }

    /// Elsewhere (macOS) process refreshes leave sysinfo's machine-wide
    /// counters alone, so its global usage is the delta since the last call.
    #[cfg(not(target_os = "linux"))]
    fn cpu_percent(&mut self) -> f32 {
        self.system.as_mut().map_or(0.0, |s| {
            s.refresh_cpu_usage();
            s.global_cpu_usage().clamp(0.0, 100.0)
        })
    }

    fn memory_and_swap(&mut self) -> (Memory, Swap) {
        let Some(s) = self.system.as_mut() else {
            return (Memory::default(), Swap::default());
        };
        s.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram().with_swap());
        let total = s.total_memory();
        let used = used_memory(s);
        #[cfg(target_os = "macos")]
        let pressure = macos::pressure_level().and_then(pressure_name);
        #[cfg(not(target_os = "macos"))]
        let pressure = None;
        let memory = Memory {
            used_bytes: used,
            total_bytes: total,
            percent: Snapshot::percent(used, total),
            pressure: pressure.map(str::to_owned),
        };
        let swap = Swap {
            used_bytes: s.total_swap().saturating_sub(s.free_swap()),
            total_bytes: s.total_swap(),
        };
        (memory, swap)
    }

    /// The volume holding the disk path, from `statvfs` of the path or, until
    /// it is created, of its nearest existing ancestor (same volume, most
    /// likely). Figures as `df` shows them; see [`disk_usage`].
    fn disk(&self) -> Disk {
        let path = self.disk_path.display().to_string();
        let target = existing_ancestor(&self.disk_path).unwrap_or(&self.disk_path);
        let (used_bytes, total_bytes, percent) = statvfs_usage(target).unwrap_or_else(|e| {
            tracing::debug!(path = %target.display(), error = %e, "cannot statvfs the data volume");
            (0, 0, 0.0)
        });
        Disk {
            path,
            used_bytes,
            total_bytes,
            percent,
        }
    }

    /// Memory and CPU of each root pid's process tree, in the order given.
    ///
    /// `None` for a root that is 0, gone, a zombie, or no longer the process
    /// first seen at that pid (its start time changed: it died and the pid
    /// was reused). After reporting such a change once, the new process is
    /// watched as the root, so a service manager that confirms the pid is
    /// believed. Roots not passed again are forgotten. (sysinfo cannot tell
    /// a zombie on macOS; launchd reaps its children at once.)
    ///
    /// Only the pids of the trees are refreshed. On Linux children are read
    /// from `/proc/<pid>/task/<tid>/children` every call; elsewhere from a
    /// full process listing taken when a root is new or the listing is a
    /// minute old, so a child started since then is missed until the next one.
    pub fn process_trees(&mut self, roots: &[u32]) -> Vec<Option<TreeUsage>> {
        let Some(system) = self.system.as_mut() else {
            return vec![None; roots.len()];
        };
        self.trees.sample(system, roots, Instant::now())
    }
}

/// Memory in use: what Activity Monitor calls "Memory Used" on macOS — App
/// Memory (anonymous pages less purgeable) + Wired + Compressed. sysinfo 0.40
/// computes exactly that from `host_statistics64` (its `used_memory`), so no
/// unsafe code of ours is needed for it.
#[cfg(target_os = "macos")]
fn used_memory(s: &System) -> u64 {
    s.used_memory()
}

/// Memory in use: total − `MemAvailable` (what the kernel estimates can be
/// given to new work without swapping; page cache does not count as used).
#[cfg(not(target_os = "macos"))]
fn used_memory(s: &System) -> u64 {
    s.total_memory().saturating_sub(s.available_memory())
}

/// The word for a `kern.memorystatus_vm_pressure_level` value. The kernel
/// returns dispatch levels there (`NOTE_MEMORYSTATUS_PRESSURE_NORMAL` 1,
/// `_WARN` 2, `_CRITICAL` 4), not its internal 0–3 enum; anything else is
/// unknown rather than guessed.
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
fn pressure_name(level: i64) -> Option<&'static str> {
    match level {
        1 => Some("normal"),
        2 => Some("warning"),
        4 => Some("critical"),
        _ => None,
    }
}

#[cfg(target_os = "macos")]
mod macos {
    use sysctl::{Ctl, CtlValue, Sysctl};

    /// The memory pressure level macOS's own `memory_pressure` tool and
    /// Activity Monitor show; readable without privileges.
    pub(super) fn pressure_level() -> Option<i64> {
        match Ctl::new("kern.memorystatus_vm_pressure_level").and_then(|c| c.value()) {
            Ok(CtlValue::Int(v) | CtlValue::S32(v)) => Some(i64::from(v)),
            Ok(CtlValue::Uint(v) | CtlValue::U32(v)) => Some(i64::from(v)),
            Ok(other) => {
                tracing::debug!(value = %other, "memory pressure sysctl has an unexpected type");
                None
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the memory pressure level");
                None
            }
        }
    }
}

fn statvfs_usage(path: &Path) -> std::io::Result<(u64, u64, f32)> {
    let st = rustix::fs::statvfs(path)?;
    // The fields are u64 on Linux but 32-bit on macOS (fsblkcnt_t).
    #[allow(clippy::useless_conversion)]
    let (bsize, frsize, blocks, bfree, bavail) = (
        u64::from(st.f_bsize),
        u64::from(st.f_frsize),
        u64::from(st.f_blocks),
        u64::from(st.f_bfree),
        u64::from(st.f_bavail),
    );
    // Block counts are in fragment-size units; very old filesystems leave it 0.
    let unit = if frsize == 0 { bsize } else { frsize };
    Ok(disk_usage(unit, blocks, bfree, bavail))
}

/// `(used, total, percent)` of a volume as `df` shows them: used =
/// (blocks − free) × unit, total = blocks × unit, and percent =
/// used / (used + available to unprivileged users), so that 100% means full
/// for a normal user even though root's reserved blocks (ext4's 5%) remain.
/// `df` rounds the percentage up; this does not round.
fn disk_usage(unit: u64, blocks: u64, bfree: u64, bavail: u64) -> (u64, u64, f32) {
    let used = blocks.saturating_sub(bfree).saturating_mul(unit);
    let avail = bavail.saturating_mul(unit);
    let total = blocks.saturating_mul(unit);
    (
        used,
        total,
        Snapshot::percent(used, used.saturating_add(avail)),
    )
}

/// Busy and total time from the `cpu` line of `/proc/stat`, in clock ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct CpuTimes {
    busy: u64,
    total: u64,
}

/// Parses the first line of `/proc/stat` (`cpu  user nice system idle iowait
/// irq softirq steal guest guest_nice`). Guest time is already included in
/// user and nice; iowait counts as idle, as in `top` and sysinfo.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse_cpu_line(text: &str) -> Option<CpuTimes> {
    let mut fields = text.lines().next()?.split_ascii_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let mut v = [0u64; 8];
    for slot in &mut v {
        // Older kernels print fewer columns; the missing ones are zero.
        let Some(f) = fields.next() else { break };
        *slot = f.parse().ok()?;
    }
    let [user, nice, system, idle, iowait, irq, softirq, steal] = v;
    let busy = user + nice + system + irq + softirq + steal;
    Some(CpuTimes {
        busy,
        total: busy + idle + iowait,
    })
}

/// Percent of all cores busy between two readings.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn cpu_percent_between(before: CpuTimes, after: CpuTimes) -> f32 {
    let busy = after.busy.saturating_sub(before.busy);
    let total = after.total.saturating_sub(before.total);
    Snapshot::percent(busy, total).clamp(0.0, 100.0)
}

/// The machine's CPU use from `/proc/stat`, as a delta between calls.
#[cfg(target_os = "linux")]
#[derive(Default)]
struct ProcStatCpu {
    last: Option<(CpuTimes, Instant)>,
    percent: f32,
}

#[cfg(target_os = "linux")]
impl ProcStatCpu {
    fn sample(&mut self, now: Instant) -> f32 {
        if let Some((_, at)) = self.last
            && now.saturating_duration_since(at) < sysinfo::MINIMUM_CPU_UPDATE_INTERVAL
        {
            return self.percent;
        }
        let times = match read_cpu_line() {
            Ok(t) => t,
            Err(e) => {
                tracing::debug!(error = %e, "cannot read /proc/stat");
                return self.percent;
            }
        };
        if let Some((before, _)) = self.last {
            self.percent = cpu_percent_between(before, times);
        }
        self.last = Some((times, now));
        self.percent
    }
}

/// The first line of `/proc/stat` in one read: the file goes on with a line
/// per core and per interrupt, none of which is needed.
#[cfg(target_os = "linux")]
fn read_cpu_line() -> std::io::Result<CpuTimes> {
    use std::io::{Error, ErrorKind, Read};
    let mut buf = [0u8; 512];
    let n = std::fs::File::open("/proc/stat")?.read(&mut buf)?;
    let text = std::str::from_utf8(buf.get(..n).unwrap_or_default()).ok();
    text.and_then(|t| t.split_once('\n'))
        .and_then(|(line, _)| parse_cpu_line(line))
        .ok_or_else(|| Error::new(ErrorKind::InvalidData, "no cpu line in /proc/stat"))
}
