// Typed wrappers for the Context, Kanban and Uninstall services (shapes from
// backend/contextrepo, backend/kanban and backend/uninstall).
import { call } from './client';

/** Go encodes a nil slice as null; the UI always gets an array. */
const list = <T,>(p: Promise<T[] | null>): Promise<T[]> => p.then((v) => v ?? []);

// ---- Context -------------------------------------------------------------

export type RepoName = 'knowledge' | 'notes' | 'personal';
export const REPOS: RepoName[] = ['knowledge', 'notes', 'personal'];

export interface ContextEntry {
  name: string;
  path: string;
  dir: boolean;
  size: number;
}
export interface ContextFile {
  path: string;
  content: string;
  size: number;
  binary: boolean;
  truncated: boolean;
}
export interface SearchHit {
  path: string;
  line: number; // 0 = the file name matched
  text: string;
}
export interface SyncStatus {
  repo: string;
  branch: string;
  remote: string;
  solo: boolean;
  head: string;
  ahead: number;
  behind: number;
  dirty: boolean;
  fetchError?: string;
}
export interface Proposal {
  id: string; // the loop id
  branch: string;
  commit: string;
  message: string;
  when: string;
  files: string[] | null;
}

/** What promote did in one context repo (backend/contextrepo RepoPromote). */
export interface RepoPromote {
  repo: string;
  status: string;
  commit?: string;
  files?: string[];
  error?: string;
}
export interface PromoteResult {
  loopId: string;
  repos: RepoPromote[] | null;
}

export const ContextService = {
  Promote: (loopId: string) => call<PromoteResult>('ContextService', 'Promote', loopId),
  Repos: () => list(call<string[]>('ContextService', 'Repos')),
  Tree: (repo: string, path: string) => list(call<ContextEntry[]>('ContextService', 'Tree', repo, path)),
  Read: (repo: string, path: string) => call<ContextFile>('ContextService', 'Read', repo, path),
  Write: (repo: string, path: string, content: string) => call<string>('ContextService', 'Write', repo, path, content),
  Search: (repo: string, query: string) => list(call<SearchHit[]>('ContextService', 'Search', repo, query)),
  Status: (repo: string) => call<SyncStatus>('ContextService', 'Status', repo),
  Pull: (repo: string) => call<SyncStatus>('ContextService', 'Pull', repo),
  Push: (repo: string) => call<SyncStatus>('ContextService', 'Push', repo),
  Proposals: () => list(call<Proposal[]>('ContextService', 'Proposals')),
  ProposalDiff: (id: string) => call<string>('ContextService', 'ProposalDiff', id),
  MergeProposal: (id: string) => call<void>('ContextService', 'MergeProposal', id),
  DiscardProposal: (id: string) => call<void>('ContextService', 'DiscardProposal', id),
};

// ---- Kanban --------------------------------------------------------------

export interface Field {
  key: string;
  value: string;
}
export interface Subtask {
  text: string;
  done: boolean;
}
export interface Card {
  id: string;
  text: string;
  done: boolean;
  meta: Field[] | null;
  loop: string;
  subtasks: Subtask[] | null;
  description: string;
  topics: string[] | null;
}
export interface Column {
  id: string;
  title: string;
  color?: string;
  cards: Card[] | null;
}
export interface Board {
  name: string;
  columns: Column[] | null;
}

export const KanbanService = {
  Boards: () => list(call<string[]>('KanbanService', 'Boards')),
  Board: (name: string) => call<Board>('KanbanService', 'Board', name),
  CreateBoard: (name: string) => call<Board>('KanbanService', 'CreateBoard', name),
  AddColumn: (board: string, title: string) => call<Column>('KanbanService', 'AddColumn', board, title),
  AddCard: (board: string, column: string, text: string) => call<Card>('KanbanService', 'AddCard', board, column, text),
  MoveCard: (board: string, fromColumn: string, cardId: string, toColumn: string, index: number) =>
    call<void>('KanbanService', 'MoveCard', board, fromColumn, cardId, toColumn, index),
  UpdateCard: (board: string, column: string, cardId: string, card: Card) =>
    call<Card>('KanbanService', 'UpdateCard', board, column, cardId, card),
  DeleteCard: (board: string, column: string, cardId: string) => call<void>('KanbanService', 'DeleteCard', board, column, cardId),
  LinkLoop: (board: string, column: string, cardId: string, loopId: string) =>
    call<Card>('KanbanService', 'LinkLoop', board, column, cardId, loopId),
};

// ---- Uninstall -----------------------------------------------------------

export interface UContainer {
  name: string;
  id: string;
  running: boolean;
  loopId?: string;
}
export interface UImage {
  ref: string;
  id: string;
  size: number;
  tags: string[] | null;
  action: string;
  staysFor?: string[];
  untagRefs?: string[];
}
export interface UNetwork {
  name: string;
  id: string;
}
export interface UKeychainItem {
  service: string;
  account: string;
  chunks?: number;
}
export interface UFolder {
  path: string;
  size: number;
  action: string;
  why?: string;
}
export interface UStay {
  what: string;
  why: string;
  commands?: string[];
}
export interface UninstallPlan {
  workspace: string;
  home: string;
  keepData: boolean;
  dryRun: boolean;
  containers: UContainer[] | null;
  images: UImage[] | null;
  networks: UNetwork[] | null;
  keychain: UKeychainItem[] | null;
  folders: UFolder[] | null;
  service: { sockets: string[] | null; managed: boolean };
  stays: UStay[] | null;
  unchecked?: string[];
}
export type StepStatus = 'running' | 'done' | 'failed' | 'skipped';
export interface UninstallStep {
  step: string;
  status: StepStatus;
  detail?: string;
}
export interface UninstallResult {
  workspace: string;
  keepData: boolean;
  dryRun: boolean;
  steps: UninstallStep[] | null;
  removed: string[] | null;
  remaining: { what: string; reason: string }[] | null;
  kept?: string[];
}
export interface UninstallDone {
  result: UninstallResult;
  quit: boolean;
}

export const UninstallService = {
  Plan: (keepData: boolean) => call<UninstallPlan>('UninstallService', 'Plan', keepData),
  Run: (confirmName: string, keepData: boolean) => call<void>('UninstallService', 'Run', confirmName, keepData),
  Running: () => call<boolean>('UninstallService', 'Running'),
};

export const moreTopics = {
  contextChanged: 'context:changed',
  kanbanChanged: 'kanban:changed',
  uninstallProgress: 'uninstall:progress',
  uninstallDone: 'uninstall:done',
};
