// Calls into the Rust side. Every failure comes back as an IpcError, including
// ones Tauri itself raises (as bare strings) before our command runs. The
// typed function for each command is generated into bindings/commands.ts.

import { invoke } from "@tauri-apps/api/core";

import type { IpcError } from "./bindings/IpcError";
import { isErrorCode } from "./errors";

export type Result<T> = { ok: true; value: T } | { ok: false; error: IpcError };

export async function call<T>(command: string, args: Record<string, unknown> = {}): Promise<Result<T>> {
  try {
    return { ok: true, value: await invoke<T>(command, args) };
  } catch (error) {
    return { ok: false, error: toIpcError(error) };
  }
}

/** Normalizes whatever `invoke` rejected with. */
export function toIpcError(error: unknown): IpcError {
  if (isIpcError(error)) return error;
  // Tauri rejects with a string for its own failures (e.g. a missing permission).
  if (typeof error === "string") return { code: "ipc", message: error };
  if (error instanceof Error) return { code: "ipc", message: error.message };
  // `{ code, message }` with a code this page does not know: the words still help.
  const message = messageOf(error);
  if (message !== undefined) return { code: "ipc", message };
  return { code: "internal", message: "Something unexpected went wrong while talking to Gardener." };
}

function isIpcError(value: unknown): value is IpcError {
  return isErrorCode(field(value, "code")) && messageOf(value) !== undefined;
}

function messageOf(value: unknown): string | undefined {
  const message = field(value, "message");
  return typeof message === "string" ? message : undefined;
}

function field(value: unknown, name: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}
