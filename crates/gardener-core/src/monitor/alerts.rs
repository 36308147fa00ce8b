//! The alert engine: a pure state machine that turns snapshots into events
//! (threshold, hysteresis, sustained-for, cooldown, recovery, mute). It reads
//! no clock and does no I/O; [`AlertStore`] keeps its state across restarts.
//!
//! Per rule: Ok → Pending when the value goes over the threshold; Pending →
//! Firing (event) once it has stayed over for `for_secs`; Firing → Ok (event
//! when `recovery`) only once it is back to or below `clear`. While firing
//! and still over the threshold, a repeat event comes every `cooldown_secs`.

mod offload;
pub mod pause;
mod rules;
mod store;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use self::rules::{Reading, Rule};
use super::snapshot::{AlertState, AlertStatus, Snapshot};
use crate::config::AlertsConfig;

pub use self::rules::{RULE_IDS, RuleInfo, describe, rule_name};
pub use self::store::AlertStore;

/// Events kept in the history; older ones are dropped.
pub const HISTORY_LEN: usize = 500;

/// Version of the `alerts.json` layout.
const FORMAT_VERSION: u32 = 1;

/// Whether an event raises or ends an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, rename = "AlertEventKind")
)]
pub enum EventKind {
    /// The rule fired (or, with `repeat`, is still firing).
    Firing,
    /// The rule resolved.
    Resolved,
}

/// One alert notification (sent or, when `muted`, only recorded).
// In TypeScript `AlertEvent`: a bare `Event` would shadow the DOM's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export, rename = "AlertEvent"))]
pub struct Event {
    /// Rule id (see [`RULE_IDS`]).
    pub rule: String,
    /// Fired or resolved.
    pub kind: EventKind,
    /// The value that triggered it (percent, bytes, hours, or 1/0).
    pub value: f64,
    /// The rule's threshold, in the same unit.
    pub threshold: f64,
    /// When, in seconds since the epoch.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at: u64,
    /// A sentence for a person ("CPU at 93% for 2 min (threshold 80%)").
    pub message: String,
    /// A reminder that the rule is still firing, after its cooldown.
    #[serde(default)]
    pub repeat: bool,
    /// Recorded but not to be notified: alerts are disabled or muted, or
    /// (for a resolution) the firing it ends was never notified.
    #[serde(default)]
    pub muted: bool,
}

/// One rule's state, as persisted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct RuleState {
    /// Ok, pending or firing.
    pub state: AlertState,
    /// Since when it has been in `state` (seconds since the epoch).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub since: Option<u64>,
    /// When the value went over the threshold, while pending or firing.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub over_since: Option<u64>,
    /// When the last event for this rule was produced (cooldown base).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub last_notified: Option<u64>,
    /// The last firing event was muted, so the person has not been told yet.
    pub undelivered: bool,
    /// The value last evaluated (`None` when unknown).
    pub value: Option<f64>,
}

/// Everything the engine remembers: `alerts.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PersistedAlerts {
    /// Layout version.
    pub version: u32,
    /// Each rule's state by id; ids no longer configured are ignored.
    pub rules: BTreeMap<String, RuleState>,
    /// The latest events, oldest first, at most [`HISTORY_LEN`].
    pub history: Vec<Event>,
}

impl Default for PersistedAlerts {
    fn default() -> Self {
        Self {
            version: FORMAT_VERSION,
            rules: BTreeMap::new(),
            history: Vec::new(),
        }
    }
}

/// The alert engine: rules from `[alerts]`, their states and the history.
#[derive(Clone, Debug)]
pub struct Engine {
    rules: Vec<(Rule, RuleState)>,
    enabled: bool,
    mute_until: Option<u64>,
    history: Vec<Event>,
}

impl Engine {
    /// An engine for `config`, continuing from `saved` (from [`AlertStore::load`]).
    pub fn new(config: &AlertsConfig, saved: Option<PersistedAlerts>) -> Self {
        let saved = saved.unwrap_or_default();
        let mut history = saved.history;
        trim(&mut history);
        let mut engine = Self {
            rules: Vec::new(),
            enabled: true,
            mute_until: None,
            history,
        };
        engine.rules = engine.build(config, saved.rules, true);
        engine
    }

    /// Applies a changed `[alerts]`, keeping the state of rules still enabled.
    pub fn reconfigure(&mut self, config: &AlertsConfig) {
        let old = std::mem::take(&mut self.rules)
            .into_iter()
            .map(|(r, s)| (r.id.to_owned(), s))
            .collect();
        self.rules = self.build(config, old, false);
    }

    fn build(
        &mut self,
        config: &AlertsConfig,
        mut states: BTreeMap<String, RuleState>,
        restored: bool,
    ) -> Vec<(Rule, RuleState)> {
        self.enabled = config.enabled;
        self.mute_until = config.mute_until_secs();
        rules::rules(config)
            .into_iter()
            .map(|rule| {
                let mut st = states.remove(&rule.id).unwrap_or_default();
                // A pending rule was not watched while Gardener was down, so
                // "sustained" cannot be claimed across the gap: start over.
                if restored && st.state == AlertState::Pending {
                    st = RuleState {
                        value: st.value,
                        ..RuleState::default()
                    };
                }
                if st.value.is_some_and(|v| !v.is_finite()) {
                    st.value = None;
                }
                (rule, st)
            })
            .collect()
    }

    /// Whether notifications are off at `now`: alerts disabled or muted.
    pub fn muted_at(&self, now: u64) -> bool {
        !self.enabled || self.mute_until.is_some_and(|until| now < until)
    }

    /// Evaluates every enabled rule on `snapshot` taken at `now` (seconds
    /// since the epoch) and returns the events, also appended to the history.
    pub fn evaluate(&mut self, snapshot: &Snapshot, now: u64) -> Vec<Event> {
        let muted = self.muted_at(now);
        let events: Vec<Event> = self
            .rules
            .iter_mut()
            .filter_map(|(rule, st)| {
                let reading = rule.read(snapshot, now);
                step(rule, st, reading, snapshot, now, muted)
            })
            .collect();
        self.history.extend(events.iter().cloned());
        trim(&mut self.history);
        events
    }

    /// Every enabled rule and its state, for `Snapshot::alerts`.
    pub fn statuses(&self) -> Vec<AlertStatus> {
        self.rules
            .iter()
            .map(|(rule, st)| AlertStatus {
                rule: rule.id.to_owned(),
                state: st.state,
                value: st.value,
                threshold: rule.threshold,
                since: st.since,
            })
            .collect()
    }

    /// The latest events, oldest first.
    pub fn history(&self) -> &[Event] {
        &self.history
    }

    /// The state to persist (see [`AlertStore::save`]).
    pub fn save_state(&self) -> PersistedAlerts {
        PersistedAlerts {
            version: FORMAT_VERSION,
            rules: self
                .rules
                .iter()
                .map(|(rule, st)| (rule.id.to_owned(), st.clone()))
                .collect(),
            history: self.history.clone(),
        }
    }
}

fn trim(history: &mut Vec<Event>) {
    let excess = history.len().saturating_sub(HISTORY_LEN);
    history.drain(..excess);
}

fn back_to_ok(st: &mut RuleState, now: u64) {
    st.state = AlertState::Ok;
    st.since = Some(now);
    st.over_since = None;
    st.undelivered = false;
}

/// One rule, one sample: updates `st` and returns the event, if any.
fn step(
    rule: &Rule,
    st: &mut RuleState,
    reading: Reading,
    snapshot: &Snapshot,
    now: u64,
    muted: bool,
) -> Option<Event> {
    let value = value_of(reading, st, now)?;
    st.value = Some(value);
    match st.state {
        AlertState::Ok | AlertState::Pending => step_quiet(rule, st, value, snapshot, now, muted),
        AlertState::Firing => step_firing(rule, st, value, snapshot, now, muted),
    }
}

/// The value a reading gives; a reading without one clears the rule's value
/// and, when the rule is suspended or gone, ends what it may no longer claim.
fn value_of(reading: Reading, st: &mut RuleState, now: u64) -> Option<f64> {
    match reading {
        Reading::Value(v) => return Some(v),
        Reading::Unknown => {}
        Reading::Suspended => {
            if st.state == AlertState::Pending {
                back_to_ok(st, now);
            }
        }
        Reading::Gone => {
            if st.state != AlertState::Ok {
                back_to_ok(st, now);
            }
        }
    }
    st.value = None;
    None
}

/// A sample of a rule that is not firing: over the threshold long enough, it
/// fires; over it for less, it is pending; under it, it is ok again.
fn step_quiet(
    rule: &Rule,
    st: &mut RuleState,
    value: f64,
    snapshot: &Snapshot,
    now: u64,
    muted: bool,
) -> Option<Event> {
    if !rule.over(value) {
        // A dip below the threshold ends a pending alert silently.
        if st.state == AlertState::Pending {
            back_to_ok(st, now);
        }
        return None;
    }
    let start = match (st.state, st.over_since) {
        (AlertState::Pending, Some(t)) => t,
        _ => now,
    };
    // saturating: a clock stepped backwards must not fire early.
    let over_secs = now.saturating_sub(start);
    if over_secs < rule.for_secs {
        if st.state == AlertState::Ok {
            st.state = AlertState::Pending;
            st.since = Some(now);
            st.over_since = Some(now);
        }
        return None;
    }
    st.state = AlertState::Firing;
    st.since = Some(now);
    st.over_since = Some(start);
    st.last_notified = Some(now);
    st.undelivered = muted;
    let message = rule.firing_message(value, snapshot, over_secs, false);
    Some(event(
        rule,
        EventKind::Firing,
        value,
        now,
        message,
        false,
        muted,
    ))
}

/// A sample of a firing rule: cleared, it recovers; still over the
/// threshold, it reminds once the cooldown has passed or a mute has ended.
fn step_firing(
    rule: &Rule,
    st: &mut RuleState,
    value: f64,
    snapshot: &Snapshot,
    now: u64,
    muted: bool,
) -> Option<Event> {
    if rule.cleared(value) {
        // Telling someone "back to normal" about an alert they were
        // never told about is noise, so that one stays muted too.
        let quiet = muted || st.undelivered;
        back_to_ok(st, now);
        if !rule.recovery {
            return None;
        }
        st.last_notified = Some(now);
        let message = rule.resolved_message(value);
        return Some(event(
            rule,
            EventKind::Resolved,
            value,
            now,
            message,
            false,
            quiet,
        ));
    }
    // Between `clear` and the threshold: still firing, but no
    // reminders saying "still at 75% (threshold 80%)".
    if !rule.over(value) {
        return None;
    }
    let last = st.last_notified.or(st.since).unwrap_or(now);
    let cooled = rule.cooldown_secs > 0 && now.saturating_sub(last) >= rule.cooldown_secs;
    // The mute ended with the alert still firing: say so once now
    // rather than staying silent until the next cooldown.
    let catch_up = st.undelivered && !muted;
    if !(cooled || catch_up) {
        return None;
    }
    st.last_notified = Some(now);
    st.undelivered = muted;
    let over_secs = now.saturating_sub(st.over_since.unwrap_or(now));
    let message = rule.firing_message(value, snapshot, over_secs, true);
    Some(event(
        rule,
        EventKind::Firing,
        value,
        now,
        message,
        true,
        muted,
    ))
}

/// The event `rule` sends about `value` at `now`.
fn event(
    rule: &Rule,
    kind: EventKind,
    value: f64,
    now: u64,
    message: String,
    repeat: bool,
    muted: bool,
) -> Event {
    Event {
        rule: rule.id.to_owned(),
        kind,
        value,
        threshold: rule.threshold,
        at: now,
        message,
        repeat,
        muted,
    }
}

#[cfg(test)]
mod tests;
