// Tiny DOM helpers: build elements from tag, attributes and children. Text is
// always set as text (never parsed as HTML), so plan content cannot inject markup.

export type Child = Node | string | number | null | undefined | false;
export type Attrs = Record<string, string | boolean | undefined>;

/** Creates `<tag ...attrs>children</tag>`; `false`/`undefined` attributes are left out. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? "" : value);
  }
  append(element, children);
  return element;
}

/** Appends children, skipping empty ones (so `cond && h(...)` works). */
export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

/** Replaces everything inside `parent`. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}
