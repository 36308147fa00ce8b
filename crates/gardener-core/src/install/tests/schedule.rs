//! The backup timer in install and uninstall plans: a fake `systemctl` /
//! `launchctl` that remembers whether the timer is scheduled, and plans for
//! each `[backup] schedule`.

use std::sync::{Arc, Mutex};

use super::*;
use crate::backup::schedule::BackupTimer;
use crate::config::Schedule;
use crate::services::{Output, Runner};

/// Plays `systemctl --user` and `launchctl` for the backup timer only:
/// remembers whether it is scheduled, refuses to schedule a timer whose file
/// is missing (as both managers do), and logs every command.
#[derive(Clone)]
pub(super) struct FakeTimer {
    dir: PathBuf,
    active: Arc<Mutex<bool>>,
    fail_activate: Arc<Mutex<bool>>,
    log: Arc<Mutex<Vec<String>>>,
}

impl FakeTimer {
    pub(super) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            active: Arc::default(),
            fail_activate: Arc::default(),
            log: Arc::default(),
        }
    }

    /// A driver for `Platform::current()` that runs its commands here.
    pub(super) fn driver(&self) -> BackupTimer {
        BackupTimer::with_uid(
            Platform::current(),
            self.dir.clone(),
            Box::new(self.clone()),
            501,
        )
    }

    pub(super) fn active(&self) -> bool {
        *self.active.lock().unwrap()
    }

    /// Commands run, without the status queries.
    pub(super) fn actions(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|c| !c.contains(" show ") && !c.contains(" print "))
            .cloned()
            .collect()
    }
}

fn reply(code: i32, stdout: &str) -> std::io::Result<Output> {
    Ok(Output {
        code: Some(code),
        stdout: stdout.to_owned(),
        stderr: String::new(),
    })
}

impl Runner for FakeTimer {
    fn run(&self, inv: &Invocation) -> std::io::Result<Output> {
        self.log.lock().unwrap().push(inv.to_string());
        let argv: Vec<&str> = inv.0.iter().map(String::as_str).collect();
        let mut active = self.active.lock().unwrap();
        let file_exists = |name: &str| self.dir.join(name).is_file();
        match argv.as_slice() {
            [
                "systemctl",
                "--user",
                "show",
                "-p",
                _,
                "gardener-backup.timer",
            ] => reply(
                0,
                if *active {
                    "ActiveState=active\nUnitFileState=enabled\n"
                } else {
                    "ActiveState=inactive\nUnitFileState=disabled\n"
                },
            ),
            [
                "systemctl",
                "--user",
                "enable",
                "--now",
                "gardener-backup.timer",
            ] => {
                if *self.fail_activate.lock().unwrap() || !file_exists("gardener-backup.timer") {
                    return reply(1, "");
                }
                *active = true;
                reply(0, "")
            }
            [
                "systemctl",
                "--user",
                "disable",
                "--now",
                "gardener-backup.timer",
            ] => {
                *active = false;
                reply(0, "")
            }
            ["launchctl", "print", _] => reply(if *active { 0 } else { 113 }, ""),
            ["launchctl", "bootout", _] => {
                let was = std::mem::replace(&mut *active, false);
                reply(if was { 0 } else { 113 }, "")
            }
            ["launchctl", "bootstrap", _, _] => {
                if *self.fail_activate.lock().unwrap()
                    || !file_exists("com.codebase-gardener.backup.plist")
                {
                    return reply(1, "");
                }
                *active = true;
                reply(0, "")
            }
            _ => panic!("unexpected timer command: {inv}"),
        }
    }
}

fn timer_files(s: &Setup) -> Vec<PathBuf> {
    s.timer.files()
}

fn timer_commands(p: &Plan) -> Vec<(String, Option<Action>)> {
    p.steps
        .iter()
        .filter_map(|st| match st {
            Step::Command {
                argv,
                service: None,
                action: Some(action),
                ..
            } => Some((argv.join(" "), Some(*action))),
            _ => None,
        })
        .collect()
}

fn shown(invs: Vec<Invocation>) -> Vec<(String, Option<Action>)> {
    invs.iter().map(|i| (i.0.join(" "), None)).collect()
}

fn without_actions(cmds: Vec<(String, Option<Action>)>) -> Vec<(String, Option<Action>)> {
    cmds.into_iter().map(|(c, _)| (c, None)).collect()
}

#[test]
fn schedule_off_plans_no_timer_at_all() {
    let s = setup_with(|c| c.backup.schedule = Schedule::Off);
    let p = plan(&s);
    assert!(timer_commands(&p).is_empty(), "{p:#?}");
    for path in timer_files(&s) {
        assert!(
            !p.steps.iter().any(|st| matches!(st,
                Step::File { path: f, .. } | Step::Remove { path: f, .. } if *f == path)),
            "{}",
            path.display()
        );
    }
    apply_plan(&s).unwrap();
    assert!(s.timer_fake.actions().is_empty());
    assert!(!s.timer_fake.active());
}

#[test]
fn daily_schedule_writes_the_timer_and_schedules_it_last() {
    let s = setup_with(|c| c.backup.schedule = Schedule::Daily { hour: 3, minute: 0 });
    let p = plan(&s);
    for path in timer_files(&s) {
        let step = p.steps.iter().find_map(|st| match st {
            Step::File {
                path: f,
                mode,
                change,
                content,
                ..
            } if *f == path => Some((mode.clone(), *change, content.clone())),
            _ => None,
        });
        let (mode, change, content) = step.unwrap_or_else(|| panic!("no {}", path.display()));
        assert_eq!((mode.as_str(), change), ("0644", Change::Create));
        assert!(
            content.contains("03:00") || content.contains("backup create --scheduled"),
            "{content}"
        );
    }
    let want = s.timer.commands(Action::Activate);
    assert_eq!(without_actions(timer_commands(&p)), shown(want));
    assert!(
        timer_commands(&p)
            .iter()
            .all(|(_, a)| *a == Some(Action::Activate))
    );
    // After everything else, health waits included, and after the reload.
    let first_timer = p
        .steps
        .iter()
        .position(|st| {
            matches!(
                st,
                Step::Command {
                    service: None,
                    action: Some(_),
                    ..
                }
            )
        })
        .unwrap();
    assert!(p.steps[first_timer..].iter().all(|st| matches!(
        st,
        Step::Command {
            service: None,
            action: Some(_),
            ..
        }
    )));

    apply_plan(&s).unwrap();
    assert!(s.timer_fake.active());
    for path in timer_files(&s) {
        assert_eq!(mode_of(&path).unwrap(), Some(0o644), "{}", path.display());
    }
    let service = std::fs::read_to_string(&timer_files(&s)[0]).unwrap();
    assert!(
        service.contains(&format!(
            "{GARDENER} --config {} backup create --scheduled",
            s.ctx.config_file.display()
        )),
        "{service}"
    );

    // Installed and scheduled: nothing left to do for the timer.
    let mut s = s;
    s.ctx.config_exists = true;
    let before = s.timer_fake.actions().len();
    let again = plan(&s);
    assert!(again.is_noop(), "{again:#?}");
    s.apply(&again).unwrap();
    assert_eq!(s.timer_fake.actions().len(), before);
}

#[test]
fn a_timer_unscheduled_by_hand_is_scheduled_again() {
    let mut s = setup();
    apply_plan(&s).unwrap();
    s.ctx.config_exists = true;
    *s.timer_fake.active.lock().unwrap() = false;
    let p = plan(&s);
    assert_eq!(
        without_actions(timer_commands(&p)),
        shown(s.timer.commands(Action::Activate))
    );
    assert!(
        p.steps
            .iter()
            .filter(|st| st.is_change())
            .all(|st| matches!(
                st,
                Step::Command {
                    service: None,
                    action: Some(Action::Activate),
                    ..
                }
            ))
    );
    s.apply(&p).unwrap();
    assert!(s.timer_fake.active());
}

#[test]
fn changing_the_schedule_rewrites_only_the_timer_and_reschedules() {
    let mut s = setup();
    apply_plan(&s).unwrap();
    s.ctx.config_exists = true;
    s.ctx.config.backup.schedule = Schedule::Weekly {
        weekday: 6,
        hour: 23,
        minute: 59,
    };
    let p = plan(&s);
    let changed: Vec<&PathBuf> = p
        .steps
        .iter()
        .filter_map(|st| match st {
            Step::File {
                path,
                change: Change::Update,
                ..
            } => Some(path),
            _ => None,
        })
        .collect();
    // systemd: only the .timer (the service does not name the schedule).
    assert_eq!(changed, [timer_files(&s).last().unwrap()]);
    assert!(!timer_commands(&p).is_empty());
    s.apply(&p).unwrap();
    let timer = std::fs::read_to_string(timer_files(&s).last().unwrap()).unwrap();
    assert!(timer.contains("weekly sun 23:59"), "{timer}");
}

#[test]
fn switching_the_schedule_off_unschedules_and_removes_the_timer() {
    let mut s = setup();
    apply_plan(&s).unwrap();
    assert!(s.timer_fake.active());
    s.ctx.config_exists = true;
    s.ctx.config.backup.schedule = Schedule::Off;
    let p = plan(&s);
    let cmds = timer_commands(&p);
    assert_eq!(
        without_actions(cmds.clone()),
        shown(s.timer.commands(Action::Deactivate))
    );
    assert!(cmds.iter().all(|(_, a)| *a == Some(Action::Deactivate)));
    let removed: Vec<PathBuf> = p
        .steps
        .iter()
        .filter_map(|st| match st {
            Step::Remove { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(removed, timer_files(&s));
    // Unscheduled before its files go, and the manager told afterwards.
    let kinds: Vec<&str> = p
        .steps
        .iter()
        .filter(|st| st.is_change())
        .map(|st| match st {
            Step::Command {
                service: None,
                action: Some(_),
                ..
            } => "timer",
            Step::Command { .. } => "reload",
            Step::Remove { .. } => "remove",
            _ => "other",
        })
        .collect();
    let mut want = vec!["timer"; cmds.len()];
    want.extend(vec!["remove"; removed.len()]);
    want.extend(vec!["reload"; s.fake.reload_commands().len()]);
    assert_eq!(kinds, want);

    s.apply(&p).unwrap();
    assert!(!s.timer_fake.active());
    assert!(timer_files(&s).iter().all(|f| !f.exists()));
    let again = plan(&s);
    assert!(again.is_noop(), "{again:#?}");
}

#[test]
fn a_failure_after_unscheduling_schedules_the_timer_again() {
    let mut s = setup();
    apply_plan(&s).unwrap();
    s.ctx.config_exists = true;
    s.ctx.config.backup.schedule = Schedule::Off;
    // Something else changes too, and its activation fails.
    std::fs::write(s.fake.file_path(ServiceId::App), "edited\n").unwrap();
    *s.fake.fail.lock().unwrap() = Some((Action::Activate, ServiceId::App));
    let err = s.apply(&plan(&s)).unwrap_err();
    assert!(matches!(err, Error::RolledBack { .. }), "{err}");
    assert!(s.timer_fake.active(), "scheduled again");
    assert!(timer_files(&s).iter().all(|f| f.exists()), "files restored");
}

#[test]
fn a_failed_scheduling_is_rolled_back_with_everything_else() {
    let s = setup();
    let before = tree(s.home.path());
    *s.timer_fake.fail_activate.lock().unwrap() = true;
    let err = apply_plan(&s).unwrap_err();
    let Error::RolledBack { error, .. } = &err else {
        panic!("{err}")
    };
    assert!(matches!(**error, Error::Service(_)), "{error}");
    assert_eq!(tree(s.home.path()), before);
    assert!(!s.timer_fake.active());
    assert_eq!(s.fake.state(ServiceId::App), ServiceState::NotInstalled);
}

#[test]
fn a_hand_edited_timer_file_is_drift_and_install_repairs_it() {
    let mut s = setup();
    apply_plan(&s).unwrap();
    s.ctx.config_exists = true;
    let file = timer_files(&s).into_iter().last().unwrap();
    let original = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, original.replace("03:00", "04:00")).unwrap();
    let p = plan(&s);
    let change = p.steps.iter().find_map(|st| match st {
        Step::File { path, change, .. } if *path == file => Some(*change),
        _ => None,
    });
    assert_eq!(change, Some(Change::Update));
    s.apply(&p).unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), original);
}

#[test]
fn unrenderable_timer_blocks_the_plan_with_a_fix() {
    let mut s = setup();
    s.gardener = PathBuf::from("relative/gardener");
    let p = plan(&s);
    let check = p
        .checks()
        .find(|c| c.id == "backup-schedule")
        .expect("a check");
    assert_eq!(check.outcome, Outcome::Fail);
    assert!(check.detail.contains("not absolute"), "{check:?}");
    assert!(check.fix.as_deref().unwrap_or("").contains("off"));
    // Among the other checks, at the top of the plan.
    assert!(matches!(p.steps[1], Step::Check(_)));
    assert!(matches!(s.apply(&p), Err(Error::Blocked { .. })));
}

#[test]
fn uninstall_unschedules_and_removes_the_timer_first() {
    let mut s = setup();
    apply_plan(&s).unwrap();
    s.ctx.config_exists = true;
    let p = s.uninstall(false);
    assert_eq!(
        without_actions(timer_commands(&p)),
        shown(s.timer.commands(Action::Deactivate))
    );
    assert!(matches!(
        p.steps[0],
        Step::Command {
            service: None,
            action: Some(Action::Deactivate),
            ..
        }
    ));
    s.apply(&p).unwrap();
    assert!(!s.timer_fake.active());
    assert!(timer_files(&s).iter().all(|f| !f.exists()));
    // Nothing left: a second uninstall has no timer steps.
    assert!(timer_commands(&s.uninstall(false)).is_empty());
}
