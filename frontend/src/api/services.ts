// Typed wrappers over call(): one object per Go service, method names as bound.
import { call } from './client';

/** Go encodes a nil slice as null; the UI always gets an array. */
const list = <T,>(p: Promise<T[] | null>): Promise<T[]> => p.then((v) => v ?? []);

export interface Info {
  workspace: string;
  home: string;
  version: string;
  versions?: Record<string, string>;
  os?: string;
  transport?: string;
}
export interface ConfigError {
  file: string;
  line: number;
  key: string;
  message: string;
}
export interface ConfigFile {
  path: string;
  text: string;
  error?: ConfigError | null;
  /** After a save: the keys that changed, and those among them that apply only after a restart. */
  changed?: string[] | null;
  restart?: string[] | null;
}
export type Theme = 'system' | 'light' | 'dark';
/** The config in force (Go config.Config; only what the UI reads is typed). */
export interface LiveConfig {
  ui: { theme: Theme; notifications: boolean };
  sandbox: { idleMinutes: number; baseImage: string };
  agent: { permissionMode: string; defaultProvider: string; defaultModel: string };
  [section: string]: unknown;
}
/** Data of the config:changed event (Go services.ConfigChange). */
export interface ConfigChange {
  config: LiveConfig;
  changed: string[];
  restart: string[];
}
export interface DoctorCheck {
  id: string;
  ok: boolean;
  label: string;
  hint: string;
}

export type EnginePhase = 'absent' | 'machine-stopped' | 'starting' | 'ready' | 'error';
export interface EngineState {
  phase: EnginePhase;
  reason?: string;
  hint?: string;
  source?: string;
  uri?: string;
  version?: string;
}
export interface Machine {
  name: string;
  running: boolean;
  default: boolean;
  cpus?: number;
  memory?: number | string;
  disk?: number | string;
  [k: string]: unknown;
}
export interface MachineProgress {
  line?: string;
  percent?: number;
  done?: boolean;
  error?: string;
  diagnosis?: { cause: string; fix: string } | null;
}

export interface ImageProgress {
  image?: string;
  step?: number;
  total?: number;
  line?: string;
  percent?: number;
  done?: boolean;
  error?: string;
}
export interface ImageStatus {
  ref: string;
  present: boolean;
  building: boolean;
  progress?: ImageProgress | null;
}

export interface VaultEntry {
  kind: 'env' | 'file';
  name: string;
  /** Permission bits of a file secret (a number: 0o600 = 384). */
  mode?: number;
  size: number;
  updated: string;
}
/** Go services.KeychainStatus. */
export interface VaultStatus {
  ok: boolean;
  state: 'ok' | 'locked' | 'absent' | 'error' | string;
  message?: string;
  fix?: string;
}
export interface Provider {
  name: string;
  baseURL: string;
  models: string[] | null;
  keyRef: string;
  hasKey: boolean;
}
/** Go providers.TestResult. */
export interface ProviderTest {
  provider?: string;
  url?: string;
  model?: string;
  ok: boolean;
  /** What kind of failure (auth, network, tls, …). */
  class: string;
  status?: number;
  message: string;
  hint?: string;
}

export type LoopStatus = 'idle' | 'starting' | 'working' | 'waiting' | 'error' | 'stopped';
export interface ModelUsage {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}
export interface LoopMeta {
  id: string;
  title: string;
  created: string;
  status: LoopStatus;
  archived: boolean;
  repo?: string;
  branch?: string;
  vault: string;
  provider: string;
  model: string;
  permissionMode: string;
  sessionId?: string;
  warning?: string;
  usage?: { byModel: Record<string, ModelUsage> } | null;
}
export interface CreateLoop {
  title: string;
  repo?: string;
  vault?: string;
}
/** One transcript line: a Claude Code stream-json object, or our user_input / error lines. */
export type Msg = { type: string; [k: string]: any };
/** A window of a transcript (oldest first); start is the cursor for the older page. */
export interface TranscriptPage {
  lines: Msg[];
  start: number;
  end: number;
  more: boolean;
}
export interface QueueItem {
  id: string;
  text: string;
}
export interface HostExecEntry {
  ts: string;
  cli: string;
  args: string[] | null;
  exit: number;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
  error?: string;
}

export interface TreeEntry {
  name: string;
  path: string;
  dir: boolean;
  size: number;
}
export interface FileContent {
  path: string;
  content: string;
  binary: boolean;
  truncated: boolean;
}
export interface GitStatus {
  /** false: the workdir has no .git (the Git tab offers to start a repository). */
  isRepo?: boolean;
  branch: string;
  head?: string;
  base?: string;
  files: { path: string; status: string }[] | null;
  ahead?: number;
  behind?: number;
}

export const PERMISSION_MODES = ['default', 'acceptEdits', 'plan', 'bypassPermissions'] as const;

export const SystemService = {
  Info: () => call<Info>('SystemService', 'Info'),
  Config: () => call<ConfigFile>('SystemService', 'Config'),
  SaveConfig: (text: string) => call<ConfigFile>('SystemService', 'SaveConfig', text),
  CurrentConfig: () => call<LiveConfig>('SystemService', 'CurrentConfig'),
  Doctor: () => list(call<DoctorCheck[]>('SystemService', 'Doctor')),
  OpenLogsFolder: () => call<void>('SystemService', 'OpenLogsFolder'),
};

export const EngineService = {
  State: () => call<EngineState>('EngineService', 'State'),
  Reconnect: () => call<void>('EngineService', 'Reconnect'),
  Machines: () => list(call<Machine[]>('EngineService', 'Machines')),
  InitMachine: () => call<void>('EngineService', 'InitMachine'),
  StartMachine: () => call<void>('EngineService', 'StartMachine'),
  StopMachine: () => call<void>('EngineService', 'StopMachine'),
};

export const ImageService = {
  Status: () => call<ImageStatus>('ImageService', 'Status'),
  Build: () => call<void>('ImageService', 'Build'),
};

export const VaultService = {
  Vaults: () => list(call<string[]>('VaultService', 'Vaults')),
  List: (vault: string) => list(call<VaultEntry[]>('VaultService', 'List', vault)),
  SetEnv: (vault: string, name: string, value: string) => call<void>('VaultService', 'SetEnv', vault, name, value),
  /** mode is the permission bits as a number (0o600), as Go's int parameter takes it. */
  SetFile: (vault: string, path: string, mode: number, value: string) =>
    call<void>('VaultService', 'SetFile', vault, path, mode, value),
  Delete: (vault: string, kind: 'env' | 'file', name: string) => call<void>('VaultService', 'Delete', vault, kind, name),
  Status: () => call<VaultStatus>('VaultService', 'Status'),
};

export const ProviderService = {
  List: () => list(call<Provider[]>('ProviderService', 'List')),
  Test: (name: string) => call<ProviderTest>('ProviderService', 'Test', name),
};

export const LoopService = {
  List: () => list(call<LoopMeta[]>('LoopService', 'List')),
  Create: (req: CreateLoop) => call<LoopMeta>('LoopService', 'Create', req),
  Get: (id: string) => call<LoopMeta>('LoopService', 'Get', id),
  Rename: (id: string, title: string) => call<void>('LoopService', 'Rename', id, title),
  Archive: (id: string, archived: boolean) => call<void>('LoopService', 'Archive', id, archived),
  Delete: (id: string) => call<void>('LoopService', 'Delete', id),
  Messages: (id: string) => list(call<Msg[]>('LoopService', 'Messages', id)),
  // A bounded page of the transcript ending at byte offset before (0: the newest lines).
  MessagesPage: (id: string, before = 0, limit = 0) =>
    call<TranscriptPage>('LoopService', 'MessagesPage', id, before, limit).then((p) => ({ ...p, lines: p?.lines ?? [] })),
  Send: (id: string, text: string) => call<{ queued: boolean; queueId?: string }>('LoopService', 'Send', id, text),
  // Stops the running turn. Unless keepQueue, the queued messages come back (for the composer).
  Interrupt: (id: string, keepQueue = false) => list(call<QueueItem[]>('LoopService', 'Interrupt', id, keepQueue)),
  Queue: (id: string) => list(call<QueueItem[]>('LoopService', 'Queue', id)),
  Unqueue: (id: string, queueId: string) => call<void>('LoopService', 'Unqueue', id, queueId),
  SetPermissionMode: (id: string, mode: string) => call<void>('LoopService', 'SetPermissionMode', id, mode),
  HostExecAudit: (id: string) => list(call<HostExecEntry[]>('LoopService', 'HostExecAudit', id)),
};

export const TerminalService = {
  Open: (loopId: string, cols: number, rows: number) => call<string>('TerminalService', 'Open', loopId, cols, rows),
  Write: (sessionId: string, dataBase64: string) => call<void>('TerminalService', 'Write', sessionId, dataBase64),
  Resize: (sessionId: string, cols: number, rows: number) =>
    call<void>('TerminalService', 'Resize', sessionId, cols, rows),
  Close: (sessionId: string) => call<void>('TerminalService', 'Close', sessionId),
};

export const WorkdirService = {
  Tree: (loopId: string, path: string) => list(call<TreeEntry[]>('WorkdirService', 'Tree', loopId, path)),
  Read: (loopId: string, path: string) => call<FileContent>('WorkdirService', 'Read', loopId, path),
  GitStatus: (loopId: string) => call<GitStatus>('WorkdirService', 'GitStatus', loopId),
  GitDiff: (loopId: string, path: string) => call<string>('WorkdirService', 'GitDiff', loopId, path),
  Commit: (loopId: string, message: string) => call<{ hash: string }>('WorkdirService', 'Commit', loopId, message),
  InitRepo: (loopId: string) => call<GitStatus>('WorkdirService', 'InitRepo', loopId),
};

/** Topic names, in one place. */
export const topics = {
  engineState: 'engine:state',
  machineProgress: 'machine:progress',
  imageProgress: 'image:progress',
  loopsChanged: 'loops:changed',
  loopMessage: (id: string) => `loop:${id}:message`,
  loopDelta: (id: string) => `loop:${id}:delta`,
  loopStatus: (id: string) => `loop:${id}:status`,
  loopQueue: (id: string) => `loop:${id}:queue`,
  loopHostExec: (id: string) => `loop:${id}:hostexec`,
  termData: (sid: string) => `term:${sid}:data`,
  termExit: (sid: string) => `term:${sid}:exit`,
};

/** UTF-8 text ⇄ base64, for the terminal byte stream. */
export function toBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}
export function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
