// The backups view: every backup with its checked state; Back Up Now with
// progress and Cancel; Check (read back against its manifest); and the
// restore wizard: pick → what would change → confirm → progress → outcome;
// and copies off the machine (targets.ts renders them): Copy now, Check a
// copy, Restore from a target, the Targets section and the recovery key.

import type { BackupInfo } from "../bindings/BackupInfo";
import type { IpcError } from "../bindings/IpcError";
import type { NewTarget } from "../bindings/NewTarget";
import type { Progress } from "../bindings/Progress";
import type { RestoreReport } from "../bindings/RestoreReport";
import type { TargetSummary } from "../bindings/TargetSummary";
import { backupCancel, backupCopy, backupCreate, backupVerify, backupsList, copyFetch, copyVerify, restoreApply, restorePreview, targetAdd, targetRemove, targetTest, targetsList } from "../bindings/commands";
import { h, replaceChildren } from "../dom";
import { errorHelp } from "../errors";
import { renderKeyOffer } from "../key";
import { renderError } from "../plan";
import { SERVICE_NAMES } from "../services";
import { bytes, when } from "./format";
import { copiesText, renderAddForm, renderTargetList } from "./targets";
import { statusLine, type View } from "./view";

const PHASES: Record<Progress["phase"], string> = {
  scan: "Listing files",
  snapshot: "Pausing the app while its data is read",
  archive: "Writing the backup",
  verify: "Checking the backup",
  extract: "Unpacking into a staging folder",
  swap: "Swapping in the restored data and restarting the services",
  copy: "Copying to the backup targets",
};

/** "Writing the backup — 45% (1,204 of 2,500 files)". */
export function progressText(p: Progress): string {
  const pct = p.total_bytes > 0 ? ` — ${Math.min(100, Math.floor((p.bytes * 100) / p.total_bytes))}%` : "";
  const files = p.total_files > 0 ? ` (${p.files.toLocaleString()} of ${p.total_files.toLocaleString()} files)` : "";
  return `${PHASES[p.phase]}${pct}${files}`;
}

/** The progress bar's value, 0–100, or null while the total is unknown. */
export function progressValue(p: Progress): number | null {
  return p.total_bytes > 0 ? Math.min(100, (p.bytes * 100) / p.total_bytes) : null;
}

/** ✓ checked / ✗ damaged / not checked. */
/** "full", or "incremental: 12 files changed; restoring reads 2 earlier backups (310 MiB in all)". */
export function kindText(b: BackupInfo): string {
  if (b.kind === "full") return "full";
  const changed = `${b.stored_files.toLocaleString()} ${b.stored_files === 1 ? "file" : "files"} changed`;
  const missing = b.missing ?? [];
  if (missing.length > 0) return `incremental: ${changed}; cannot be restored, ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} missing`;
  const n = b.needs.length;
  if (n === 0) return `incremental: ${changed}`;
  return `incremental: ${changed}; restoring reads ${n === 1 ? "1 earlier backup" : `${n} earlier backups`} (${bytes(b.chain_size)} in all)`;
}

export function checkedText(b: BackupInfo): string {
  if (b.unreadable) return `✗ unreadable: ${b.unreadable}`;
  if (b.verified === null) return "not checked";
  return b.verified.ok ? `✓ checked ${when(b.verified.at)}` : `✗ damaged: ${b.verified.problems[0] ?? "see the log"}`;
}

function progressPanel(onCancel: (() => void) | null): { element: HTMLElement; show(p: Progress): void } {
  const bar = h("progress", { max: "100" });
  const text = h("p", { role: "status" }, "Starting…");
  const cancelButton = h("button", { type: "button" }, "Cancel");
  if (onCancel === null) cancelButton.hidden = true;
  else cancelButton.addEventListener("click", () => {
    cancelButton.disabled = true;
    cancelButton.textContent = "Cancelling…";
    onCancel();
  });
  return {
    element: h("div", { class: "progress-panel" }, bar, text, cancelButton),
    show(p: Progress): void {
      const v = progressValue(p);
      if (v === null) bar.removeAttribute("value");
      else bar.value = v;
      text.textContent = progressText(p);
    },
  };
}

function diffList(done: string, paths: string[], mark: string): HTMLElement | null {
  if (paths.length === 0) return null;
  const shown = paths.slice(0, 50);
  return h(
    "details",
    { open: paths.length <= 10 },
    h("summary", {}, `${paths.length} ${paths.length === 1 ? "file" : "files"} would be ${done}`),
    h("ul", { class: "diff" }, ...shown.map((p) => h("li", {}, `${mark} ${p}`)), paths.length > shown.length ? h("li", {}, `… and ${paths.length - shown.length} more`) : null),
  );
}

/** What restoring would change, from the dry run. */
export function renderDiff(r: RestoreReport): HTMLElement {
  const d = r.diff;
  const none = d.added.length + d.changed.length + d.removed.length === 0;
  return h(
    "div",
    { class: "diff-view" },
    h("p", {}, `Restoring ${r.id} replaces: ${r.restored.join(", ")}.`),
    none ? h("p", { class: "note" }, "The files are the same as in the backup: restoring changes nothing.") : null,
    diffList("added", d.added, "+"),
    diffList("changed", d.changed, "~"),
    diffList("removed", d.removed, "−"),
  );
}

/** The outcome of a restore. */
export function renderRestored(r: RestoreReport): HTMLElement {
  const names = r.services.map((s) => SERVICE_NAMES[s]);
  return h(
    "div",
    { class: "outcome", role: "status" },
    h("h3", {}, `Restored ${r.id} in ${r.seconds.toFixed(1)} s`),
    names.length > 0 ? h("p", {}, `${names.join(" and ")} restarted and healthy.`) : h("p", {}, "No service needed restarting."),
    r.safety_copies.length > 0 ? h("p", { class: "note" }, "The data it replaced is kept until the next successful backup, at:") : null,
    r.safety_copies.length > 0 ? h("ul", { class: "diff" }, ...r.safety_copies.map((c) => h("li", {}, c))) : null,
  );
}

export const mountBackups = (root: HTMLElement): View => {
  const status = statusLine();
  const list = h("div", { class: "backup-list" });
  const work = h("div", { class: "backup-work" });
  const targetBox = h("div", { class: "target-list" }, h("p", { class: "loading", role: "status" }, "Asking the targets…"));
  const keyBox = renderKeyOffer("Copies off this computer are encrypted to a recovery key. Without it nobody can read them, so save it somewhere else.");
  let backups: BackupInfo[] = [];
  let targets: TargetSummary[] = [];
  let targetsLoaded = false;
  let busy = false;

  const refresh = async (): Promise<void> => {
    const result = await backupsList();
    if (!result.ok) {
      replaceChildren(list, renderError(result.error, "Cannot list the backups"));
      return;
    }
    backups = result.value;
    renderList();
  };

  const refreshTargets = async (): Promise<void> => {
    const result = await targetsList();
    if (!result.ok) {
      replaceChildren(targetBox, renderError(result.error, "Cannot list the targets"));
      return;
    }
    targets = result.value;
    targetsLoaded = true;
    renderList();
  };

  /** Runs long work with a progress panel titled `title`; the list is greyed out meanwhile. */
  const withProgress = async <T>(title: string, run: (show: (p: Progress) => void) => Promise<T>): Promise<T> => {
    busy = true;
    renderList();
    const panel = progressPanel(() => void backupCancel());
    replaceChildren(work, h("h3", {}, title), panel.element);
    status.say("");
    const out = await run(panel.show);
    busy = false;
    replaceChildren(work);
    return out;
  };

  const runCopy = async (b: BackupInfo): Promise<void> => {
    const result = await withProgress(`Copying ${b.id}`, (show) => backupCopy(b.id, null, show));
    if (result.ok) {
      const copied = result.value.filter((o) => o.error === null).map((o) => o.target);
      const failed = result.value.filter((o) => o.error !== null).map((o) => `${o.target}: ${o.error}`);
      status.say([copied.length > 0 ? `Copied to ${copied.join(", ")}.` : "", ...failed.map((f) => `The copy to ${f}`)].filter(Boolean).join(" "), failed.length > 0);
    } else failed("Cannot copy it", result.error);
    await refreshTargets();
  };

  const runCheckCopy = async (name: string, id: string): Promise<void> => {
    const result = await withProgress(`Checking the copy of ${id} on ${name}`, (show) => copyVerify(name, id, show));
    if (result.ok) {
      const r = result.value;
      status.say(r.problems.length === 0 ? `The copy of ${id} on ${name} is sound: ${r.files.toLocaleString()} files, ${bytes(r.bytes)} checked.` : `The copy of ${id} on ${name} is damaged: ${r.problems.join("; ")}`, r.problems.length > 0);
    } else failed("Cannot check the copy", result.error);
    await refreshTargets();
  };

  const runRestoreFrom = async (name: string, id: string): Promise<void> => {
    const result = await withProgress(`Fetching ${id} from ${name}`, (show) => copyFetch(name, id, show));
    if (!result.ok) {
      failed("Cannot fetch the copy", result.error);
      return;
    }
    await refresh();
    const b = backups.find((x) => x.id === id);
    if (b === undefined) status.say(`${id} was fetched but is not listed; see the log.`, true);
    else await runRestore(b);
  };

  const targetActions = {
    get busy(): boolean {
      return busy;
    },
    test: (name: string): void => {
      status.say(`Testing ${name}…`);
      void targetTest(name).then((r) => status.say(r.ok ? `${name}: OK, wrote, read back and deleted a test file at ${r.value.location} in ${r.value.seconds.toFixed(1)} s.` : `${name}: ${r.error.message}`, !r.ok));
    },
    check: (name: string, id: string): void => void runCheckCopy(name, id),
    restoreFrom: (name: string, id: string): void => void runRestoreFrom(name, id),
    remove: (name: string): void => {
      void targetRemove(name).then(async (r) => {
        status.say(r.ok ? `${name} removed; its copies stay where they are.` : `Cannot remove ${name}: ${r.error.message}`, !r.ok);
        await refreshTargets();
      });
    },
  };

  const onAdd = (t: NewTarget): void => {
    void targetAdd(t).then(async (r) => {
      status.say(r.ok ? `Added ${t.name}. The next backup is copied there; Test checks it can be written.` : `Cannot add ${t.name || "the target"}: ${r.error.message}`, !r.ok);
      if (r.ok) await refreshTargets();
    });
  };

  const failed = (title: string, e: IpcError): void => {
    const cancelled = errorHelp(e.code).treatment === "cancelled";
    status.say(cancelled ? "Cancelled; nothing was left behind." : `${title}: ${e.message}`, !cancelled);
  };

  const runBackup = async (): Promise<void> => {
    busy = true;
    renderList();
    const panel = progressPanel(() => void backupCancel());
    replaceChildren(work, h("h3", {}, "Backing up"), panel.element);
    status.say("");
    const result = await backupCreate(panel.show);
    busy = false;
    replaceChildren(work);
    if (result.ok) {
      const b = result.value.backup;
      const checked = b.verified?.ok ? ", checked" : "";
      const copied = targets.length > 0 ? " Copies: see the targets below." : "";
      status.say(`Backup done (${kindText(b)}): ${b.files.toLocaleString()} files, ${bytes(b.size)}${checked}, in ${result.value.seconds.toFixed(0)} s.${copied}`);
    } else failed("Backup failed", result.error);
    await refresh();
    await refreshTargets();
  };

  const runVerify = async (b: BackupInfo): Promise<void> => {
    busy = true;
    renderList();
    const panel = progressPanel(() => void backupCancel());
    replaceChildren(work, h("h3", {}, `Checking ${b.id}`), panel.element);
    const result = await backupVerify(b.id, panel.show);
    busy = false;
    replaceChildren(work);
    if (result.ok) {
      const r = result.value;
      status.say(r.problems.length === 0 ? `${b.id} is sound: ${r.files.toLocaleString()} files, ${bytes(r.bytes)} checked.` : `${b.id} is damaged: ${r.problems.join("; ")}`, r.problems.length > 0);
    } else failed("Cannot check it", result.error);
    await refresh();
  };

  const runRestore = async (b: BackupInfo): Promise<void> => {
    busy = true;
    renderList();
    status.say("");
    replaceChildren(work, h("h3", {}, `Restore ${b.id}`), h("p", { class: "loading", role: "status" }, "Working out what would change…"));
    const preview = await restorePreview(b.id);
    if (!preview.ok) {
      busy = false;
      replaceChildren(work, renderError(preview.error, "Cannot restore this backup"));
      renderList();
      return;
    }
    const confirm = h("button", { type: "button", class: "primary danger" }, "Restore this backup");
    const back = h("button", { type: "button" }, "Cancel");
    back.addEventListener("click", () => {
      busy = false;
      replaceChildren(work);
      renderList();
    });
    confirm.addEventListener("click", () => void apply());
    replaceChildren(
      work,
      h("h3", {}, `Restore ${b.id} (made ${when(b.created)})?`),
      renderDiff(preview.value),
      h("p", { class: "note" }, "The services stop while the data is swapped, start again and are checked; if they do not come up, the data from before is put back. The data replaced is kept as a safety copy."),
      h("div", { class: "buttons" }, confirm, back),
    );
    confirm.focus();

    const apply = async (): Promise<void> => {
      const panel = progressPanel(() => void backupCancel());
      replaceChildren(work, h("h3", {}, `Restoring ${b.id}`), panel.element);
      const result = await restoreApply(b.id, panel.show);
      busy = false;
      replaceChildren(work, result.ok ? renderRestored(result.value) : renderError(result.error, errorHelp(result.error.code).treatment === "undone" ? "The restore was undone" : "The restore failed"));
      renderList();
    };
  };

  const renderList = (): void => {
    if (targetsLoaded) replaceChildren(targetBox, renderTargetList(targets, targetActions), renderAddForm(busy, onAdd));
    const now = h("button", { type: "button", class: "primary", disabled: busy }, "Back Up Now");
    now.addEventListener("click", () => void runBackup());
    if (backups.length === 0) {
      replaceChildren(list, h("div", { class: "buttons" }, now), h("p", { class: "note" }, "No backups yet. Back Up Now makes one; scheduled backups run by themselves (see [backup] in Settings)."));
      return;
    }
    replaceChildren(
      list,
      h("div", { class: "buttons" }, now),
      h(
        "table",
        { class: "backups" },
        h("thead", {}, h("tr", {}, h("th", {}, "Made"), h("th", {}, "Kind"), h("th", {}, "Size"), h("th", {}, "Files"), h("th", {}, "State"), targets.length > 0 ? h("th", {}, "Copies") : null, h("th", {}, ""))),
        h(
          "tbody",
          {},
          ...backups.map((b) => {
            const check = h("button", { type: "button", disabled: busy, "aria-label": `Check ${b.id}` }, "Check");
            check.addEventListener("click", () => void runVerify(b));
            const back = h("button", { type: "button", disabled: busy || b.unreadable !== undefined, "aria-label": `Restore ${b.id}` }, "Restore…");
            back.addEventListener("click", () => void runRestore(b));
            const copy = targets.length > 0 ? h("button", { type: "button", disabled: busy || b.unreadable !== undefined, "aria-label": `Copy ${b.id}` }, "Copy now") : null;
            copy?.addEventListener("click", () => void runCopy(b));
            return h(
              "tr",
              { "data-backup": b.id },
              h("td", {}, when(b.created), b.scheduled ? h("span", { class: "badge" }, "scheduled") : null),
              h("td", { class: (b.missing ?? []).length > 0 ? "fail" : "", title: b.needs.length > 0 ? `Needs ${b.needs.join(", ")}` : "" }, kindText(b)),
              h("td", {}, bytes(b.size)),
              h("td", {}, b.files.toLocaleString()),
              h("td", { class: b.verified?.ok ? "ok" : b.verified || b.unreadable ? "fail" : "" }, checkedText(b)),
              targets.length > 0 ? h("td", { class: "copies" }, copiesText(b.id, targets)) : null,
              h("td", { class: "row-buttons" }, check, copy, back),
            );
          }),
        ),
      ),
    );
  };

  replaceChildren(root, h("h2", {}, "Backups"), status.element, work, list, h("h3", {}, "Targets"), targetBox, h("h3", {}, "Recovery key"), keyBox);
  renderList();
  void refresh();
  void refreshTargets();
  return { update(): void {}, unmount(): void {} };
};
