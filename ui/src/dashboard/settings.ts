// The settings view: gardener.toml in an editor, checked by core as it is
// typed and saved only when valid; how often to sample; starting at login;
// and repairing the setup.

import { autostartSet, settingsCheck, settingsLoad, settingsSave, settingsSetInterval, setupOpen } from "../bindings/commands";
import { h, replaceChildren } from "../dom";
import { statusLine, type View } from "./view";

const CHECK_AFTER_MS = 400;

export const mountSettings = (root: HTMLElement): View => {
  const status = statusLine();
  const problem = h("p", { class: "problem", role: "alert" });
  const editor = h("textarea", { class: "editor", spellcheck: "false", "aria-label": "gardener.toml", rows: "24" });
  const save = h("button", { type: "button", class: "primary" }, "Save");
  const revert = h("button", { type: "button" }, "Revert");
  const interval = h("input", { type: "number", min: "1", max: "3600", id: "interval", "aria-describedby": "interval-help" });
  const intervalSave = h("button", { type: "button" }, "Apply");
  const autostart = h("input", { type: "checkbox", id: "autostart" });
  const repair = h("button", { type: "button" }, "Check and repair setup…");
  const path = h("code", {});
  let saved = "";
  let timer: ReturnType<typeof setTimeout> | undefined;

  const showProblem = (text: string | null): void => {
    problem.textContent = text ?? "";
    problem.hidden = text === null;
    save.disabled = text !== null || editor.value === saved;
  };

  const check = async (): Promise<void> => {
    const text = editor.value;
    const result = await settingsCheck(text);
    if (editor.value !== text) return; // typed on since
    showProblem(result.ok ? null : result.error.message);
  };

  const load = async (): Promise<void> => {
    const result = await settingsLoad();
    if (!result.ok) {
      showProblem(result.error.message);
      return;
    }
    const s = result.value;
    saved = s.text;
    editor.value = s.text;
    path.textContent = s.path;
    interval.value = String(s.interval_secs);
    autostart.checked = s.autostart;
    showProblem(s.problem);
  };

  editor.addEventListener("input", () => {
    save.disabled = true;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => void check(), CHECK_AFTER_MS);
  });
  save.addEventListener("click", async () => {
    save.disabled = true;
    const result = await settingsSave(editor.value);
    if (result.ok) {
      saved = editor.value;
      status.say("Saved. The monitor now uses the new settings.");
      showProblem(null);
    } else {
      status.say(`Not saved: ${result.error.message}`, true);
      save.disabled = false;
    }
  });
  revert.addEventListener("click", () => {
    editor.value = saved;
    void check();
  });
  intervalSave.addEventListener("click", async () => {
    const secs = Number(interval.value);
    const result = await settingsSetInterval(secs);
    status.say(result.ok ? `The monitor now samples every ${secs} s.` : `Not changed: ${result.error.message}`, !result.ok);
    if (result.ok) await load();
  });
  autostart.addEventListener("change", async () => {
    const wanted = autostart.checked;
    const result = await autostartSet(wanted);
    if (result.ok) {
      autostart.checked = result.value;
      status.say(result.value ? "Gardener starts when you log in." : "Gardener no longer starts when you log in.");
    } else {
      autostart.checked = !wanted;
      status.say(result.error.message, true);
    }
  });
  repair.addEventListener("click", async () => {
    const result = await setupOpen();
    if (!result.ok) status.say(`Cannot open setup: ${result.error.message}`, true);
  });

  replaceChildren(
    root,
    h("h2", {}, "Settings"),
    status.element,
    h(
      "section",
      { class: "setting" },
      h("label", { for: "autostart" }, autostart, " Start Gardener when I log in"),
    ),
    h(
      "section",
      { class: "setting" },
      h("label", { for: "interval" }, "Check the services and the machine every "),
      interval,
      " seconds ",
      intervalSave,
      h("p", { class: "note", id: "interval-help" }, "Shorter is more current and uses a little more CPU. 5 seconds suits most machines."),
    ),
    h(
      "section",
      { class: "setting" },
      h("p", {}, "Setup: the services' files are compared with what the settings say, and anything that differs is put right."),
      repair,
    ),
    h(
      "section",
      { class: "setting" },
      h("h3", {}, "All settings"),
      h("p", { class: "note" }, "The file ", path, ". Every key is explained in its comments; changes are checked as you type and saved only when valid."),
      problem,
      editor,
      h("div", { class: "buttons" }, save, revert),
    ),
  );
  showProblem(null);
  void load();
  return {
    update(): void {},
    unmount(): void {
      if (timer !== undefined) clearTimeout(timer);
    },
  };
};
