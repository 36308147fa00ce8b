//! Tests of the timer renderers: snapshots of every file, the plist read back
//! with the `plist` crate, and the values systemd and launchd disagree on.

use plist::Dictionary;

use super::*;

const GARDENER: &str = "/Users/ann/Applications/Gardener 100%/bin/gardener";
const CONFIG: &str = "/Users/ann/Library/Application Support/Gardener/gardener $HOME.toml";
const OUT: &str = "/Users/ann/Library/Logs/Gardener/backup.log";
const ERR: &str = "/Users/ann/Library/Logs/Gardener/backup.err.log";

const DAILY: Schedule = Schedule::Daily { hour: 3, minute: 0 };
const SUNDAY_LATE: Schedule = Schedule::Weekly {
    weekday: 6,
    hour: 23,
    minute: 59,
};

fn units(schedule: Schedule) -> Option<(String, String)> {
    systemd_units(
        schedule,
        Path::new(GARDENER),
        Path::new(CONFIG),
        (Path::new(OUT), Path::new(ERR)),
    )
    .unwrap()
}

fn plist_of(schedule: Schedule) -> Option<String> {
    launchd_plist(
        schedule,
        Path::new(GARDENER),
        Path::new(CONFIG),
        (Path::new(OUT), Path::new(ERR)),
    )
    .unwrap()
}

fn parse(xml: &str) -> Dictionary {
    plist::from_bytes(xml.as_bytes()).unwrap()
}

/// `(Weekday, Hour, Minute)` of the plist's `StartCalendarInterval`.
fn interval(xml: &str) -> (Option<u64>, u64, u64) {
    let dict = parse(xml);
    let i = dict["StartCalendarInterval"].as_dictionary().unwrap();
    let n = |k: &str| i.get(k).and_then(plist::Value::as_unsigned_integer);
    (n("Weekday"), n("Hour").unwrap(), n("Minute").unwrap())
}

#[test]
fn systemd_service_daily() {
    insta::assert_snapshot!(units(DAILY).unwrap().0);
}

#[test]
fn systemd_timer_daily() {
    insta::assert_snapshot!(units(DAILY).unwrap().1);
}

#[test]
fn systemd_timer_weekly() {
    insta::assert_snapshot!(units(SUNDAY_LATE).unwrap().1);
}

#[test]
fn launchd_plist_daily() {
    insta::assert_snapshot!(plist_of(DAILY).unwrap());
}

#[test]
fn launchd_plist_weekly() {
    insta::assert_snapshot!(plist_of(SUNDAY_LATE).unwrap());
}

#[test]
fn off_renders_nothing() {
    assert_eq!(units(Schedule::Off), None);
    assert_eq!(plist_of(Schedule::Off), None);
    assert_eq!(on_calendar(Schedule::Off).unwrap(), None);
}

#[test]
fn on_calendar_for_every_weekday() {
    let want = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    for (weekday, day) in (0u8..).zip(want) {
        let s = Schedule::Weekly {
            weekday,
            hour: 7,
            minute: 5,
        };
        assert_eq!(
            on_calendar(s).unwrap().unwrap(),
            format!("{day} *-*-* 07:05:00")
        );
    }
    assert_eq!(on_calendar(DAILY).unwrap().unwrap(), "*-*-* 03:00:00");
}

#[test]
fn launchd_weekday_counts_from_sunday() {
    assert_eq!(interval(&plist_of(SUNDAY_LATE).unwrap()), (Some(0), 23, 59));
    let monday = Schedule::Weekly {
        weekday: 0,
        hour: 0,
        minute: 0,
    };
    assert_eq!(interval(&plist_of(monday).unwrap()), (Some(1), 0, 0));
    let saturday = Schedule::Weekly {
        weekday: 5,
        hour: 12,
        minute: 30,
    };
    assert_eq!(interval(&plist_of(saturday).unwrap()), (Some(6), 12, 30));
    assert_eq!(interval(&plist_of(DAILY).unwrap()), (None, 3, 0));
}

#[test]
fn plist_runs_the_scheduled_backup_quietly_and_only_on_schedule() {
    let dict = parse(&plist_of(DAILY).unwrap());
    let keys: Vec<&str> = dict.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "Label",
            "ProgramArguments",
            "StartCalendarInterval",
            "ProcessType",
            "LowPriorityIO",
            "Nice",
            "StandardOutPath",
            "StandardErrorPath",
        ],
        "no RunAtLoad, no KeepAlive"
    );
    assert_eq!(dict["Label"].as_string(), Some(LAUNCHD_LABEL));
    let args: Vec<&str> = dict["ProgramArguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_string().unwrap())
        .collect();
    assert_eq!(
        args,
        [
            GARDENER,
            "--config",
            CONFIG,
            "backup",
            "create",
            "--scheduled"
        ]
    );
    assert_eq!(dict["ProcessType"].as_string(), Some("Background"));
    assert_eq!(dict["LowPriorityIO"].as_boolean(), Some(true));
    assert_eq!(dict["Nice"].as_signed_integer(), Some(10));
    assert_eq!(dict["StandardOutPath"].as_string(), Some(OUT));
    assert_eq!(dict["StandardErrorPath"].as_string(), Some(ERR));
}

#[test]
fn unit_quotes_paths_like_the_service_units() {
    let (service, timer) = units(DAILY).unwrap();
    // Spaces quote a word, `%` is doubled everywhere, `$` only in arguments.
    assert!(
        service.contains(
            "\nExecStart=\"/Users/ann/Applications/Gardener 100%%/bin/gardener\" --config \
             \"/Users/ann/Library/Application Support/Gardener/gardener $$HOME.toml\" \
             backup create --scheduled\n"
        ),
        "{service}"
    );
    assert!(service.contains("\nType=oneshot\nExecStart="), "{service}");
    assert!(service.contains(&format!("\nStandardOutput=append:{OUT}\n")));
    assert!(service.contains(&format!("\nStandardError=append:{ERR}\n")));
    assert!(!service.contains("[Install]"), "started by the timer only");
    assert!(timer.contains("\nPersistent=true\n"), "{timer}");
    assert!(!timer.contains("RandomizedDelaySec"), "{timer}");
    assert!(
        timer.ends_with("\n[Install]\nWantedBy=timers.target\n"),
        "{timer}"
    );
}

#[test]
fn paths_no_timer_file_can_carry_are_refused() {
    let logs = (Path::new(OUT), Path::new(ERR));
    let relative = systemd_units(DAILY, Path::new("gardener"), Path::new(CONFIG), logs);
    assert!(
        matches!(&relative, Err(Error::Path { what: "gardener binary", problem, .. }) if problem.contains("absolute")),
        "{relative:?}"
    );
    let newline = launchd_plist(DAILY, Path::new(GARDENER), Path::new("/a\nb.toml"), logs);
    assert!(
        newline
            .unwrap_err()
            .to_string()
            .contains("config file path /a\nb.toml contains a control character")
    );
    let trailing = systemd_units(
        DAILY,
        Path::new(GARDENER),
        Path::new(CONFIG),
        (Path::new("/logs/backup.log "), Path::new(ERR)),
    );
    assert!(trailing.unwrap_err().to_string().contains("whitespace"));
}

#[test]
fn out_of_range_schedules_are_refused() {
    let logs = (Path::new(OUT), Path::new(ERR));
    for bad in [
        Schedule::Daily {
            hour: 24,
            minute: 0,
        },
        Schedule::Daily {
            hour: 0,
            minute: 60,
        },
        Schedule::Weekly {
            weekday: 7,
            hour: 0,
            minute: 0,
        },
    ] {
        let err = systemd_units(bad, Path::new(GARDENER), Path::new(CONFIG), logs);
        assert!(matches!(err, Err(Error::Schedule(_))), "{bad:?}");
        let err = launchd_plist(bad, Path::new(GARDENER), Path::new(CONFIG), logs);
        assert!(matches!(err, Err(Error::Schedule(_))), "{bad:?}");
    }
}

#[test]
fn output_is_deterministic() {
    assert_eq!(units(SUNDAY_LATE), units(SUNDAY_LATE));
    let xml = plist_of(SUNDAY_LATE).unwrap();
    assert_eq!(Some(xml.clone()), plist_of(SUNDAY_LATE));
    assert!(
        xml.ends_with("</plist>\n") && xml.starts_with("<?xml"),
        "{xml}"
    );
    assert_eq!(xml.matches("-->").count(), 1, "{xml}");
}
