// The Backups tab's copies off the machine: on which targets each backup
// is, the Targets section (each target with Test, Check a copy, Restore
// from it and Remove; a form to add one).

import type { NewTarget } from "../bindings/NewTarget";
import type { TargetKind } from "../bindings/TargetKind";
import type { TargetSummary } from "../bindings/TargetSummary";
import { h } from "../dom";
import { bytes, when } from "./format";

/** "nas ✓ · offsite —": which targets hold backup `id`. */
export function copiesText(id: string, targets: TargetSummary[]): string {
  return targets.map((t) => `${t.name} ${t.backups.includes(id) ? "✓" : "—"}`).join(" · ");
}

/** "3 copies, 1.2 GiB · last copy … · last check ✓ …", or why it cannot be reached. */
export function targetDetails(t: TargetSummary): string {
  const parts = [`${t.copies} ${t.copies === 1 ? "copy" : "copies"}, ${bytes(t.bytes)}`];
  parts.push(t.last_copy ? `last copy ${when(t.last_copy)}` : "no copy yet");
  if (t.last_check) parts.push(t.last_check.ok ? `last check ✓ ${when(t.last_check.at)}` : `last check ✗ damaged ${when(t.last_check.at)}`);
  return parts.join(" · ");
}

export interface TargetActions {
  busy: boolean;
  test(name: string): void;
  check(name: string, id: string): void;
  restoreFrom(name: string, id: string): void;
  remove(name: string): void;
}

function targetCard(t: TargetSummary, a: TargetActions): HTMLElement {
  const pick = h("select", { "aria-label": `Backup on ${t.name}` }, ...t.backups.map((id) => h("option", { value: id }, id)));
  const none = t.backups.length === 0;
  const button = (label: string, aria: string, on: () => void, disabled = false): HTMLButtonElement => {
    const b = h("button", { type: "button", disabled: a.busy || disabled, "aria-label": aria }, label);
    b.addEventListener("click", on);
    return b;
  };
  const remove = button("Remove…", `Remove ${t.name}`, () => {
    const yes = button("Yes, remove", `Yes, remove ${t.name}`, () => a.remove(t.name));
    const keep = button("Keep", `Keep ${t.name}`, () => confirm.replaceWith(remove));
    const confirm = h("span", { class: "confirm" }, `Stop copying to ${t.name}? Its copies stay there. `, yes, keep);
    remove.replaceWith(confirm);
  });
  return h(
    "li",
    { class: "target", "data-target": t.name },
    h("strong", {}, t.name),
    ` (${t.kind}) ${t.location} `,
    t.reachable ? h("span", { class: "ok" }, "reachable") : h("span", { class: "fail" }, "not reachable"),
    t.error ? h("p", { class: "fail" }, t.error) : null,
    t.last_failure ? h("p", { class: "fail" }, `The last copy failed ${when(t.last_failure.at)}: ${t.last_failure.error}`) : null,
    h("p", { class: "note" }, targetDetails(t)),
    h(
      "div",
      { class: "row-buttons" },
      button("Test", `Test ${t.name}`, () => a.test(t.name)),
      none ? null : pick,
      button("Check copy", `Check the copy on ${t.name}`, () => a.check(t.name, pick.value), none),
      button("Restore from here…", `Restore from ${t.name}`, () => a.restoreFrom(t.name, pick.value), none),
      remove,
    ),
  );
}

/** Each target with its actions, or how to add the first. */
export function renderTargetList(targets: TargetSummary[], a: TargetActions): HTMLElement {
  if (targets.length === 0) {
    return h("p", { class: "note" }, "No targets yet: every backup is on this machine only. Add an external drive, a server (SFTP) or a bucket (S3) below to keep encrypted copies somewhere else.");
  }
  return h("ul", { class: "targets" }, ...targets.map((t) => targetCard(t, a)));
}

const FIELDS: Record<TargetKind, [keyof NewTarget, string, string][]> = {
  dir: [["path", "Folder", "/Volumes/Backup/gardener"]],
  sftp: [["url", "Server", "sftp://me@backup.lan/srv/gardener"]],
  s3: [
    ["endpoint", "Endpoint", "https://s3.eu-central-003.backblazeb2.com"],
    ["bucket", "Bucket", "my-gardener"],
    ["prefix", "Prefix (optional)", "mac-mini/"],
    ["region", "Region (optional)", "us-east-1"],
    ["access_key_id", "Access key id", ""],
    ["secret_access_key", "Secret access key", ""],
  ],
};

const HINTS: Record<TargetKind, string> = {
  dir: "An external drive or a mounted NAS share, on another disk than the data. Copies are encrypted to the recovery key.",
  sftp: "Uses this computer's ssh: your keys, ~/.ssh/config and known_hosts. It never asks for a password and never accepts an unknown server.",
  s3: "Any S3-compatible service. The keys are kept in a file of their own beside gardener.toml (readable only by you), never in gardener.toml.",
};

/** What the add form holds, as the command takes it (empty fields as null). */
export function formTarget(name: string, kind: TargetKind, values: Partial<Record<keyof NewTarget, string>>): NewTarget {
  const v = (k: keyof NewTarget): string | null => {
    const s = (values[k] ?? "").trim();
    return s === "" || !FIELDS[kind].some(([f]) => f === k) ? null : s;
  };
  return {
    name: name.trim(),
    kind,
    path: v("path"),
    url: v("url"),
    endpoint: v("endpoint"),
    bucket: v("bucket"),
    prefix: v("prefix"),
    region: v("region"),
    access_key_id: v("access_key_id"),
    secret_access_key: v("secret_access_key"),
  };
}

/** The add-a-target form; `onAdd` gets what it holds. */
export function renderAddForm(busy: boolean, onAdd: (t: NewTarget) => void): HTMLElement {
  const name = h("input", { type: "text", name: "name", required: true, placeholder: "nas", autocomplete: "off" });
  const kind = h("select", { name: "kind" }, h("option", { value: "dir" }, "Folder on another disk (dir)"), h("option", { value: "sftp" }, "Server over SFTP (sftp)"), h("option", { value: "s3" }, "S3-compatible storage (s3)"));
  const fields = h("div", { class: "target-fields" });
  const inputs = new Map<keyof NewTarget, HTMLInputElement>();
  const show = (): void => {
    const k = kind.value as TargetKind;
    inputs.clear();
    fields.replaceChildren(
      h("p", { class: "note" }, HINTS[k]),
      ...FIELDS[k].map(([key, label, example]) => {
        const input = h("input", { type: key === "secret_access_key" ? "password" : "text", name: key, placeholder: example, autocomplete: "off" });
        inputs.set(key, input);
        return h("label", {}, label, " ", input);
      }),
    );
  };
  kind.addEventListener("change", show);
  show();
  const add = h("button", { type: "submit", class: "primary", disabled: busy }, "Add target");
  const form = h("form", { class: "add-target" }, h("label", {}, "Name ", name), h("label", {}, "Kind ", kind), fields, h("div", { class: "buttons" }, add));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const values: Partial<Record<keyof NewTarget, string>> = {};
    for (const [k, input] of inputs) values[k] = input.value;
    onAdd(formTarget(name.value, kind.value as TargetKind, values));
  });
  return h("details", { class: "add-target" }, h("summary", {}, "Add a target"), form);
}
