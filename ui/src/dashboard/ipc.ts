// The dashboard's calls into the Rust side, one per command it may use
// (capabilities/dashboard.json grants exactly these).

import { Channel } from "@tauri-apps/api/core";

import type { Action } from "../bindings/Action";
import type { BackupInfo } from "../bindings/BackupInfo";
import type { CopyOutcome } from "../bindings/CopyOutcome";
import type { CreateReport } from "../bindings/CreateReport";
import type { DashEvent } from "../bindings/DashEvent";
import type { LogStream } from "../bindings/LogStream";
import type { NewTarget } from "../bindings/NewTarget";
import type { PauseFor } from "../bindings/PauseFor";
import type { Progress } from "../bindings/Progress";
import type { RestoreReport } from "../bindings/RestoreReport";
import type { ServiceId } from "../bindings/ServiceId";
import type { Settings } from "../bindings/Settings";
import type { TargetSummary } from "../bindings/TargetSummary";
import type { TestReport } from "../bindings/TestReport";
import type { VerifyReport } from "../bindings/VerifyReport";
import { call, type Result } from "../ipc";

function channel<T>(on: (message: T) => void): Channel<T> {
  const c = new Channel<T>();
  c.onmessage = on;
  return c;
}

/** Samples from now on; the first event is the past hour. */
export function subscribe(onEvent: (event: DashEvent) => void): Promise<Result<null>> {
  return call<null>("dashboard_subscribe", { onEvent: channel(onEvent) });
}

export const control = (action: Action, service: ServiceId): Promise<Result<null>> =>
  call<null>("service_control", { action, service });

/** Unloads one model (or all with `null`); resolves to the names unloaded. */
export const unload = (model: string | null): Promise<Result<string[]>> => call<string[]>("models_unload", { model });

export const logOpen = (service: ServiceId, stream: LogStream, lines: number): Promise<Result<string[]>> =>
  call<string[]>("log_open", { service, stream, lines });

export const logPoll = (): Promise<Result<string[]>> => call<string[]>("log_poll");

export const listBackups = (): Promise<Result<BackupInfo[]>> => call<BackupInfo[]>("backups_list");

export const backUp = (onProgress: (p: Progress) => void): Promise<Result<CreateReport>> =>
  call<CreateReport>("backup_create", { onProgress: channel(onProgress) });

export const verify = (id: string, onProgress: (p: Progress) => void): Promise<Result<VerifyReport>> =>
  call<VerifyReport>("backup_verify", { id, onProgress: channel(onProgress) });

export const cancel = (): Promise<Result<boolean>> => call<boolean>("backup_cancel");

export const restorePreview = (id: string): Promise<Result<RestoreReport>> => call<RestoreReport>("restore_preview", { id });

export const restore = (id: string, onProgress: (p: Progress) => void): Promise<Result<RestoreReport>> =>
  call<RestoreReport>("restore_apply", { id, onProgress: channel(onProgress) });

export const listTargets = (): Promise<Result<TargetSummary[]>> => call<TargetSummary[]>("targets_list");

export const testTarget = (name: string): Promise<Result<TestReport>> => call<TestReport>("target_test", { name });

export const addTarget = (target: NewTarget): Promise<Result<null>> => call<null>("target_add", { target });

export const removeTarget = (name: string): Promise<Result<null>> => call<null>("target_remove", { name });

/** Copies backup `id` to `target` (every target with null). */
export const copyBackup = (id: string, target: string | null, onProgress: (p: Progress) => void): Promise<Result<CopyOutcome[]>> =>
  call<CopyOutcome[]>("backup_copy", { id, target, onProgress: channel(onProgress) });

/** Reads a copy back from `target` and checks it (its newest with a null id). */
export const verifyCopy = (target: string, id: string | null, onProgress: (p: Progress) => void): Promise<Result<VerifyReport>> =>
  call<VerifyReport>("copy_verify", { target, id, onProgress: channel(onProgress) });

/** Brings a copy (and the backups it needs) back into the backups folder. */
export const fetchCopy = (target: string, id: string, onProgress: (p: Progress) => void): Promise<Result<null>> =>
  call<null>("copy_fetch", { target, id, onProgress: channel(onProgress) });

/** Resolves to when the pause ends (seconds since the epoch), or null. */
export const pauseAlerts = (pause: PauseFor): Promise<Result<number | null>> =>
  call<number | null>("alerts_pause", { pause });

export const loadSettings = (): Promise<Result<Settings>> => call<Settings>("settings_load");

export const checkSettings = (text: string): Promise<Result<null>> => call<null>("settings_check", { text });

export const saveSettings = (text: string): Promise<Result<null>> => call<null>("settings_save", { text });

export const setSamplingInterval = (secs: number): Promise<Result<null>> => call<null>("settings_set_interval", { secs });

export const setAutostart = (enabled: boolean): Promise<Result<boolean>> => call<boolean>("autostart_set", { enabled });

export const openSetup = (): Promise<Result<null>> => call<null>("setup_open");

/** The first figures were on screen at `atMs` (ms since the epoch); logged with the time since the window's process started. */
export const painted = (atMs: number): Promise<Result<null>> => call<null>("dashboard_painted", { atMs });
