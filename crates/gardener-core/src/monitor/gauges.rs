//! The machine's gauges (CPU, memory, swap, the data volume) and the memory
//! and CPU of each service's process tree, read every tick. One long-lived
//! `sysinfo::System` is refreshed only for what is shown — never a full
//! process scan on Linux — so a tick costs tens of microseconds for the
//! machine plus some tens per watched process.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sysinfo::{
    MemoryRefreshKind, Pid, Process, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System,
    ThreadKind,
};

use super::snapshot::{Disk, Memory, Snapshot, Swap, SystemGauges};
use crate::fsutil::existing_ancestor;

#[cfg(test)]
mod tests;

/// Where children cannot be read from `/proc` (macOS), descendants come from
/// a full process listing this old at most, since listing every process is
/// the one expensive thing here.
const LISTING_MAX_AGE: Duration = Duration::from_secs(60);

/// A CPU reading over a shorter window than this is mostly clock-tick noise
/// (Linux counts CPU time in 10 ms ticks), so the previous reading stands.
const MIN_CPU_WINDOW: Duration = Duration::from_millis(500);

/// Bound on the processes counted in one tree, so a fork bomb under a
/// service cannot make a tick walk forever.
const MAX_TREE: usize = 4096;

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

/// CPU time of one process at one call, to take the next delta from.
#[derive(Clone, Copy, Debug, PartialEq)]
struct CpuSample {
    /// Tells a reused pid from the process sampled before.
    start_time: u64,
    cpu_ms: u64,
    at: Instant,
    /// Percent of one core over the window that ended at `at`.
    percent: f32,
}

/// The next sample of a process whose accumulated CPU time is `cpu_ms` now.
///
/// Computed from sysinfo's accumulated CPU time and our own clock rather than
/// its `cpu_usage()`, which divides by the machine-wide time since *any*
/// refresh and so goes wrong when refreshes interleave (two calls in one
/// tick, `system()` in between).
fn next_cpu_sample(
    prev: Option<&CpuSample>,
    start_time: u64,
    cpu_ms: u64,
    now: Instant,
) -> CpuSample {
    let fresh = CpuSample {
        start_time,
        cpu_ms,
        at: now,
        percent: 0.0,
    };
    let Some(prev) = prev.filter(|p| p.start_time == start_time) else {
        return fresh;
    };
    let window = now.saturating_duration_since(prev.at);
    if window < MIN_CPU_WINDOW {
        return *prev;
    }
    // Precision loss is irrelevant at the scale of a percentage.
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    let percent = (cpu_ms.saturating_sub(prev.cpu_ms) as f64 / window.as_secs_f64() / 10.0) as f32;
    CpuSample { percent, ..fresh }
}

/// `root` and its descendants, breadth first, each once, at most `MAX_TREE`.
fn descendants(root: Pid, mut children_of: impl FnMut(Pid, &mut Vec<Pid>)) -> Vec<Pid> {
    let mut tree = vec![root];
    let mut seen = HashSet::from([root]);
    let mut kids = Vec::new();
    let mut next = 0;
    while let Some(&pid) = tree.get(next) {
        if tree.len() >= MAX_TREE {
            break;
        }
        kids.clear();
        children_of(pid, &mut kids);
        tree.extend(kids.iter().filter(|k| seen.insert(**k)));
        next += 1;
    }
    tree.truncate(MAX_TREE);
    tree
}

/// Appends the children of `pid` from `/proc`: each thread lists the
/// processes it forked, and Go (Ollama) forks from whichever thread runs.
#[cfg(target_os = "linux")]
fn proc_children(pid: Pid, out: &mut Vec<Pid>) {
    use std::io::Read;
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return; // gone: the refresh that follows will say so
    };
    let mut buf = [0u8; 512];
    for task in tasks.flatten() {
        let Ok(mut file) = std::fs::File::open(task.path().join("children")) else {
            continue; // the thread ended
        };
        // One read (no size probing as `read_to_end` does): most threads
        // fork nothing and the file is empty.
        let Ok(n) = file.read(&mut buf) else { continue };
        let mut long = Vec::new();
        let bytes = match buf.get(..n) {
            Some(b) if n < buf.len() => b,
            _ => {
                long.extend_from_slice(&buf);
                let _ = file.read_to_end(&mut long);
                &long
            }
        };
        let pids = bytes
            .split(u8::is_ascii_whitespace)
            .filter_map(|p| std::str::from_utf8(p).ok()?.parse().ok());
        out.extend(pids.map(Pid::from_u32));
    }
}

fn alive(p: &Process) -> bool {
    p.exists() && !matches!(p.status(), ProcessStatus::Zombie | ProcessStatus::Dead)
}

/// Parent → children from a full process listing.
struct Listing {
    at: Instant,
    children: HashMap<Pid, Vec<Pid>>,
}

/// What `process_trees` remembers between calls.
#[derive(Default)]
struct Trees {
    /// Each root passed last call → its start time (`None`: it was not alive).
    roots: HashMap<u32, Option<u64>>,
    cpu: HashMap<Pid, CpuSample>,
    /// Every pid refreshed last call: refreshing them again drops the dead
    /// from sysinfo's table, which otherwise keeps them forever.
    tracked: Vec<Pid>,
    /// Whether `/proc/<pid>/task/<tid>/children` exists (Linux with
    /// `CONFIG_PROC_CHILDREN`, as every mainstream distribution builds it).
    children_files: bool,
    listing: Option<Listing>,
}

impl Trees {
    fn new() -> Self {
        let children_files = cfg!(target_os = "linux")
            && Path::new("/proc/self/task")
                .join(std::process::id().to_string())
                .join("children")
                .exists();
        Self {
            children_files,
            ..Self::default()
        }
    }

    fn sample(
        &mut self,
        system: &mut System,
        roots: &[u32],
        now: Instant,
    ) -> Vec<Option<TreeUsage>> {
        if !self.children_files && roots.iter().any(|r| *r != 0) {
            let new_root = roots.iter().any(|r| *r != 0 && !self.roots.contains_key(r));
            let stale = self
                .listing
                .as_ref()
                .is_none_or(|l| now.saturating_duration_since(l.at) >= LISTING_MAX_AGE);
            if new_root || stale {
                self.listing = Some(list_all(system, now));
            }
        }
        let members: Vec<Vec<Pid>> = roots
            .iter()
            .map(|&r| match r {
                0 => Vec::new(),
                r => self.members(Pid::from_u32(r)),
            })
            .collect();

        let mut refresh: Vec<Pid> = members.iter().flatten().copied().collect();
        refresh.extend_from_slice(&self.tracked);
        refresh.sort_unstable();
        refresh.dedup();
        if !refresh.is_empty() {
            system.refresh_processes_specifics(
                ProcessesToUpdate::Some(&refresh),
                true,
                ProcessRefreshKind::nothing()
                    .with_memory()
                    .with_cpu()
                    .without_tasks(),
            );
        }

        let system: &System = system;
        let mut cpu = HashMap::new();
        let mut seen_roots = HashMap::new();
        let out = roots
            .iter()
            .zip(&members)
            .map(|(&root, members)| {
                let p = (root != 0)
                    .then(|| system.process(Pid::from_u32(root)))
                    .flatten()
                    .filter(|p| alive(p));
                let start = p.map(Process::start_time);
                seen_roots.insert(root, start);
                let known = self.roots.get(&root).copied().flatten();
                let start = start?;
                if known.is_some_and(|k| k != start) {
                    return None; // died, and the pid now belongs to another process
                }
                Some(self.usage(system, members, &mut cpu, now))
            })
            .collect();

        seen_roots.remove(&0);
        self.roots = seen_roots;
        self.cpu = cpu;
        self.tracked = members.into_iter().flatten().collect();
        out
    }

    fn members(&self, root: Pid) -> Vec<Pid> {
        #[cfg(target_os = "linux")]
        if self.children_files {
            return descendants(root, proc_children);
        }
        let Some(listing) = &self.listing else {
            return vec![root];
        };
        descendants(root, |pid, out| {
            out.extend_from_slice(listing.children.get(&pid).map_or(&[][..], Vec::as_slice));
        })
    }

    fn usage(
        &self,
        system: &System,
        members: &[Pid],
        cpu: &mut HashMap<Pid, CpuSample>,
        now: Instant,
    ) -> TreeUsage {
        let mut usage = TreeUsage::default();
        for pid in members {
            let Some(p) = system.process(*pid).filter(|p| alive(p)) else {
                continue;
            };
            let sample = *cpu.entry(*pid).or_insert_with(|| {
                next_cpu_sample(
                    self.cpu.get(pid),
                    p.start_time(),
                    p.accumulated_cpu_time(),
                    now,
                )
            });
            usage.pids += 1;
            usage.rss_bytes = usage.rss_bytes.saturating_add(p.memory());
            usage.cpu_percent += sample.percent;
        }
        usage
    }
}

/// Lists every process to learn who is whose parent.
fn list_all(system: &mut System, now: Instant) -> Listing {
    // Without tasks: threads would be listed as processes of their own.
    system.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing().without_tasks(),
    );
    let mut children: HashMap<Pid, Vec<Pid>> = HashMap::new();
    for (pid, p) in system.processes() {
        // Threads are listed with their process as parent; they are not children.
        if p.thread_kind() == Some(ThreadKind::Userland) {
            continue;
        }
        if let Some(parent) = p.parent() {
            children.entry(parent).or_default().push(*pid);
        }
    }
    Listing { at: now, children }
}
