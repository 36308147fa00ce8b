// How figures read: sizes in binary units, percentages, times as a person
// says them.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** 1536 → "1.5 KiB". */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

/** 23.46 → "23%". */
export function percent(n: number | null | undefined): string {
  return n === null || n === undefined || !Number.isFinite(n) ? "—" : `${Math.round(n)}%`;
}

/** Seconds → "45 s", "3 min", "2 h", "4 days". */
export function duration(secs: number): string {
  if (secs < 60) return `${Math.max(0, Math.round(secs))} s`;
  if (secs < 3600) return `${Math.round(secs / 60)} min`;
  if (secs < 86400 * 2) return `${Math.round(secs / 3600)} h`;
  return `${Math.round(secs / 86400)} days`;
}

/** How long ago `thenSecs` was, from `nowSecs`: "just now", "3 h ago". */
export function ago(thenSecs: number, nowSecs: number): string {
  const d = nowSecs - thenSecs;
  return d < 60 ? "just now" : `${duration(d)} ago`;
}

/** A local date and time for an RFC 3339 string or seconds since the epoch. */
export function when(t: string | number): string {
  const date = typeof t === "number" ? new Date(t * 1000) : new Date(t);
  if (Number.isNaN(date.getTime())) return String(t);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** A rule's value in its unit: percent, bytes or hours; up/down as words. */
export function ruleValue(rule: string, value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (rule.endsWith("_rss")) return bytes(value);
  if (rule === "backup_overdue") return `${Math.round(value)} h`;
  if (rule.endsWith("_down")) return value >= 1 ? "down" : "up";
  if (rule.endsWith("_health")) return value >= 1 ? "failing" : "answering";
  if (rule === "backup_failed" || rule.startsWith("copy_failed:")) return value >= 1 ? "failed" : "fine";
  if (rule.startsWith("copy_overdue:")) return `${Math.round(value)} h`;
  if (rule === "model_offloaded") return `${percent(value)} on the CPU`;
  return percent(value);
}
