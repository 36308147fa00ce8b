// Tests for the plan, error and loading views: render into happy-dom and check
// what a person (or screen reader) would find.

import { beforeEach, describe, expect, it } from "vitest";

import type { Plan } from "../src/bindings/Plan";
import { isBlocked, isNoop, renderError, renderLoading, renderPlan, shellJoin } from "../src/plan";

function samplePlan(): Plan {
  return {
    platform: "linux",
    config_file: "/home/ada/.config/gardener/gardener.toml",
    manage_ollama: true,
    steps: [
      { kind: "check", id: "ollama-binary", title: "Ollama is installed", outcome: "ok", detail: "/usr/local/bin/ollama 0.12.6" },
      {
        kind: "check",
        id: "ollama-port",
        title: "Port 11434 is free",
        outcome: "warn",
        detail: "Something already answers on 127.0.0.1:11434",
        fix: "Stop the other Ollama (brew services stop ollama)",
      },
      { kind: "dir", path: "/home/ada/.local/share/gardener", mode: "0700", change: "create" },
      { kind: "dir", path: "/home/ada/.config/systemd/user", mode: "0755", change: "unchanged" },
      {
        kind: "file",
        path: "/home/ada/.config/systemd/user/gardener-ollama.service",
        mode: "0644",
        content: "[Unit]\nDescription=Ollama <managed by Gardener>\n",
        change: "update",
        purpose: "Ollama service (systemd unit)",
      },
      {
        kind: "command",
        argv: ["systemctl", "--user", "enable", "--now", "gardener-ollama.service"],
        purpose: "Start Ollama now and at every login",
        service: "ollama",
        action: "activate",
      },
      { kind: "wait-healthy", service: "ollama", url: "http://127.0.0.1:11434/", timeout_secs: 60 },
      { kind: "command", argv: ["sh", "-c", "echo it's done"], purpose: "Quoting example" },
    ],
  };
}

function text(element: Element | null | undefined): string {
  return (element?.textContent ?? "").replace(/\s+/g, " ").trim();
}

describe("renderPlan", () => {
  let root: HTMLElement;

  beforeEach(() => {
    document.body.replaceChildren();
    root = renderPlan(samplePlan());
    document.body.append(root);
  });

  it("has one labelled section per kind of step, in plan order", () => {
    const headings = [...root.querySelectorAll("section > h2")].map(text);
    expect(headings).toEqual(["Checks", "Folders", "Files", "Commands"]);
    for (const section of root.querySelectorAll("section")) {
      const heading = document.getElementById(section.getAttribute("aria-labelledby") ?? "");
      expect(heading?.parentElement).toBe(section);
    }
  });

  it("shows each check with its mark, detail and fix", () => {
    const checks = [...root.querySelectorAll("li.check")];
    expect(checks.map((c) => text(c.querySelector(".mark")))).toEqual(["✓", "!"]);
    expect(text(checks[0])).toContain("Passed: Ollama is installed");
    expect(checks[0]?.querySelector(".fix")).toBeNull();
    expect(text(checks[1]?.querySelector(".fix"))).toBe("How to fix: Stop the other Ollama (brew services stop ollama)");
    // The mark is decoration; the outcome is spelled out for screen readers.
    expect(checks[1]?.querySelector(".mark")?.getAttribute("aria-hidden")).toBe("true");
    expect(text(checks[1]?.querySelector(".visually-hidden"))).toBe("Warning:");
  });

  it("lists folders with mode and change", () => {
    const dirs = [...root.querySelectorAll("li.dir")].map(text);
    expect(dirs).toEqual(["/home/ada/.local/share/gardener 0700 new", "/home/ada/.config/systemd/user 0755 no change"]);
  });

  it("puts file contents in a collapsed details block, as text", () => {
    const file = root.querySelector("li.file");
    expect(text(file?.querySelector(".path"))).toBe("/home/ada/.config/systemd/user/gardener-ollama.service");
    expect(text(file?.querySelector(".badge"))).toBe("will change");
    const details = file?.querySelector("details");
    expect(details?.open).toBe(false);
    expect(text(details?.querySelector("summary"))).toBe("Show contents");
    expect(details?.querySelector("pre")?.textContent).toBe("[Unit]\nDescription=Ollama <managed by Gardener>\n");
    // Content is never parsed as markup.
    expect(details?.querySelector("pre")?.children).toHaveLength(0);
  });

  it("lists commands and health waits together, in order", () => {
    const items = [...root.querySelectorAll("section.commands ol > li")];
    expect(items.map((li) => li.className)).toEqual(["command", "wait", "command"]);
    expect(text(items[0]?.querySelector("code"))).toBe("systemctl --user enable --now gardener-ollama.service");
    expect(text(items[1])).toBe("Wait up to 60 seconds for Ollama to answer at http://127.0.0.1:11434/");
    expect(text(items[2]?.querySelector("code"))).toBe(`sh -c 'echo it'\\''s done'`);
  });

  it("says nothing has changed yet when the plan can go ahead", () => {
    expect(text(root.querySelector(".verdict"))).toBe("Nothing has been changed yet. This is what setting up would do.");
    expect(text(root.querySelector(".meta"))).toContain("/home/ada/.config/gardener/gardener.toml");
    expect(text(root.querySelector(".meta"))).toContain("systemd (Linux)");
  });

  it("leaves out sections with no steps", () => {
    expect(root.querySelector("section.removals")).toBeNull();
  });
});

describe("verdicts", () => {
  it("a failed check blocks the plan and is announced", () => {
    const plan = samplePlan();
    plan.steps.push({ kind: "check", id: "disk", title: "Enough disk space", outcome: "fail", detail: "1 GB free", fix: "Free up space" });
    expect(isBlocked(plan)).toBe(true);
    const verdict = renderPlan(plan).querySelector(".verdict");
    expect(verdict?.getAttribute("role")).toBe("alert");
    expect(text(verdict)).toContain("fix the failed checks");
  });

  it("a plan that changes nothing says so", () => {
    const plan = samplePlan();
    plan.steps = plan.steps.filter((s) => s.kind === "check" || (s.kind === "dir" && s.change === "unchanged"));
    expect(isBlocked(plan)).toBe(false);
    expect(isNoop(plan)).toBe(true);
    expect(text(renderPlan(plan).querySelector(".verdict"))).toBe("Everything is already set up. Nothing would change.");
  });
});

describe("renderError", () => {
  it("shows the message and the stable code as an alert", () => {
    const view = renderError({ code: "config", message: "gardener.toml line 3: unknown key `olama`" });
    expect(view.getAttribute("role")).toBe("alert");
    expect(text(view.querySelector(".error-message"))).toBe("gardener.toml line 3: unknown key `olama`");
    expect(text(view.querySelector(".error-code"))).toBe("Error code: config");
  });
});

describe("renderLoading", () => {
  it("is a polite status message", () => {
    expect(renderLoading().getAttribute("role")).toBe("status");
  });
});

describe("shellJoin", () => {
  it("quotes only what needs quoting", () => {
    expect(shellJoin(["launchctl", "bootstrap", "gui/501", "/Users/ada/Library/LaunchAgents/x.plist"])).toBe(
      "launchctl bootstrap gui/501 /Users/ada/Library/LaunchAgents/x.plist",
    );
    expect(shellJoin(["echo", "two words", ""])).toBe("echo 'two words' ''");
  });
});
