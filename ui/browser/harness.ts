// Runs the built UI (ui/dist) in real Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) with Tauri's IPC replaced by a scripted one: each command answers from a
// table, and progress or samples go down the page's channels as the Rust side sends them.

import { createReadStream, existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";

import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";

import type { IpcError } from "../src/bindings/IpcError";

const DIST = join(import.meta.dirname, "..", "dist");
const TYPES: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png" };

/** What a mocked command does: send on one of its channels, then answer or fail. */
export interface Answer {
  value?: unknown;
  error?: IpcError;
  /** Messages for the channel passed as argument `arg`, sent before answering. */
  send?: { arg: string; messages: unknown[] };
  /** Milliseconds between those messages and before the answer. */
  delayMs?: number;
}
export type Scenario = Record<string, Answer>;

export async function serve(): Promise<{ server: Server; url: string }> {
  if (!existsSync(join(DIST, "dashboard.html"))) throw new Error(`${DIST} has no build: run \`npm run build\` first`);
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)).replace(/^(\.\.[/\\])+/, "");
    const file = join(DIST, path === "/" ? "index.html" : path);
    if (!file.startsWith(DIST) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run"],
  });
}

/** Runs in the page before its scripts: the scripted IPC. */
function installIpc(scenario: Scenario): void {
  type Callback = (data: unknown) => void;
  const callbacks = new Map<number, Callback>();
  const sent = new Map<number, number>();
  const calls: [string, unknown][] = [];
  let next = 1;
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  const send = (channel: { id: number }, message: unknown): void => {
    const index = sent.get(channel.id) ?? 0;
    sent.set(channel.id, index + 1);
    callbacks.get(channel.id)?.({ message, index });
  };
  const w = window as unknown as Record<string, unknown>;
  w["__CALLS__"] = calls;
  w["__SEND__"] = (name: string, message: unknown) => {
    const channel = (w["__CHANNELS__"] as Record<string, { id: number }>)[name];
    if (channel !== undefined) send(channel, message);
  };
  w["__CHANNELS__"] = {};
  w["__TAURI_INTERNALS__"] = {
    metadata: { currentWindow: { label: "dashboard" }, currentWebview: { windowLabel: "dashboard", label: "dashboard" } },
    transformCallback(callback: Callback, once = false): number {
      const id = next++;
      callbacks.set(id, (data) => {
        if (once) callbacks.delete(id);
        callback(data);
      });
      return id;
    },
    unregisterCallback(id: number): void {
      callbacks.delete(id);
    },
    async invoke(cmd: string, args: Record<string, unknown> = {}): Promise<unknown> {
      const plain: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(args)) {
        if (v !== null && typeof v === "object" && "id" in v && typeof (v as { id: unknown }).id === "number") {
          (w["__CHANNELS__"] as Record<string, unknown>)[k] = v;
        } else plain[k] = v;
      }
      calls.push([cmd, plain]);
      const answer = scenario[cmd];
      if (answer === undefined) return null;
      for (const message of answer.send?.messages ?? []) {
        send(args[answer.send!.arg] as { id: number }, message);
        if (answer.delayMs) await sleep(answer.delayMs);
      }
      if (answer.delayMs) await sleep(answer.delayMs);
      if (answer.error) throw answer.error;
      return answer.value ?? null;
    },
  };
}

/** The built UI's server and Chromium, for one test file. */
export interface Ui {
  browser: Browser;
  /** The server's address, `http://127.0.0.1:PORT`. */
  base: string;
}

/** Starts the built UI's server and Chromium before the calling file's tests, and stops both after them. */
export function uiForThisFile(): Ui {
  const ui = {} as Ui;
  let server: Server | undefined;
  beforeAll(async () => {
    let url: string;
    ({ server, url } = await serve());
    ui.base = url;
    ui.browser = await launch();
  });
  afterAll(async () => {
    await ui.browser?.close();
    server?.close();
  });
  return ui;
}

/** A page of the built UI with `scenario` as its IPC. */
export async function open(browser: Browser, url: string, scenario: Scenario): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1000, height: 720 } });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  (page as unknown as { errors: string[] }).errors = errors;
  await page.addInitScript(installIpc, scenario);
  await page.goto(url);
  return page;
}

/** The commands the page called, with their plain arguments. */
export async function calls(page: Page): Promise<[string, Record<string, unknown>][]> {
  return page.evaluate(() => (window as unknown as { __CALLS__: [string, Record<string, unknown>][] }).__CALLS__);
}

/** Errors the page threw. */
export function pageErrors(page: Page): string[] {
  return (page as unknown as { errors: string[] }).errors;
}
