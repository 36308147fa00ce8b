//! The process tree of each service: its descendants (from `/proc` on
//! Linux, from a full process listing elsewhere), their resident memory
//! summed, and their CPU time as deltas between calls.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use sysinfo::{
    Pid, Process, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System, ThreadKind,
};

use super::TreeUsage;

/// Where children cannot be read from `/proc` (macOS), descendants come from
/// a full process listing this old at most, since listing every process is
/// the one expensive thing here.
const LISTING_MAX_AGE: Duration = Duration::from_secs(60);

/// A CPU reading over a shorter window than this is mostly clock-tick noise
/// (Linux counts CPU time in 10 ms ticks), so the previous reading stands.
const MIN_CPU_WINDOW: Duration = Duration::from_millis(500);

/// Bound on the processes counted in one tree, so a fork bomb under a
/// service cannot make a tick walk forever.
pub(super) const MAX_TREE: usize = 4096;

/// CPU time of one process at one call, to take the next delta from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct CpuSample {
    /// Tells a reused pid from the process sampled before.
    pub(super) start_time: u64,
    pub(super) cpu_ms: u64,
    pub(super) at: Instant,
    /// Percent of one core over the window that ended at `at`.
    pub(super) percent: f32,
}

/// The next sample of a process whose accumulated CPU time is `cpu_ms` now.
///
/// Computed from sysinfo's accumulated CPU time and our own clock rather than
/// its `cpu_usage()`, which divides by the machine-wide time since *any*
/// refresh and so goes wrong when refreshes interleave (two calls in one
/// tick, `system()` in between).
pub(super) fn next_cpu_sample(
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
pub(super) fn descendants(root: Pid, mut children_of: impl FnMut(Pid, &mut Vec<Pid>)) -> Vec<Pid> {
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
pub(super) fn proc_children(pid: Pid, out: &mut Vec<Pid>) {
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
pub(super) struct Listing {
    pub(super) at: Instant,
    children: HashMap<Pid, Vec<Pid>>,
}

/// What `process_trees` remembers between calls.
#[derive(Default)]
pub(super) struct Trees {
    /// Each root passed last call → its start time (`None`: it was not alive).
    pub(super) roots: HashMap<u32, Option<u64>>,
    pub(super) cpu: HashMap<Pid, CpuSample>,
    /// Every pid refreshed last call: refreshing them again drops the dead
    /// from sysinfo's table, which otherwise keeps them forever.
    pub(super) tracked: Vec<Pid>,
    /// Whether `/proc/<pid>/task/<tid>/children` exists (Linux with
    /// `CONFIG_PROC_CHILDREN`, as every mainstream distribution builds it).
    pub(super) children_files: bool,
    pub(super) listing: Option<Listing>,
}

impl Trees {
    pub(super) fn new() -> Self {
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

    pub(super) fn sample(
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
