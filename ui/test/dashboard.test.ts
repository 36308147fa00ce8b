// The dashboard window's flows against Tauri's IPC mock: samples arriving,
// switching views, acting on a service, backing up with progress, the
// restore wizard, pausing alerts and editing the settings.

import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, describe, expect, it } from "vitest";

import type { BackupInfo } from "../src/bindings/BackupInfo";
import type { Settings } from "../src/bindings/Settings";
import type { TargetSummary } from "../src/bindings/TargetSummary";
import { main } from "../src/dashboard/main";
import { listing, point, sendOn, settle, snapshot } from "./fixtures";

afterEach(() => clearMocks());

type Calls = [string, unknown][];

const backup: BackupInfo = {
  id: "gardener-20270115T080000Z",
  path: "/b/gardener-20270115T080000Z.tar.zst",
  created: "2027-01-15T08:00:00Z",
  size: 2048,
  files: 5,
  bytes: 4096,
  scheduled: false,
  host: "mini",
  verified: { at: "2027-01-15T08:00:05Z", ok: true, problems: [] },
  format: 2,
  kind: "full",
  parent: null,
  needs: [],
  stored_files: 5,
  stored_bytes: 4096,
  chain_size: 2048,
  partial: false,
};

const settings: Settings = {
  path: "/home/ada/.config/gardener/gardener.toml",
  text: "[monitor]\ninterval_secs = 5\n",
  problem: null,
  interval_secs: 5,
  mute_until: null,
  rules: [{ rule: "cpu", name: "CPU use", enabled: true, threshold: 80, clear: 70, for_secs: 120, cooldown_secs: 3600, recovery: true }],
  autostart: false,
  fed: true,
};

/** Mocks every command; `extra` answers some differently. */
function mock(calls: Calls, extra: (cmd: string, args: unknown) => unknown = () => undefined): { subscription: () => unknown } {
  let subscription: unknown;
  mockIPC((cmd, args) => {
    calls.push([cmd, args]);
    const answer = extra(cmd, args);
    if (answer !== undefined) return answer;
    switch (cmd) {
      case "dashboard_subscribe":
        subscription = args;
        sendOn(args, "onEvent", { type: "recent", history: [point(1, 10), point(2, 20)], events: [], latest: snapshot() });
        return null;
      case "log_open":
        return ["first line", "second line"];
      case "log_poll":
        return [];
      case "models_unload":
        return ["llama3.2:3b"];
      case "models_list":
        return listing();
      case "ollama_settings":
        return { config_file: "/home/me/.config/gardener/gardener.toml", settings: [], external: null };
      case "backups_list":
        return [backup];
      case "targets_list":
        return [];
      case "settings_load":
        return settings;
      default:
        return null;
    }
  });
  return { subscription: () => subscription };
}

function button(root: HTMLElement, text: string): HTMLButtonElement {
  const found = [...root.querySelectorAll("button")].find((b) => b.textContent === text);
  if (found === undefined) throw new Error(`no button "${text}" in: ${root.textContent}`);
  return found;
}

const nas: TargetSummary = {
  name: "nas",
  kind: "dir",
  location: "/mnt/nas/gardener",
  reachable: true,
  error: null,
  copies: 1,
  bytes: 2048,
  backups: [backup.id],
  last_copy: "2027-01-15T08:01:00Z",
  last_check: null,
  last_failure: null,
};
const offsite: TargetSummary = {
  ...nas,
  name: "offsite",
  kind: "s3",
  location: "s3://b/mini/",
  reachable: false,
  error: "offsite: cannot reach it: connection refused",
  copies: 0,
  bytes: 0,
  backups: [],
  last_copy: null,
};

describe("the dashboard", () => {
  it("shows the figures it is sent and follows new samples", async () => {
    const calls: Calls = [];
    const ipc = mock(calls);
    const root = document.createElement("div");
    await main(root, "overview");
    expect(root.querySelector('[data-gauge="cpu"] .value')?.textContent).toBe("23%");
    sendOn(ipc.subscription(), "onEvent", {
      type: "tick",
      snapshot: snapshot(1_800_000_005_000, { system: { ...snapshot().system, cpu_percent: 71 } }),
      events: [],
      kept: { point: point(1_800_000_005_000, 71), dropped_points: 0, dropped_events: 0 },
    });
    expect(root.querySelector('[data-gauge="cpu"] .value')?.textContent).toBe("71%");
    // The menu's Settings… (or a notification) turns the open window to a view.
    sendOn(ipc.subscription(), "onEvent", { type: "show", view: "settings" });
    await settle();
    expect(root.querySelector("#tab-settings")?.getAttribute("aria-selected")).toBe("true");
    expect(root.querySelector("h2")?.textContent).toBe("Settings");
  });

  it("tabs can be moved between with the arrow keys", async () => {
    mock([]);
    const root = document.createElement("div");
    document.body.appendChild(root);
    await main(root, "overview");
    root.querySelector<HTMLButtonElement>("#tab-alerts")!.click();
    expect(root.querySelector("h2")?.textContent).toBe("Alerts");
    root.querySelector<HTMLButtonElement>("#tab-overview")!.click();
    root.querySelector("#tab-overview")!.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight" }));
    expect(root.querySelector("#tab-services")?.getAttribute("aria-selected")).toBe("true");
    expect(document.activeElement?.id).toBe("tab-services");
    root.remove();
  });

  it("restarts a service through the monitor", async () => {
    const calls: Calls = [];
    mock(calls);
    const root = document.createElement("div");
    await main(root, "services");
    await settle();
    expect(root.querySelector('[data-service="ollama"] .state')?.textContent).toBe("healthy");
    expect(root.querySelector("pre.log")?.textContent).toBe("first line\nsecond line");
    root.querySelector<HTMLButtonElement>('[data-service="app"] [data-action="restart"]')!.click();
    await settle();
    expect(calls).toContainEqual(["service_control", { action: "restart", service: "app" }]);
    expect(root.querySelector(".status-line")?.textContent).toContain("restart done");
    expect(root.querySelector('[data-service="ollama"] h4')?.textContent).toBe("Version 0.12.6");
    expect(root.querySelector('[aria-label="Unload llama3.2:3b"]')).toBeNull();
  });

  it("unloads a model from the Models tab", async () => {
    const calls: Calls = [];
    mock(calls);
    const root = document.createElement("div");
    await main(root, "models");
    await settle();
    root.querySelector<HTMLButtonElement>('[aria-label="Unload llama3.2:3b"]')!.click();
    await settle();
    expect(calls).toContainEqual(["models_unload", { model: "llama3.2:3b" }]);
    expect(root.querySelector(".status-line")?.textContent).toBe("Unloaded llama3.2:3b. They load again when next used.");
  });

  it("backs up with progress and a Cancel button, then lists the new backup", async () => {
    const calls: Calls = [];
    let cancelSeen = false;
    mock(calls, (cmd, args) => {
      if (cmd === "backup_create") {
        sendOn(args, "onProgress", { phase: "archive", bytes: 45, total_bytes: 100, files: 2, total_files: 5 });
        cancelSeen = [...document.querySelectorAll("button")].some((b) => b.textContent === "Cancel");
        return { backup, warnings: [], app_paused_secs: 0.6, cloned: false, seconds: 3 };
      }
      return undefined;
    });
    const root = document.createElement("div");
    document.body.appendChild(root);
    await main(root, "backups");
    await settle();
    expect(root.querySelector(`[data-backup="${backup.id}"]`)?.textContent).toContain("✓ checked");
    button(root, "Back Up Now").click();
    await settle();
    expect(cancelSeen).toBe(true);
    expect(root.querySelector(".status-line")?.textContent).toBe("Backup done (full): 5 files, 2.0 KiB, checked, in 3 s.");
    expect(calls.filter(([c]) => c === "backups_list")).toHaveLength(2);
    root.remove();
  });

  it("restores through preview, confirmation and progress to the services' health", async () => {
    const calls: Calls = [];
    mock(calls, (cmd, args) => {
      if (cmd === "restore_preview") return { id: backup.id, dry_run: true, restored: ["~/data"], diff: { added: [], changed: ["~/data/notes.md"], removed: [] }, safety_copies: [], services: [], seconds: 0 };
      if (cmd === "restore_apply") {
        sendOn(args, "onProgress", { phase: "swap", bytes: 0, total_bytes: 0, files: 0, total_files: 0 });
        return { id: backup.id, dry_run: false, restored: ["~/data"], diff: { added: [], changed: ["~/data/notes.md"], removed: [] }, safety_copies: ["~/data.before-restore"], services: ["ollama", "app"], seconds: 2.5 };
      }
      return undefined;
    });
    const root = document.createElement("div");
    await main(root, "backups");
    await settle();
    root.querySelector<HTMLButtonElement>(`[aria-label="Restore ${backup.id}"]`)!.click();
    await settle();
    expect(root.textContent).toContain("1 file would be changed");
    expect(calls.some(([c]) => c === "restore_apply")).toBe(false);
    button(root, "Restore this backup").click();
    await settle();
    expect(calls).toContainEqual(["restore_apply", expect.objectContaining({ id: backup.id })]);
    expect(root.textContent).toContain("Ollama and Codebase Gardener restarted and healthy.");
    expect(root.querySelector(".outcome ul")?.textContent).toBe("~/data.before-restore");
  });

  it("says so when a restore was undone", async () => {
    mock([], (cmd) => {
      if (cmd === "restore_preview") return { id: backup.id, dry_run: true, restored: ["~/data"], diff: { added: [], changed: [], removed: [] }, safety_copies: [], services: [], seconds: 0 };
      if (cmd === "restore_apply") throw { code: "rolled-back", message: "the app did not answer within 30 s; the data from before is back" };
      return undefined;
    });
    const root = document.createElement("div");
    await main(root, "backups");
    await settle();
    root.querySelector<HTMLButtonElement>(`[aria-label="Restore ${backup.id}"]`)!.click();
    await settle();
    button(root, "Restore this backup").click();
    await settle();
    expect(root.querySelector(".error h2")?.textContent).toBe("The restore was undone");
    expect(root.textContent).toContain("the data from before is back");
  });

  it("lists the rules with their limits and pauses alerts", async () => {
    const calls: Calls = [];
    mock(calls, (cmd) => (cmd === "alerts_pause" ? 1_900_000_000 : undefined));
    const root = document.createElement("div");
    await main(root, "alerts");
    await settle();
    const row = root.querySelector('[data-rule="cpu"]');
    expect(row?.textContent).toContain("over 80% for 2 min, clears at 70%");
    expect(row?.textContent).toContain("23%");
    button(root, "Pause for 1 hour").click();
    await settle();
    expect(calls).toContainEqual(["alerts_pause", { pause: "hour" }]);
    expect(root.querySelector(".pause-line")?.textContent).toContain("paused until");
  });

  it("checks the config as it is typed and saves only a valid one", async () => {
    const calls: Calls = [];
    mock(calls, (cmd, args) => {
      if (cmd === "settings_check" && (args as { text: string }).text.includes("soon")) {
        throw { code: "config", message: "gardener.toml:2:17: key `monitor.interval_secs`: invalid type" };
      }
      return undefined;
    });
    const root = document.createElement("div");
    await main(root, "settings");
    await settle();
    const editor = root.querySelector<HTMLTextAreaElement>("textarea.editor")!;
    const save = button(root, "Save");
    expect(editor.value).toBe(settings.text);
    expect(save.disabled).toBe(true);
    editor.value = '[monitor]\ninterval_secs = "soon"\n';
    editor.dispatchEvent(new Event("input"));
    await new Promise((resolve) => setTimeout(resolve, 450));
    await settle();
    expect(root.querySelector(".problem")?.textContent).toContain("monitor.interval_secs");
    expect(save.disabled).toBe(true);
    editor.value = "[monitor]\ninterval_secs = 2\n";
    editor.dispatchEvent(new Event("input"));
    await new Promise((resolve) => setTimeout(resolve, 450));
    await settle();
    expect(save.disabled).toBe(false);
    save.click();
    await settle();
    expect(calls).toContainEqual(["settings_save", { text: "[monitor]\ninterval_secs = 2\n" }]);
    expect(root.querySelector(".status-line")?.textContent).toContain("Saved");
  });
});

describe("closing mid-restore", () => {
  it("says the window stays until the work is done", async () => {
    const ipc = mock([]);
    const root = document.createElement("div");
    await main(root, "backups");
    sendOn(ipc.subscription(), "onEvent", { type: "closing" });
    expect(root.querySelector(".closing")?.textContent).toContain("closes by itself when it is done");
  });

  it("shows on which targets each backup is, and Copy now copies it with progress", async () => {
    const calls: Calls = [];
    let progressShown = false;
    mock(calls, (cmd, args) => {
      if (cmd === "targets_list") return [nas, offsite];
      if (cmd === "backup_copy") {
        sendOn(args, "onProgress", { phase: "copy", bytes: 50, total_bytes: 100, files: 0, total_files: 0 });
        progressShown = document.querySelector(".progress-panel p")?.textContent === "Copying to the backup targets — 50%";
        return [
          { target: "nas", report: { target: "nas", location: "/mnt/nas", backup: backup.id, copied: [], present: [backup.id], bytes: 0, pruned: [], seconds: 0.1 }, code: null, error: null },
          { target: "offsite", report: null, code: "unreachable", error: "offsite: cannot reach it: connection refused" },
        ];
      }
      return undefined;
    });
    const root = document.createElement("div");
    document.body.appendChild(root);
    await main(root, "backups");
    await settle();
    expect(root.querySelector(`[data-backup="${backup.id}"] .copies`)?.textContent).toBe("nas ✓ · offsite —");
    expect(root.querySelector('[data-target="offsite"]')?.textContent).toContain("not reachable");
    expect(root.querySelector('[data-target="offsite"]')?.textContent).toContain("connection refused");
    root.querySelector<HTMLButtonElement>(`[aria-label="Copy ${backup.id}"]`)!.click();
    await settle();
    expect(progressShown).toBe(true);
    expect(calls).toContainEqual(["backup_copy", expect.objectContaining({ id: backup.id, target: null })]);
    const line = root.querySelector(".status-line")?.textContent ?? "";
    expect(line).toContain("Copied to nas.");
    expect(line).toContain("The copy to offsite: offsite: cannot reach it");
    root.remove();
  });

  it("restores from a target: the copy is fetched with progress, then the usual wizard", async () => {
    const calls: Calls = [];
    mock(calls, (cmd, args) => {
      if (cmd === "targets_list") return [nas];
      if (cmd === "copy_fetch") {
        sendOn(args, "onProgress", { phase: "copy", bytes: 10, total_bytes: 100, files: 0, total_files: 0 });
        return null;
      }
      if (cmd === "restore_preview") return { id: backup.id, dry_run: true, restored: ["~/data"], diff: { added: ["~/data/a"], changed: [], removed: [] }, safety_copies: [], services: [], seconds: 0 };
      return undefined;
    });
    const root = document.createElement("div");
    await main(root, "backups");
    await settle();
    root.querySelector<HTMLButtonElement>('[aria-label="Restore from nas"]')!.click();
    await settle();
    expect(calls).toContainEqual(["copy_fetch", expect.objectContaining({ target: "nas", id: backup.id })]);
    expect(calls).toContainEqual(["restore_preview", { id: backup.id }]);
    expect(root.textContent).toContain("1 file would be added");
    expect(calls.some(([c]) => c === "restore_apply")).toBe(false);
  });

  it("checks a copy on a target and says what it found", async () => {
    const calls: Calls = [];
    mock(calls, (cmd) => {
      if (cmd === "targets_list") return [nas];
      if (cmd === "copy_verify") return { id: backup.id, files: 5, bytes: 4096, problems: ["app-data/memory.db: content differs"], seconds: 1 };
      return undefined;
    });
    const root = document.createElement("div");
    await main(root, "backups");
    await settle();
    root.querySelector<HTMLButtonElement>('[aria-label="Check the copy on nas"]')!.click();
    await settle();
    expect(calls).toContainEqual(["copy_verify", expect.objectContaining({ target: "nas", id: backup.id })]);
    expect(root.querySelector(".status-line")?.textContent).toBe(`The copy of ${backup.id} on nas is damaged: app-data/memory.db: content differs`);
  });

  it("adds an S3 target whose secret goes only to the command, and removes one after asking", async () => {
    const calls: Calls = [];
    let listed: TargetSummary[] = [];
    mock(calls, (cmd) => {
      if (cmd === "targets_list") return listed;
      if (cmd === "target_add") {
        listed = [{ ...offsite, reachable: true, error: null }];
        return null;
      }
      if (cmd === "target_remove") {
        listed = [];
        return null;
      }
      return undefined;
    });
    const root = document.createElement("div");
    await main(root, "backups");
    await settle();
    expect(root.textContent).toContain("No targets yet");
    const form = root.querySelector<HTMLFormElement>("form.add-target")!;
    form.querySelector<HTMLInputElement>('[name="name"]')!.value = "offsite";
    const kind = form.querySelector<HTMLSelectElement>('[name="kind"]')!;
    kind.value = "s3";
    kind.dispatchEvent(new Event("change"));
    const field = (n: string): HTMLInputElement => form.querySelector<HTMLInputElement>(`[name="${n}"]`)!;
    expect(field("secret_access_key").type).toBe("password");
    field("endpoint").value = "https://s3.example.test";
    field("bucket").value = "b";
    field("access_key_id").value = "AKID";
    field("secret_access_key").value = "s3cr3t-value";
    form.requestSubmit();
    await settle();
    expect(calls).toContainEqual([
      "target_add",
      {
        target: { name: "offsite", kind: "s3", path: null, url: null, endpoint: "https://s3.example.test", bucket: "b", prefix: null, region: null, access_key_id: "AKID", secret_access_key: "s3cr3t-value" },
      },
    ]);
    expect(root.querySelector(".status-line")?.textContent).toContain("Added offsite.");
    expect(root.querySelector('[data-target="offsite"]')).not.toBeNull();
    expect(root.textContent).not.toContain("s3cr3t-value");

    button(root, "Remove…").click();
    expect(calls.some(([c]) => c === "target_remove")).toBe(false);
    expect(root.textContent).toContain("Stop copying to offsite? Its copies stay there.");
    button(root, "Yes, remove").click();
    await settle();
    expect(calls).toContainEqual(["target_remove", { name: "offsite" }]);
    expect(root.textContent).toContain("No targets yet");
  });

  it("shows the recovery key only when asked, with why it must be saved", async () => {
    const calls: Calls = [];
    mock(calls, (cmd) => {
      if (cmd === "recovery_key") return { path: "/home/ada/.config/gardener/backup-key.txt", public: "age1example", file: "# created: 2027-01-15\nAGE-SECRET-KEY-1EXAMPLE\n", warning: "Without this key the copies cannot be read.", created: false };
      return undefined;
    });
    const root = document.createElement("div");
    await main(root, "backups");
    await settle();
    expect(calls.some(([c]) => c === "recovery_key")).toBe(false);
    expect(root.textContent).not.toContain("AGE-SECRET-KEY");
    button(root, "Show the recovery key").click();
    await settle();
    expect(root.querySelector(".key-file")?.textContent).toContain("AGE-SECRET-KEY-1EXAMPLE");
    expect(root.querySelector(".recovery-key .warning")?.textContent).toBe("Without this key the copies cannot be read.");
  });
});
