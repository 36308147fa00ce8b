//! Gauges checked against the kernel's own figures on a real Linux machine,
//! and the pure arithmetic (including macOS's) on made-up numbers.

use std::collections::HashMap;
use std::time::Duration;

use sysinfo::Pid;

use super::*;

// ---- pure arithmetic ----

#[test]
fn pressure_levels_map_to_words() {
    assert_eq!(pressure_name(1), Some("normal"));
    assert_eq!(pressure_name(2), Some("warning"));
    assert_eq!(pressure_name(4), Some("critical"));
    // The kernel's internal enum (0–3) and anything else are not guessed at.
    for level in [0, 3, 5, 8, -1] {
        assert_eq!(pressure_name(level), None, "level {level}");
    }
}

#[test]
fn disk_usage_is_computed_like_df() {
    // 1000 blocks of 4 KiB, 300 free of which 250 available to users.
    let (used, total, percent) = disk_usage(4096, 1000, 300, 250);
    assert_eq!(used, 700 * 4096);
    assert_eq!(total, 1000 * 4096);
    // 700 / (700 + 250), not 700 / 1000.
    assert!((percent - 73.684_21).abs() < 0.001, "{percent}");
    // A volume reporting nothing gives zeros, not NaN.
    assert_eq!(disk_usage(4096, 0, 0, 0), (0, 0, 0.0));
    // Nonsense (free > blocks) does not underflow.
    assert_eq!(disk_usage(4096, 10, 20, 20).0, 0);
}

#[test]
fn cpu_line_parses_and_guest_time_is_not_counted_twice() {
    let text = "cpu  100 10 50 800 20 5 5 10 40 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n";
    let t = parse_cpu_line(text).unwrap();
    assert_eq!(t.busy, 100 + 10 + 50 + 5 + 5 + 10);
    assert_eq!(t.total, t.busy + 800 + 20);
    // Old kernels print only four columns.
    let t = parse_cpu_line("cpu 1 2 3 4\n").unwrap();
    assert_eq!((t.busy, t.total), (6, 10));
    assert_eq!(parse_cpu_line("intr 1 2 3\n"), None);
    assert_eq!(parse_cpu_line("cpu x y\n"), None);

    let before = CpuTimes {
        busy: 100,
        total: 1000,
    };
    let after = CpuTimes {
        busy: 150,
        total: 1200,
    };
    assert!((cpu_percent_between(before, after) - 25.0).abs() < 1e-4);
    assert_eq!(cpu_percent_between(after, after), 0.0);
    // Counters going backwards (they do not, but) never give a negative.
    assert_eq!(cpu_percent_between(after, before), 0.0);
}

#[test]
fn cpu_sample_deltas_need_a_baseline_and_a_long_enough_window() {
    let t0 = Instant::now();
    let first = next_cpu_sample(None, 7, 1_000, t0);
    assert_eq!(first.percent, 0.0, "no baseline yet");

    // 300 ms of CPU in 1 s: 30% of one core.
    let t1 = t0 + Duration::from_secs(1);
    let second = next_cpu_sample(Some(&first), 7, 1_300, t1);
    assert!((second.percent - 30.0).abs() < 1e-3, "{}", second.percent);

    // A call right after keeps the previous reading and its baseline.
    let t2 = t1 + Duration::from_millis(5);
    assert_eq!(next_cpu_sample(Some(&second), 7, 1_310, t2), second);

    // Two cores busy for 2 s: 200%.
    let t3 = t1 + Duration::from_secs(2);
    let third = next_cpu_sample(Some(&second), 7, 5_300, t3);
    assert!((third.percent - 200.0).abs() < 1e-3, "{}", third.percent);

    // Same pid, other start time: another process, no delta from the old one.
    let reused = next_cpu_sample(Some(&third), 8, 50, t3 + Duration::from_secs(1));
    assert_eq!(reused.percent, 0.0);
    assert_eq!(reused.start_time, 8);
}

#[test]
fn descendants_are_walked_once_breadth_first() {
    let p = Pid::from_u32;
    let children: HashMap<Pid, Vec<Pid>> = HashMap::from([
        (p(1), vec![p(2), p(3)]),
        (p(2), vec![p(4)]),
        (p(3), vec![p(5), p(2)]),
        // A stale listing can say anything, even a cycle.
        (p(5), vec![p(1)]),
    ]);
    let tree = descendants(p(1), |pid, out| {
        out.extend(children.get(&pid).into_iter().flatten());
    });
    assert_eq!(tree, [1, 2, 3, 4, 5].map(p));
    assert_eq!(descendants(p(9), |_, _| {}), [p(9)]);
}

#[test]
fn a_huge_tree_is_cut_off() {
    // Every process has two children: unbounded without the cap.
    let tree = descendants(Pid::from_u32(1), |pid, out| {
        let n = pid.as_u32();
        out.extend([Pid::from_u32(2 * n), Pid::from_u32(2 * n + 1)]);
    });
    assert_eq!(tree.len(), MAX_TREE);
}

/// The machine and process trees, checked against `/proc` read directly.
#[cfg(target_os = "linux")]
mod against_proc {
    use super::*;

    use std::process::{Child, Command, Stdio};
    use std::thread;

    fn meminfo() -> HashMap<String, u64> {
        std::fs::read_to_string("/proc/meminfo")
            .unwrap()
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                let kib: u64 = v.split_whitespace().next()?.parse().ok()?;
                Some((k.to_owned(), kib * 1024))
            })
            .collect()
    }

    fn proc_stat_cpu() -> CpuTimes {
        parse_cpu_line(&std::fs::read_to_string("/proc/stat").unwrap()).unwrap()
    }

    #[test]
    fn memory_matches_proc_meminfo() {
        let mut g = Gauges::new("/");
        let m = g.system().memory;
        let info = meminfo();
        // Tolerance: total exact (both read MemTotal); used within 2% of total,
        // as other processes allocate between the two reads.
        assert_eq!(m.total_bytes, info["MemTotal"]);
        let expected = info["MemTotal"] - info["MemAvailable"];
        let tolerance = m.total_bytes / 50;
        assert!(
            m.used_bytes.abs_diff(expected) <= tolerance,
            "used {} vs /proc/meminfo {expected}",
            m.used_bytes
        );
        assert!((m.percent - Snapshot::percent(m.used_bytes, m.total_bytes)).abs() < 1e-3);
        assert_eq!(m.pressure, None, "pressure is macOS only");
    }

    #[test]
    fn swap_matches_proc_meminfo() {
        let mut g = Gauges::new("/");
        let s = g.system().swap;
        let info = meminfo();
        // Tolerance: total exact; used within 1% of the swap size + 1 MiB, as
        // pages move in and out between the two reads (both 0 without swap).
        assert_eq!(s.total_bytes, info["SwapTotal"]);
        let expected = info["SwapTotal"] - info["SwapFree"];
        let tolerance = s.total_bytes / 100 + (1 << 20);
        assert!(
            s.used_bytes.abs_diff(expected) <= tolerance,
            "swap used {} vs /proc/meminfo {expected}",
            s.used_bytes
        );
    }

    /// The range a gauge's figure must fall in when its two readings of
    /// `/proc/stat` were taken between `a0`/`a1` and between `b0`/`b1`: the
    /// counters only grow, so this holds however busy the machine is.
    fn cpu_percent_bounds(a0: CpuTimes, a1: CpuTimes, b0: CpuTimes, b1: CpuTimes) -> (f32, f32) {
        let busy = (b0.busy.saturating_sub(a1.busy), b1.busy - a0.busy);
        let total = (b0.total.saturating_sub(a1.total), b1.total - a0.total);
        let lo = Snapshot::percent(busy.0, total.1);
        let hi = if total.0 == 0 {
            100.0
        } else {
            Snapshot::percent(busy.1, total.0).min(100.0)
        };
        // f32 rounding of the gauge's own division.
        (lo - 1e-3, hi + 1e-3)
    }

    /// Calls `g.system()` with `/proc/stat` read just before and just after.
    fn bracketed(g: &mut Gauges) -> (CpuTimes, f32, CpuTimes) {
        let before = proc_stat_cpu();
        let got = g.system().cpu_percent;
        (before, got, proc_stat_cpu())
    }

    #[test]
    fn cpu_percent_follows_proc_stat_while_a_core_is_busy() {
        let mut g = Gauges::new("/");
        let (a0, first, a1) = bracketed(&mut g);
        assert_eq!(first, 0.0, "the first call has no baseline");
        let spinner = thread::spawn(|| {
            let until = Instant::now() + Duration::from_secs(1);
            let mut n = 0u64;
            while Instant::now() < until {
                n = std::hint::black_box(n.wrapping_add(1));
            }
            n
        });
        spinner.join().unwrap();
        let (b0, got, b1) = bracketed(&mut g);
        let (lo, hi) = cpu_percent_bounds(a0, a1, b0, b1);
        assert!(
            (lo..=hi).contains(&got),
            "gauge {got}% outside {lo}..{hi}% from /proc/stat around its readings"
        );
        // One spinning thread alone keeps one core busy: at least half of that
        // shows even when other work competes for the machine.
        // Cores as /proc/stat counts them (not a container's CPU quota).
        let stat = std::fs::read_to_string("/proc/stat").unwrap();
        let cores = stat
            .lines()
            .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
            .count();
        #[allow(clippy::cast_precision_loss)]
        let one_core = 100.0 / cores as f32;
        assert!(got >= one_core / 2.0, "{got}% with {cores} cores");
    }

    #[test]
    fn cpu_percent_when_idle_follows_proc_stat() {
        let mut g = Gauges::new("/");
        let (a0, _, a1) = bracketed(&mut g);
        thread::sleep(Duration::from_millis(300));
        let (b0, cpu, b1) = bracketed(&mut g);
        let (lo, hi) = cpu_percent_bounds(a0, a1, b0, b1);
        assert!(
            (lo..=hi).contains(&cpu),
            "gauge {cpu}% outside {lo}..{hi}% from /proc/stat around its readings"
        );
        // Asked again at once: the previous figure, not a noisy tiny window.
        assert_eq!(g.system().cpu_percent, cpu);
    }

    #[test]
    fn disk_matches_statvfs_and_df() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = Gauges::new(dir.path());
        let d = g.system().disk;
        assert_eq!(d.path, dir.path().display().to_string());

        // Tolerance: 1% of the volume, as files change between the reads.
        let st = rustix::fs::statvfs(dir.path()).unwrap();
        let total = st.f_blocks * st.f_frsize;
        let used = (st.f_blocks - st.f_bfree) * st.f_frsize;
        let tolerance = total / 100;
        assert!(total > 0);
        assert_eq!(d.total_bytes, total);
        assert!(
            d.used_bytes.abs_diff(used) <= tolerance,
            "{} vs {used}",
            d.used_bytes
        );

        let Ok(out) = Command::new("df")
            .args(["-B1", "--output=used,size,pcent"])
            .arg(dir.path())
            .output()
        else {
            eprintln!("no df here: statvfs comparison only");
            return;
        };
        let text = String::from_utf8(out.stdout).unwrap();
        let row: Vec<&str> = text.lines().nth(1).unwrap().split_whitespace().collect();
        let df_used: u64 = row[0].parse().unwrap();
        let df_size: u64 = row[1].parse().unwrap();
        let df_pcent: f32 = row[2].trim_end_matches('%').parse().unwrap();
        assert_eq!(d.total_bytes, df_size);
        assert!(
            d.used_bytes.abs_diff(df_used) <= tolerance,
            "{} vs df {df_used}",
            d.used_bytes
        );
        // df rounds its percentage up to a whole number: within 1 point + the 1%.
        assert!(
            (d.percent - df_pcent).abs() <= 2.0,
            "{}% vs df {df_pcent}%",
            d.percent
        );
    }

    #[test]
    fn disk_of_a_path_not_created_yet_is_its_ancestors_volume() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("not/yet/there");
        let d = Gauges::new(&missing).system().disk;
        let st = rustix::fs::statvfs(dir.path()).unwrap();
        assert_eq!(d.path, missing.display().to_string());
        assert_eq!(d.total_bytes, st.f_blocks * st.f_frsize);
        assert!(d.used_bytes > 0);
    }

    // ---- process trees, against /proc ----

    /// Kills and reaps on drop, so a failing assertion leaves nothing behind.
    struct Spawned {
        child: Child,
        extra: Vec<u32>,
    }

    impl Drop for Spawned {
        fn drop(&mut self) {
            for pid in &self.extra {
                kill(*pid);
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn kill(pid: u32) {
        if let Some(pid) = rustix::process::Pid::from_raw(pid.cast_signed()) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }

    fn sh(script: &str) -> Spawned {
        let child = Command::new("sh")
            .args(["-c", script])
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        Spawned {
            child,
            extra: Vec::new(),
        }
    }

    /// Children of `pid` read straight from /proc, polled until there are `n`.
    fn wait_for_children(pid: u32, n: usize) -> Vec<u32> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut kids = Vec::new();
            proc_children(Pid::from_u32(pid), &mut kids);
            if kids.len() >= n || Instant::now() > deadline {
                return kids.into_iter().map(Pid::as_u32).collect();
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn proc_status_field(pid: u32, field: &str) -> Option<String> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = text.lines().find(|l| l.starts_with(field))?;
        Some(line[field.len()..].trim().to_owned())
    }

    fn vm_rss(pid: u32) -> u64 {
        let kib = proc_status_field(pid, "VmRSS:").unwrap();
        kib.trim_end_matches("kB").trim().parse::<u64>().unwrap() * 1024
    }

    /// utime + stime of `pid` in clock ticks, from /proc/<pid>/stat.
    fn cpu_ticks(pid: u32) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after_comm.split_whitespace().collect();
        // Fields 14 and 15 of stat; `after_comm` starts at field 3.
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }

    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_tree_sums_its_children_and_a_dead_root_is_none() {
        let mut spawned = sh("sleep 30 & sleep 30 & wait");
        let root = spawned.child.id();
        let kids = wait_for_children(root, 2);
        spawned.extra.clone_from(&kids);
        assert_eq!(kids.len(), 2, "sh did not start its two sleeps");
        // Forked but not yet exec'd, a child's memory is still changing.
        wait_until("both children run sleep", || {
            kids.iter()
                .all(|k| proc_status_field(*k, "Name:").is_some_and(|n| n == "sleep"))
        });

        let mut g = Gauges::new("/");
        let tree = g.process_trees(&[root])[0].expect("running root");
        let expected: u64 = std::iter::once(root)
            .chain(kids.iter().copied())
            .map(vm_rss)
            .sum();
        assert_eq!(tree.pids, 3);
        // Tolerance: 2% or 256 KiB. VmRSS and statm come from the same kernel
        // counters; idle processes barely move between the two reads.
        let tolerance = (expected / 50).max(256 << 10);
        assert!(
            tree.rss_bytes.abs_diff(expected) <= tolerance,
            "tree rss {} vs VmRSS sum {expected}",
            tree.rss_bytes
        );
        // Only the tree was refreshed: no full process scan.
        let table = g.system.as_ref().unwrap().processes().len();
        assert_eq!(table, 3, "sysinfo holds only the watched pids");

        // Killed but not yet reaped (this test is its parent): a zombie is dead.
        kill(root);
        wait_until("sh is a zombie", || {
            proc_status_field(root, "State:").is_some_and(|s| s.starts_with('Z'))
        });
        assert_eq!(g.process_trees(&[root]), [None]);

        // Reaped: the pid is gone altogether.
        spawned.child.wait().unwrap();
        assert_eq!(g.process_trees(&[root]), [None]);
        for kid in &kids {
            kill(*kid);
        }
    }

    #[test]
    fn zero_and_missing_roots_are_none() {
        let mut g = Gauges::new("/");
        // pid_max is at most 2^22 on Linux, so this pid never exists.
        let out = g.process_trees(&[0, 4_194_305, std::process::id()]);
        assert_eq!(out[..2], [None, None]);
        let me = out[2].expect("this test process is alive");
        assert!(me.pids >= 1 && me.rss_bytes > 0);
        assert!(g.process_trees(&[]).is_empty());
    }

    #[test]
    fn a_pid_now_held_by_another_process_is_none_once() {
        let spawned = sh("sleep 30");
        let pid = spawned.child.id();
        let mut g = Gauges::new("/");
        assert!(g.process_trees(&[pid])[0].is_some());
        // As if the process first seen at this pid had started a second earlier:
        // the one there now is another one.
        let start = g.trees.roots[&pid].unwrap();
        g.trees.roots.insert(pid, Some(start - 1));
        assert_eq!(g.process_trees(&[pid]), [None]);
        // Asked again (the service manager confirmed the pid): watched from now on.
        assert!(g.process_trees(&[pid])[0].is_some());
    }

    #[test]
    fn tree_cpu_matches_proc_stat_of_a_busy_child() {
        let spawned = sh("while :; do :; done");
        let pid = spawned.child.id();
        let ticks_per_second: f64 = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0);

        // Each call to the gauge with the child's CPU ticks and the clock read just before and
        // just after: the gauge's figure must fall between what those brackets allow, however
        // busy the machine is.
        let mut g = Gauges::new("/");
        let (ta0, a0) = (Instant::now(), cpu_ticks(pid));
        let first = g.process_trees(&[pid])[0].unwrap();
        let (a1, ta1) = (cpu_ticks(pid), Instant::now());
        assert_eq!(first.cpu_percent, 0.0, "no baseline on the first call");
        thread::sleep(Duration::from_millis(1500));
        let (tb0, b0) = (Instant::now(), cpu_ticks(pid));
        let got = g.process_trees(&[pid])[0].unwrap().cpu_percent;
        let (b1, tb1) = (cpu_ticks(pid), Instant::now());
        #[allow(clippy::cast_precision_loss)]
        let percent = |ticks: u64, window: Duration| {
            ticks as f64 / ticks_per_second / window.as_secs_f64() * 100.0
        };
        let lo = percent(b0.saturating_sub(a1), tb1 - ta0) - 0.01;
        let hi = percent(b1 - a0, tb0 - ta1) + 0.01;
        assert!(
            (lo..=hi).contains(&f64::from(got)),
            "tree {got}% outside {lo:.2}..{hi:.2}% from /proc/<pid>/stat around its readings"
        );
        assert!(b1 > a0, "the busy loop ran");
        drop(spawned);
    }

    #[test]
    fn system_refreshes_no_process() {
        let mut g = Gauges::new("/");
        g.system();
        assert!(g.system.as_ref().unwrap().processes().is_empty());
    }

    #[test]
    fn the_dead_are_dropped_from_the_process_table() {
        let mut spawned = sh("sleep 30 & sleep 31 & wait");
        let root = spawned.child.id();
        let kids = wait_for_children(root, 2);
        spawned.extra.clone_from(&kids);
        assert_eq!(kids.len(), 2, "sh did not start its two sleeps");
        let mut g = Gauges::new("/");
        assert_eq!(g.process_trees(&[root])[0].unwrap().pids, 3);
        // A sleep dies: the next call no longer counts it and has dropped it
        // from sysinfo's table instead of keeping it there forever.
        kill(kids[0]);
        wait_until("the sleep is reaped by sh", || {
            !Path::new(&format!("/proc/{}", kids[0])).exists()
        });
        assert_eq!(g.process_trees(&[root])[0].unwrap().pids, 2);
        assert_eq!(g.system.as_ref().unwrap().processes().len(), 2);
    }

    #[test]
    fn without_proc_children_files_a_listing_finds_the_children() {
        // What macOS does (and Linux without CONFIG_PROC_CHILDREN).
        let mut spawned = sh("sleep 30 & sleep 31 & wait");
        let root = spawned.child.id();
        let kids = wait_for_children(root, 2);
        spawned.extra.clone_from(&kids);
        let mut g = Gauges::new("/");
        g.trees.children_files = false;
        assert_eq!(g.process_trees(&[root])[0].unwrap().pids, 3);
        let listed_at = g.trees.listing.as_ref().unwrap().at;
        // Known root, fresh listing: no new listing.
        assert_eq!(g.process_trees(&[root])[0].unwrap().pids, 3);
        assert_eq!(g.trees.listing.as_ref().unwrap().at, listed_at);
        // A new root: listed again.
        g.process_trees(&[root, std::process::id()]);
        assert!(g.trees.listing.as_ref().unwrap().at > listed_at);
    }
}
