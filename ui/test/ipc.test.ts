// Tests for the IPC calls against Tauri's own IPC mock: results pass
// through, and every kind of rejection becomes an IpcError.

import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, describe, expect, it } from "vitest";

import { settingsSetInterval, setupApply, setupPlan } from "../src/bindings/commands";
import { toIpcError } from "../src/ipc";
import { sendOn } from "./fixtures";

afterEach(() => clearMocks());

describe("setupPlan", () => {
  it("invokes setup_plan and returns the plan", async () => {
    const plan = { platform: "macos", config_file: "/x/gardener.toml", manage_ollama: true, steps: [] };
    mockIPC((cmd) => (cmd === "setup_plan" ? plan : undefined));
    expect(await setupPlan(false)).toEqual({ ok: true, value: plan });
  });

  it("passes a command's {code, message} error through", async () => {
    mockIPC(() => {
      throw { code: "config", message: "bad key" };
    });
    expect(await setupPlan(false)).toEqual({ ok: false, error: { code: "config", message: "bad key" } });
  });
});

describe("the generated calls", () => {
  it("send each argument under its camelCase name", async () => {
    let sent: unknown;
    mockIPC((cmd, args) => {
      if (cmd === "settings_set_interval") sent = args;
      return null;
    });
    expect(await settingsSetInterval(30)).toEqual({ ok: true, value: null });
    expect(sent).toEqual({ secs: 30 });
  });

  it("pass a callback as a channel", async () => {
    const got: unknown[] = [];
    const report = { services: [] };
    mockIPC((cmd, args) => {
      if (cmd !== "setup_apply") return undefined;
      expect((args as Record<string, unknown>)["useRunningOllama"]).toBe(true);
      sendOn(args, "onProgress", { type: "started", index: 0 });
      return report;
    });
    expect(await setupApply(true, (p) => got.push(p))).toEqual({ ok: true, value: report });
    expect(got).toEqual([{ type: "started", index: 0 }]);
  });
});

describe("toIpcError", () => {
  it("wraps Tauri's bare-string errors", () => {
    expect(toIpcError("setup_plan not allowed")).toEqual({ code: "ipc", message: "setup_plan not allowed" });
  });

  it("never shows a raw object", () => {
    expect(toIpcError({ nope: 1 }).code).toBe("internal");
  });

  it("keeps the words of an error whose code this page does not know", () => {
    expect(toIpcError({ code: "ollama", message: "cannot reach Ollama" })).toEqual({ code: "ipc", message: "cannot reach Ollama" });
  });
});
