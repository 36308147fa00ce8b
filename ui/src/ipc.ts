// Calls into the Rust side. Every failure comes back as an IpcError, including
// ones Tauri itself raises (as bare strings) before our command runs.

import { Channel, invoke } from "@tauri-apps/api/core";

import type { InstallProgress } from "./bindings/InstallProgress";
import type { IpcError } from "./bindings/IpcError";
import type { Plan } from "./bindings/Plan";
import type { RecoveryKey } from "./bindings/RecoveryKey";
import type { SetUpReport } from "./bindings/SetUpReport";

export type Result<T> = { ok: true; value: T } | { ok: false; error: IpcError };

export async function call<T>(command: string, args: Record<string, unknown> = {}): Promise<Result<T>> {
  try {
    return { ok: true, value: await invoke<T>(command, args) };
  } catch (error) {
    return { ok: false, error: toIpcError(error) };
  }
}

/**
 * What setting up would do on this computer (changes nothing); with
 * `useRunningOllama`, using an Ollama that is already running.
 */
export function loadPlan(useRunningOllama = false): Promise<Result<Plan>> {
  return call<Plan>("setup_plan", { useRunningOllama });
}

/** Sets up the services, calling `onProgress` as each step starts and ends. */
export function applySetup(
  useRunningOllama: boolean,
  onProgress: (progress: InstallProgress) => void,
): Promise<Result<SetUpReport>> {
  const channel = new Channel<InstallProgress>();
  channel.onmessage = onProgress;
  return call<SetUpReport>("setup_apply", { useRunningOllama, onProgress: channel });
}

/** The recovery key copies are encrypted to, made now if there is none; only when the person asks. */
export const recoveryKey = (): Promise<Result<RecoveryKey>> => call<RecoveryKey>("recovery_key");

/** Normalizes whatever `invoke` rejected with. */
export function toIpcError(error: unknown): IpcError {
  if (isIpcError(error)) return error;
  // Tauri rejects with a string for its own failures (e.g. a missing permission).
  if (typeof error === "string") return { code: "ipc", message: error };
  if (error instanceof Error) return { code: "ipc", message: error.message };
  return { code: "internal", message: "Something unexpected went wrong while talking to Gardener." };
}

function isIpcError(value: unknown): value is IpcError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Record<string, unknown>)["code"] === "string" &&
    typeof (value as Record<string, unknown>)["message"] === "string"
  );
}
