// Tests for the IPC wrapper against Tauri's own IPC mock: results pass
// through, and every kind of rejection becomes an IpcError.

import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, describe, expect, it } from "vitest";

import { loadPlan, toIpcError } from "../src/ipc";

afterEach(() => clearMocks());

describe("loadPlan", () => {
  it("invokes setup_plan and returns the plan", async () => {
    const plan = { platform: "macos", config_file: "/x/gardener.toml", manage_ollama: true, steps: [] };
    mockIPC((cmd) => (cmd === "setup_plan" ? plan : undefined));
    expect(await loadPlan()).toEqual({ ok: true, value: plan });
  });

  it("passes a command's {code, message} error through", async () => {
    mockIPC(() => {
      throw { code: "config", message: "bad key" };
    });
    expect(await loadPlan()).toEqual({ ok: false, error: { code: "config", message: "bad key" } });
  });
});

describe("toIpcError", () => {
  it("wraps Tauri's bare-string errors", () => {
    expect(toIpcError("setup_plan not allowed")).toEqual({ code: "ipc", message: "setup_plan not allowed" });
  });

  it("never shows a raw object", () => {
    expect(toIpcError({ nope: 1 }).code).toBe("internal");
  });
});
