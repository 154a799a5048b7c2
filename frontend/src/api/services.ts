// Typed wrappers over call(): one object per Go service, method names as bound.
import { call } from './rpc';
import type * as gen from './generated';

/** Go encodes a nil slice as null; the UI always gets an array. */
const list = <T,>(p: Promise<T[] | null>): Promise<T[]> => p.then((v) => v ?? []);

// The Go types, as `make generate` writes them from the services (generated.ts); the
// names here are the UI's. Only UI-side types (unions the UI narrows to, event data
// Go does not return from a method) are written by hand.
export type Info = gen.SystemInfo;
export type ConfigError = gen.LoadError;
/** After a save, changed/restart list the keys that changed and those among them that apply only after a restart. */
export type ConfigFile = gen.ConfigView;
export type Theme = 'system' | 'light' | 'dark';
/** The config in force (Go config.Config). */
export type LiveConfig = gen.Config;
/** Data of the config:changed event. */
export type ConfigChange = gen.ConfigChange;
export type DoctorCheck = gen.DoctorResult;

export type EnginePhase = gen.Phase;
export type EngineState = gen.State;
export type Machine = gen.Info;
/** Data of the machine:progress event: one output line of an init, start or stop. */
export type MachineProgress = gen.ProgressEvent;

/** Go images.Progress (also the image:progress event's data). */
export type ImageProgress = gen.Progress;
export type ImageStatus = gen.ImageStatus;

/** A vault item; mode is a file secret's permission bits as a number (0o600 = 384). */
export type VaultEntry = gen.Item;
export type VaultStatus = gen.KeychainStatus;
export type Provider = gen.ProviderInfo;
/** Go providers.TestResult: class says what kind of failure (auth, network, tls, …). */
export type ProviderTest = gen.TestResult;

export type LoopStatus = 'idle' | 'starting' | 'working' | 'waiting' | 'error' | 'stopped';
export type ModelUsage = gen.ModelUsage;
/** Go loops.Meta; its status is a string Go sets only from the loops.Status* constants. */
export type LoopMeta = Omit<gen.Meta, 'status'> & { status: LoopStatus };
/** What the UI sends to create a loop: the title, and repo/vault when chosen. */
export type CreateLoop = Pick<gen.CreateRequest, 'title'> & Partial<gen.CreateRequest>;
/** One transcript line: a Claude Code stream-json object, or our user_input / error lines. */
export type Msg = { type: string; [k: string]: any };
/** A window of a transcript (oldest first); start is the cursor for the older page. */
export type TranscriptPage = Omit<gen.TranscriptPage, 'lines'> & { lines: Msg[] };
export type QueueItem = gen.QueuedMessage;
export type HostExecEntry = gen.AuditEntry;

export type TreeEntry = gen.WorkdirEntry;
export type FileContent = gen.WorkdirFile;
/** isRepo false: the workdir has no .git (the Git tab offers to start a repository). */
export type GitStatus = gen.Status;

export const PERMISSION_MODES = ['default', 'acceptEdits', 'plan', 'bypassPermissions'] as const;

export const SystemService = {
  Info: () => call('SystemService', 'Info'),
  Config: () => call('SystemService', 'Config'),
  /** base: the revision the text was edited from; a save over a newer file is refused (conflict). */
  SaveConfig: (text: string, base: string) => call('SystemService', 'SaveConfig', text, base),
  CurrentConfig: () => call('SystemService', 'CurrentConfig'),
  Doctor: () => list(call('SystemService', 'Doctor')),
  OpenLogsFolder: () => call('SystemService', 'OpenLogsFolder'),
};

export const EngineService = {
  State: () => call('EngineService', 'State'),
  Reconnect: () => call('EngineService', 'Reconnect'),
  Machines: () => list(call('EngineService', 'Machines')),
  InitMachine: () => call('EngineService', 'InitMachine'),
  StartMachine: () => call('EngineService', 'StartMachine'),
  StopMachine: () => call('EngineService', 'StopMachine'),
};

export const ImageService = {
  Status: () => call('ImageService', 'Status'),
  Build: () => call('ImageService', 'Build'),
};

export const VaultService = {
  Vaults: () => list(call('VaultService', 'Vaults')),
  List: (vault: string) => list(call('VaultService', 'List', vault)),
  SetEnv: (vault: string, name: string, value: string) => call('VaultService', 'SetEnv', vault, name, value),
  /** mode is the permission bits as a number (0o600), as Go's int parameter takes it. */
  SetFile: (vault: string, path: string, mode: number, value: string) =>
    call('VaultService', 'SetFile', vault, path, mode, value),
  Delete: (vault: string, kind: string, name: string) => call('VaultService', 'Delete', vault, kind, name),
  Status: () => call('VaultService', 'Status'),
};

export const ProviderService = {
  List: () => list(call('ProviderService', 'List')),
  Test: (name: string) => call('ProviderService', 'Test', name),
};

export const LoopService = {
  List: () => list(call('LoopService', 'List')) as Promise<LoopMeta[]>,
  Create: (req: CreateLoop) => call('LoopService', 'Create', { repo: '', vault: '', ...req }) as Promise<LoopMeta>,
  Get: (id: string) => call('LoopService', 'Get', id) as Promise<LoopMeta>,
  Rename: (id: string, title: string) => call('LoopService', 'Rename', id, title),
  Archive: (id: string, archived: boolean) => call('LoopService', 'Archive', id, archived),
  Delete: (id: string) => call('LoopService', 'Delete', id),
  Messages: (id: string) => list(call('LoopService', 'Messages', id)) as Promise<Msg[]>,
  // A bounded page of the transcript ending at byte offset before (0: the newest lines).
  MessagesPage: (id: string, before = 0, limit = 0) =>
    call('LoopService', 'MessagesPage', id, before, limit).then((p): TranscriptPage => ({ ...p, lines: (p?.lines ?? []) as Msg[] })),
  Send: (id: string, text: string) => call('LoopService', 'Send', id, text),
  // Stops the running turn. Unless keepQueue, the queued messages come back (for the composer).
  Interrupt: (id: string, keepQueue = false) => list(call('LoopService', 'Interrupt', id, keepQueue)),
  Queue: (id: string) => list(call('LoopService', 'Queue', id)),
  Unqueue: (id: string, queueId: string) => call('LoopService', 'Unqueue', id, queueId),
  SetPermissionMode: (id: string, mode: string) => call('LoopService', 'SetPermissionMode', id, mode),
  HostExecAudit: (id: string) => list(call('LoopService', 'HostExecAudit', id)),
};

export const TerminalService = {
  Open: (loopId: string, cols: number, rows: number) => call('TerminalService', 'Open', loopId, cols, rows),
  Write: (sessionId: string, dataBase64: string) => call('TerminalService', 'Write', sessionId, dataBase64),
  Resize: (sessionId: string, cols: number, rows: number) =>
    call('TerminalService', 'Resize', sessionId, cols, rows),
  Close: (sessionId: string) => call('TerminalService', 'Close', sessionId),
};

export const WorkdirService = {
  Tree: (loopId: string, path: string) => list(call('WorkdirService', 'Tree', loopId, path)),
  Read: (loopId: string, path: string) => call('WorkdirService', 'Read', loopId, path),
  GitStatus: (loopId: string) => call('WorkdirService', 'GitStatus', loopId),
  GitDiff: (loopId: string, path: string) => call('WorkdirService', 'GitDiff', loopId, path),
  Commit: (loopId: string, message: string) => call('WorkdirService', 'Commit', loopId, message),
  InitRepo: (loopId: string) => call('WorkdirService', 'InitRepo', loopId),
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
