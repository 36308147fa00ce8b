// What a window makes of a failure's code: the one place the UI branches on
// one. The switch names every ErrorCode, so a code added in Rust (and so in
// bindings/ErrorCode.ts) does not type-check here until it has a treatment.

import type { ErrorCode } from "./bindings/ErrorCode";

/**
 * - `cancelled`: the person stopped it and nothing was left behind: not an error to show as one.
 * - `undone`: it failed and what it had changed is back as it was.
 * - `wait`: something else is running or not answering yet; trying again later may work.
 * - `fix`: something on this machine or in the settings needs changing first.
 * - `fault`: Gardener's own fault; worth reporting with the code.
 */
export type Treatment = "cancelled" | "undone" | "wait" | "fix" | "fault";

export type ErrorHelp = { treatment: Treatment; hint: string };

// Every code, for telling one from any other string at run time; as a
// Record, TypeScript insists on exactly the codes of ErrorCode.
const CODES: Record<ErrorCode, true> = {
  paths: true, config: true, service: true, io: true, preflight: true, unhealthy: true,
  "other-platform": true, "not-installed": true, "not-managed": true, corrupt: true, refused: true,
  busy: true, cancelled: true, usage: true, "rolled-back": true, "source-missing": true,
  unreachable: true, denied: true, missing: true, key: true, "ollama-unreachable": true,
  "not-loaded": true, "unload-failed": true, monitor: true, "metrics-bind": true, metrics: true,
  "log-missing": true, setup: true, autostart: true, runtime: true, ipc: true, internal: true,
  "model-missing": true, "model-loaded": true, "no-space": true, "pull-failed": true, "ollama-refused": true,
};

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(CODES, value);
}

const help = (treatment: Treatment, hint: string): ErrorHelp => ({ treatment, hint });

/** How to treat a failure with `code`, and a line on what to do about it. */
export function errorHelp(code: ErrorCode): ErrorHelp {
  switch (code) {
    case "cancelled":
      return help("cancelled", "Nothing was left behind.");
    case "rolled-back":
      return help("undone", "What was there before is back.");
    case "busy":
      return help("wait", "Wait for the running backup, check or restore to finish.");
    case "monitor":
      return help("wait", "The monitor is not running or not answering; the menu's first line says why.");
    case "unreachable":
      return help("wait", "Check that the target is mounted or online.");
    case "ollama-unreachable":
      return help("wait", "Ollama is not answering; see the Services view.");
    case "not-loaded":
      return help("wait", "That model is no longer loaded.");
    case "unload-failed":
      return help("wait", "Ollama refused; the Services view has its log.");
    case "pull-failed":
      return help("wait", "The download stopped; start it again and Ollama goes on where it was.");
    case "model-loaded":
      return help("fix", "Unload the model first.");
    case "model-missing":
      return help("fix", "Ollama has no model by that name; check the spelling.");
    case "no-space":
      return help("fix", "Free space on the models folder's disk, or choose a smaller model.");
    case "ollama-refused":
      return help("fix", "Ollama refused; its message says why.");
    case "paths":
      return help("fix", "Gardener cannot find your home folder: set HOME.");
    case "config":
      return help("fix", "Fix gardener.toml in Settings.");
    case "service":
      return help("fix", "The service manager refused; the Services view has the logs.");
    case "io":
      return help("fix", "Check the disk and the permissions of the file named.");
    case "preflight":
      return help("fix", "Nothing was changed; fix what the checks name, then try again.");
    case "unhealthy":
      return help("fix", "The service's log says why it did not start.");
    case "other-platform":
      return help("fix", "This plan is for another kind of machine.");
    case "not-installed":
      return help("fix", "Set up Gardener first.");
    case "not-managed":
      return help("fix", "Control it where you run it.");
    case "corrupt":
      return help("fix", "This backup or copy is damaged; use another one.");
    case "refused":
      return help("fix", "Gardener refused it as unsafe; the message says why.");
    case "usage":
      return help("fix", "That cannot be done as asked.");
    case "source-missing":
      return help("fix", "A folder to back up is missing or empty; mark it optional if that is expected.");
    case "denied":
      return help("fix", "The target refused the credentials.");
    case "missing":
      return help("fix", "That copy is not on the target.");
    case "key":
      return help("fix", "The recovery key is missing or not the one the copies need.");
    case "metrics-bind":
    case "metrics":
      return help("fix", "Check [monitor] metrics in gardener.toml.");
    case "log-missing":
      return help("fix", "The service may not have started yet.");
    case "setup":
      return help("fix", "Choose Set Up… in the menu-bar app's menu.");
    case "autostart":
      return help("fix", "The login item could not be changed; check the system's login items.");
    case "runtime":
    case "ipc":
    case "internal":
      return help("fault", "This is Gardener's fault; please report it with the code.");
    default:
      return unknown(code);
  }
}

/** Reached only if a code outside ErrorCode arrives; `never` makes the switch above name them all. */
function unknown(code: never): ErrorHelp {
  return help("fault", `Unknown error code ${String(code)}; please report it.`);
}
