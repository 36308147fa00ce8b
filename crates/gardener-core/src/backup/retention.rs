//! Which backups a prune keeps: a pure function of the policy, the backups'
//! creation times and the local time zone, so a prune can be previewed and
//! tested without touching any file.
//!
//! The rules follow restic's `forget --keep-*`, so anyone who knows restic can
//! predict them:
//!
//! - `keep_last N` keeps the N newest backups.
//! - `keep_daily N` keeps the newest backup of each of the N most recent local
//!   calendar days *that have a backup*; days without one do not use up the
//!   budget, so a laptop that was off for a week still keeps N days' worth.
//! - `keep_weekly` does the same per ISO week (Monday to Sunday, numbered by
//!   the ISO week-year, so 2026-12-31 and 2027-01-02 share week 2026-W53), and
//!   `keep_monthly` per calendar month.
//! - On top of the policy, the newest *verified* backup is always kept, so no
//!   policy can leave the user with only backups that were never checked.
//! - A backup that failed its check, or that left out a source that had to
//!   be there, takes no rule's place: it cannot push a good backup out.
//! - Every backup a kept one needs (an incremental backup's earlier archives
//!   that hold its unchanged files) is kept too, as `parent-of`, and so is
//!   everything those need. A chain whose newest backup expires goes whole.
//!
//! A backup is kept when any rule keeps it; every reason is reported so the
//! UI can say why.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::config::RetentionConfig;

/// One backup as retention sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The backup's identifier, echoed in its [`Decision`].
    pub id: String,
    /// When the backup was taken.
    pub created: Timestamp,
    /// Whether the backup has been read back and matched its manifest.
    pub verified: bool,
    /// Whether it may take a rule's place: false when it failed its check or
    /// left out a source that had to be there.
    pub counts: bool,
    /// The backups whose archives it needs to be restored.
    pub needs: Vec<String>,
}

/// Why a backup is kept; serialized as `"last"`, `"daily"`, `"weekly"`,
/// `"monthly"` or `"newest-verified"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Among the `keep_last` newest.
    Last,
    /// Newest of one of the `keep_daily` most recent days with a backup.
    Daily,
    /// Newest of one of the `keep_weekly` most recent ISO weeks with a backup.
    Weekly,
    /// Newest of one of the `keep_monthly` most recent months with a backup.
    Monthly,
    /// The newest verified backup, kept whatever the policy says.
    NewestVerified,
    /// A kept backup needs its archive (`needed_by` says which).
    ParentOf,
}

/// What happens to one backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The candidate's id.
    pub id: String,
    /// `true` exactly when `reasons` is not empty.
    pub keep: bool,
    /// Every rule that keeps it, sorted, without duplicates.
    pub reasons: Vec<Reason>,
    /// The kept backups that need this one (with reason `parent-of`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub needed_by: Vec<String>,
}

/// A calendar period a backup falls in; only compared for equality, so the
/// three numbers mean whatever the rule needs (day, ISO week, month).
type Bucket = (i16, i8, i8);

/// Maps a local date to the period a calendar rule counts in.
type BucketOf = fn(Date) -> Bucket;

fn day(d: Date) -> Bucket {
    (d.year(), d.month(), d.day())
}

fn iso_week(d: Date) -> Bucket {
    let w = d.iso_week_date();
    (w.year(), w.week(), 0)
}

fn month(d: Date) -> Bucket {
    (d.year(), d.month(), 0)
}

/// Decides for every candidate, whatever order they come in. The result is
/// newest first, ties broken by id descending, so equal inputs always give
/// equal, stable output (and the newest backup is the first line a user sees).
///
/// A policy of all zeros keeps only the newest verified backup; config
/// validation refuses such a policy, but a prune must still never delete the
/// last known-good backup.
pub fn decide(policy: &RetentionConfig, backups: &[Candidate], tz: &TimeZone) -> Vec<Decision> {
    let mut sorted: Vec<&Candidate> = backups.iter().collect();
    sorted.sort_by_key(|c| Reverse((c.created, c.id.as_str())));
    let mut reasons: Vec<Vec<Reason>> = vec![Vec::new(); sorted.len()];
    // Only backups that count take a rule's place; `slots` are their indices.
    let slots: Vec<usize> = (0..sorted.len()).filter(|&i| sorted[i].counts).collect();
    // Local dates once, shared by the three calendar rules.
    let dates: Vec<Date> = slots
        .iter()
        .map(|&i| tz.to_datetime(sorted[i].created).date())
        .collect();

    let last = usize::try_from(policy.keep_last).unwrap_or(usize::MAX);
    for &i in slots.iter().take(last) {
        reasons[i].push(Reason::Last);
    }

    let rules: [(Reason, u32, BucketOf); 3] = [
        (Reason::Daily, policy.keep_daily, day),
        (Reason::Weekly, policy.keep_weekly, iso_week),
        (Reason::Monthly, policy.keep_monthly, month),
    ];
    for (reason, n, bucket_of) in rules {
        let wanted = usize::try_from(n).unwrap_or(usize::MAX);
        // A set rather than "differs from the previous one": around a DST
        // change local time can step backwards, and a period must still be
        // counted once.
        let mut taken = BTreeSet::new();
        for (date, &i) in dates.iter().zip(&slots) {
            if taken.len() >= wanted {
                break;
            }
            if taken.insert(bucket_of(*date)) {
                reasons[i].push(reason);
            }
        }
    }

    if let Some(&i) = slots.iter().find(|&&i| sorted[i].verified) {
        reasons[i].push(Reason::NewestVerified);
    }

    let needed_by = keep_what_kept_ones_need(&sorted, &mut reasons);
    sorted
        .into_iter()
        .zip(reasons)
        .map(|(c, mut reasons)| {
            reasons.sort_unstable();
            reasons.dedup();
            Decision {
                id: c.id.clone(),
                keep: !reasons.is_empty(),
                reasons,
                needed_by: needed_by.get(c.id.as_str()).cloned().unwrap_or_default(),
            }
        })
        .collect()
}

/// Marks every backup a kept one needs (and what those need) as kept with
/// [`Reason::ParentOf`]; returns, by id, the kept backups needing each.
fn keep_what_kept_ones_need(
    sorted: &[&Candidate],
    reasons: &mut [Vec<Reason>],
) -> BTreeMap<String, Vec<String>> {
    let index: BTreeMap<&str, usize> = sorted
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    let mut needed_by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut queue: Vec<usize> = (0..sorted.len())
        .filter(|&i| !reasons[i].is_empty())
        .collect();
    let mut seen: BTreeSet<usize> = queue.iter().copied().collect();
    while let Some(i) = queue.pop() {
        for need in &sorted[i].needs {
            let by = needed_by.entry(need.clone()).or_default();
            if !by.contains(&sorted[i].id) {
                by.push(sorted[i].id.clone());
            }
            if let Some(&j) = index.get(need.as_str()) {
                reasons[j].push(Reason::ParentOf);
                if seen.insert(j) {
                    queue.push(j);
                }
            }
        }
    }
    for by in needed_by.values_mut() {
        by.sort();
    }
    needed_by
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Backups written as `id@instant`, verified ones as `*id@instant`, ones
    /// that do not count (failed, or a source left out) as `!id@instant`, and
    /// what one needs after `>`: `inc@instant>full,other`.
    fn backups(spec: &str) -> Vec<Candidate> {
        let one = |token: &str| {
            let (token, needs) = token.split_once('>').unwrap_or((token, ""));
            let (id, at) = token.split_once('@').unwrap();
            let (id, verified) = id.strip_prefix('*').map_or((id, false), |id| (id, true));
            let (id, counts) = id.strip_prefix('!').map_or((id, true), |id| (id, false));
            Candidate {
                id: id.into(),
                created: at.parse().unwrap(),
                verified,
                counts,
                needs: needs
                    .split(',')
                    .filter(|n| !n.is_empty())
                    .map(String::from)
                    .collect(),
            }
        };
        spec.split_whitespace().map(one).collect()
    }

    /// The whole output, in order, as `id reason reason | id | …`, reasons by
    /// their serialized names; checks `keep` on the way.
    fn render(decisions: &[Decision]) -> String {
        let one = |d: &Decision| {
            assert_eq!(d.keep, !d.reasons.is_empty(), "{d:?}");
            let mut line = d.id.clone();
            for r in &d.reasons {
                line.push(' ');
                line.push_str(serde_json::to_value(r).unwrap().as_str().unwrap());
            }
            line
        };
        decisions.iter().map(one).collect::<Vec<_>>().join(" | ")
    }

    fn policy([keep_last, keep_daily, keep_weekly, keep_monthly]: [u32; 4]) -> RetentionConfig {
        RetentionConfig {
            keep_last,
            keep_daily,
            keep_weekly,
            keep_monthly,
        }
    }

    /// Cases are `([keep_last, keep_daily, keep_weekly, keep_monthly],
    /// backups, expected output)`, decided in a zone `utc_offset` hours from UTC.
    fn check(utc_offset: i8, cases: &[([u32; 4], &str, &str)]) {
        let tz = TimeZone::fixed(jiff::tz::offset(utc_offset));
        for &(keep, spec, want) in cases {
            let got = render(&decide(&policy(keep), &backups(spec), &tz));
            assert_eq!(got, want, "policy {keep:?}, backups {spec}");
        }
    }

    #[test]
    fn keep_last_takes_the_newest_with_ties_by_id_descending() {
        let ties =
            "a@2026-03-01T10:00Z b@2026-03-03T10:00Z c@2026-03-03T10:00Z d@2026-03-02T10:00Z";
        check(
            0,
            &[
                ([2, 0, 0, 0], ties, "c last | b last | d | a"),
                ([9, 0, 0, 0], ties, "c last | b last | d last | a last"),
            ],
        );
    }

    #[test]
    fn daily_keeps_the_newest_of_each_day_that_has_one() {
        let several_a_day = "1-am@2026-03-01T08:00Z 1-pm@2026-03-01T20:00Z 2-am@2026-03-02T01:00Z \
                             2-pm@2026-03-02T23:59Z 3-pm@2026-03-03T12:00Z";
        let gaps = "01@2026-03-01T03:00Z 05@2026-03-05T03:00Z 09@2026-03-09T03:00Z \
                    10@2026-03-10T03:00Z";
        check(
            0,
            &[
                (
                    [0, 2, 0, 0],
                    several_a_day,
                    "3-pm daily | 2-pm daily | 2-am | 1-pm | 1-am",
                ),
                ([0, 3, 0, 0], gaps, "10 daily | 09 daily | 05 daily | 01"),
            ],
        );
    }

    #[test]
    fn the_day_boundary_follows_local_time() {
        // At UTC-5, 03:00Z is 22:00 on March 1st and 06:00Z is 01:00 on the 2nd.
        let two = "early@2026-03-02T03:00Z late@2026-03-02T06:00Z";
        check(-5, &[([0, 2, 0, 0], two, "late daily | early daily")]);
        check(0, &[([0, 2, 0, 0], two, "late daily | early")]);
    }

    #[test]
    fn weekly_uses_iso_weeks_across_the_new_year() {
        // 2026 starts on a Thursday, so it has 53 ISO weeks: Monday
        // 2026-12-28 to Sunday 2027-01-03 is 2026-W53.
        let w53 = Date::constant(2027, 1, 2).iso_week_date();
        assert_eq!((w53.year(), w53.week()), (2026, 53));
        let w01 = Date::constant(2027, 1, 4).iso_week_date();
        assert_eq!((w01.year(), w01.week()), (2027, 1));
        let spec = "w52@2026-12-22T03:00Z w53-tue@2026-12-29T03:00Z \
                    w53-sat@2027-01-02T03:00Z w01-mon@2027-01-04T03:00Z";
        check(
            0,
            &[(
                [0, 0, 2, 0],
                spec,
                "w01-mon weekly | w53-sat weekly | w53-tue | w52",
            )],
        );
    }

    #[test]
    fn monthly_skips_months_without_backups() {
        let spec = "jan-15@2026-01-15T03:00Z jan-31@2026-01-31T03:00Z feb-10@2026-02-10T03:00Z \
                    apr-01@2026-04-01T03:00Z apr-20@2026-04-20T03:00Z";
        check(
            0,
            &[
                (
                    [0, 0, 0, 2],
                    spec,
                    "apr-20 monthly | apr-01 | feb-10 monthly | jan-31 | jan-15",
                ),
                (
                    [0, 0, 0, 6],
                    spec,
                    "apr-20 monthly | apr-01 | feb-10 monthly | jan-31 monthly | jan-15",
                ),
            ],
        );
    }

    /// Sunday 2026-03-01 and Monday 03-02 fall in different ISO weeks.
    const MIXED: &str = "jan@2026-01-10T03:00Z *feb@2026-02-20T03:00Z sun@2026-03-01T10:00Z \
                         *mon-9@2026-03-02T09:00Z mon-10@2026-03-02T10:00Z";

    #[test]
    fn overlapping_rules_report_every_reason() {
        let want = "mon-10 last daily weekly monthly | mon-9 last newest-verified \
                    | sun daily weekly | feb monthly | jan";
        check(0, &[([2, 2, 2, 2], MIXED, want)]);
    }

    #[test]
    fn the_newest_verified_backup_is_always_kept() {
        let checked = "*old@2026-03-01T03:00Z *ok@2026-03-02T03:00Z new@2026-03-03T03:00Z";
        let unchecked = "old@2026-03-01T03:00Z ok@2026-03-02T03:00Z new@2026-03-03T03:00Z";
        check(
            0,
            &[
                ([1, 0, 0, 0], checked, "new last | ok newest-verified | old"),
                ([0, 0, 0, 0], checked, "new | ok newest-verified | old"),
                ([1, 0, 0, 0], unchecked, "new last | ok | old"),
                ([0, 0, 0, 0], unchecked, "new | ok | old"),
                ([3, 7, 4, 6], "", ""),
            ],
        );
    }

    #[test]
    fn input_order_does_not_matter() {
        let policy = policy([2, 2, 2, 2]);
        let tz = TimeZone::UTC;
        let want = decide(&policy, &backups(MIXED), &tz);
        let mut shuffled = backups(MIXED);
        for i in 0..shuffled.len() {
            shuffled.rotate_left(1);
            assert_eq!(decide(&policy, &shuffled, &tz), want, "rotation {i}");
            shuffled.reverse();
            assert_eq!(decide(&policy, &shuffled, &tz), want, "reversed {i}");
            shuffled.swap(0, i);
            assert_eq!(decide(&policy, &shuffled, &tz), want, "swapped {i}");
        }
    }

    #[test]
    fn decisions_serialize_with_kebab_case_reasons() {
        let d = Decision {
            id: "x".into(),
            keep: true,
            reasons: vec![Reason::Last, Reason::NewestVerified],
            needed_by: Vec::new(),
        };
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"id":"x","keep":true,"reasons":["last","newest-verified"]}"#
        );
        let d = Decision {
            id: "full".into(),
            keep: true,
            reasons: vec![Reason::ParentOf],
            needed_by: vec!["inc".into()],
        };
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"id":"full","keep":true,"reasons":["parent-of"],"needed_by":["inc"]}"#
        );
    }

    #[test]
    fn what_a_kept_backup_needs_is_kept_and_an_expired_chain_goes_whole() {
        // Two chains: f1 <- i1 <- i2 (i2 takes from both) and f2 <- i3.
        let spec = "f1@2026-03-01T03:00Z i1@2026-03-02T03:00Z>f1 i2@2026-03-03T03:00Z>f1,i1 \
                    f2@2026-03-04T03:00Z i3@2026-03-05T03:00Z>f2";
        check(
            0,
            &[
                // Keeping i2 keeps what it needs; nothing keeps f2's chain.
                (
                    [0, 0, 0, 0],
                    "*i2@2026-03-03T03:00Z>f1,i1 f1@2026-03-01T03:00Z i1@2026-03-02T03:00Z>f1",
                    "i2 newest-verified | i1 parent-of | f1 parent-of",
                ),
                ([1, 0, 0, 0], spec, "i3 last | f2 parent-of | i2 | i1 | f1"),
                (
                    [3, 0, 0, 0],
                    spec,
                    "i3 last | f2 last parent-of | i2 last | i1 parent-of | f1 parent-of",
                ),
            ],
        );
        let tz = TimeZone::UTC;
        let d = decide(&policy([3, 0, 0, 0]), &backups(spec), &tz);
        let f1 = d.iter().find(|d| d.id == "f1").unwrap();
        assert_eq!(f1.needed_by, ["i1", "i2"]);
    }

    #[test]
    fn backups_that_do_not_count_take_no_place() {
        // A failed newest backup: the daily slot and "last" go to the next.
        let spec = "!bad@2026-03-03T03:00Z *ok@2026-03-02T03:00Z old@2026-03-01T03:00Z";
        check(
            0,
            &[
                (
                    [1, 1, 0, 0],
                    spec,
                    "bad | ok last daily newest-verified | old",
                ),
                // Still kept when a kept backup needs it.
                (
                    [1, 0, 0, 0],
                    "inc@2026-03-04T03:00Z>bad !bad@2026-03-03T03:00Z",
                    "inc last | bad parent-of",
                ),
            ],
        );
    }
}
