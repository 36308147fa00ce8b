// The recovery key, shown only when the person asks for it, with why it
// must be saved somewhere other than this computer: the setup window and the
// dashboard's Backups tab both offer it.

import type { RecoveryKey } from "./bindings/RecoveryKey";
import { recoveryKey } from "./bindings/commands";
import { h, replaceChildren } from "./dom";
import { renderError } from "./plan";

/** The key file's text, where it is kept and what it is for. */
export function renderKey(key: RecoveryKey): HTMLElement {
  return h(
    "div",
    { class: "recovery-key" },
    h("p", { class: "warning", role: "alert" }, key.warning),
    key.created ? h("p", {}, "The key was made just now.") : null,
    h("p", {}, "Save all of this somewhere other than this computer (a password manager, a printout):"),
    h("pre", { class: "key-file" }, key.file),
    h("p", { class: "note" }, `It is kept at ${key.path}. Copies are encrypted to ${key.public}.`),
  );
}

/** A short why and a button that shows the key (asking for it only then). */
export function renderKeyOffer(lead: string): HTMLElement {
  const box = h("div", { class: "key-box" });
  const show = h("button", { type: "button" }, "Show the recovery key");
  show.addEventListener("click", () => {
    void recoveryKey().then((r) => replaceChildren(box, r.ok ? renderKey(r.value) : renderError(r.error, "Cannot read the recovery key")));
  });
  replaceChildren(box, h("p", { class: "note" }, lead), show);
  return box;
}
