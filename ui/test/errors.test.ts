// Tests for the one place the UI branches on an error code: each code's
// treatment and hint, and telling codes from other strings.

import { describe, expect, it } from "vitest";

import type { ErrorCode } from "../src/bindings/ErrorCode";
import { errorHelp, isErrorCode } from "../src/errors";
import { renderError } from "../src/plan";

// The codes as Rust spells them (crates/gardener-core/src/error.rs).
const ALL: ErrorCode[] = [
  "paths", "config", "service", "io", "preflight", "unhealthy", "other-platform", "not-installed",
  "not-managed", "corrupt", "refused", "busy", "cancelled", "usage", "rolled-back", "source-missing",
  "unreachable", "denied", "missing", "key", "ollama-unreachable", "not-loaded", "unload-failed",
  "monitor", "metrics-bind", "metrics", "log-missing", "setup", "autostart", "runtime", "ipc", "internal",
  "model-missing", "model-loaded", "no-space", "pull-failed", "ollama-refused",
];

describe("errorHelp", () => {
  it("gives every code a treatment and a hint", () => {
    for (const code of ALL) {
      const help = errorHelp(code);
      expect(["cancelled", "undone", "wait", "fix", "fault"]).toContain(help.treatment);
      expect(help.hint.length, code).toBeGreaterThan(0);
      expect(help.hint, code).not.toContain("Unknown error code");
    }
  });

  it("treats a cancel as no failure and a rollback as undone", () => {
    expect(errorHelp("cancelled").treatment).toBe("cancelled");
    expect(errorHelp("rolled-back").treatment).toBe("undone");
    const undone = ALL.filter((c) => errorHelp(c).treatment === "undone");
    expect(undone).toEqual(["rolled-back"]);
    const cancelled = ALL.filter((c) => errorHelp(c).treatment === "cancelled");
    expect(cancelled).toEqual(["cancelled"]);
  });

  it("tells waiting from fixing from Gardener's own faults", () => {
    expect(errorHelp("busy").treatment).toBe("wait");
    expect(errorHelp("ollama-unreachable").treatment).toBe("wait");
    expect(errorHelp("monitor").treatment).toBe("wait");
    expect(errorHelp("pull-failed").treatment).toBe("wait");
    expect(errorHelp("no-space").treatment).toBe("fix");
    expect(errorHelp("config").treatment).toBe("fix");
    expect(errorHelp("not-installed").treatment).toBe("fix");
    expect(errorHelp("internal").treatment).toBe("fault");
    expect(errorHelp("ipc").treatment).toBe("fault");
  });

  it("treats a code it does not know as a fault rather than failing", () => {
    const stray = "ollama" as unknown as ErrorCode;
    expect(errorHelp(stray)).toEqual({ treatment: "fault", hint: "Unknown error code ollama; please report it." });
  });
});

describe("isErrorCode", () => {
  it("knows every code and nothing else", () => {
    for (const code of ALL) expect(isErrorCode(code), code).toBe(true);
    for (const other of ["ollama", "RolledBack", "", "toString", 3, null, undefined]) expect(isErrorCode(other)).toBe(false);
  });
});

describe("renderError", () => {
  it("says what to do about the failure", () => {
    const view = renderError({ code: "busy", message: "another backup or restore is running" });
    expect(view.querySelector(".error-hint")?.textContent).toBe(errorHelp("busy").hint);
  });
});
