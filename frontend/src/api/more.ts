// Typed wrappers for the Context, Kanban and Uninstall services (shapes from
// backend/contextrepo, backend/kanban and backend/uninstall).
import { call } from './rpc';
import type * as gen from './generated';

/** Go encodes a nil slice as null; the UI always gets an array. */
const list = <T,>(p: Promise<T[] | null>): Promise<T[]> => p.then((v) => v ?? []);

// ---- Context -------------------------------------------------------------

export type RepoName = 'knowledge' | 'notes' | 'personal';
export const REPOS: RepoName[] = ['knowledge', 'notes', 'personal'];

export type ContextEntry = gen.ContextrepoEntry;
export type ContextFile = gen.ContextrepoFile;
/** line 0: the file name matched. */
export type SearchHit = gen.Hit;
export type SyncStatus = gen.SyncStatus;
/** id is the loop id. */
export type Proposal = gen.Proposal;
export type RepoPromote = gen.RepoPromote;
export type PromoteResult = gen.PromoteResult;

export const ContextService = {
  Promote: (loopId: string) => call('ContextService', 'Promote', loopId),
  Repos: () => list(call('ContextService', 'Repos')),
  Tree: (repo: string, path: string) => list(call('ContextService', 'Tree', repo, path)),
  Read: (repo: string, path: string) => call('ContextService', 'Read', repo, path),
  Write: (repo: string, path: string, content: string) => call('ContextService', 'Write', repo, path, content),
  Search: (repo: string, query: string) => list(call('ContextService', 'Search', repo, query)),
  Status: (repo: string) => call('ContextService', 'Status', repo),
  Pull: (repo: string) => call('ContextService', 'Pull', repo),
  Push: (repo: string) => call('ContextService', 'Push', repo),
  Proposals: () => list(call('ContextService', 'Proposals')),
  ProposalDiff: (id: string) => call('ContextService', 'ProposalDiff', id),
  MergeProposal: (id: string) => call('ContextService', 'MergeProposal', id),
  DiscardProposal: (id: string) => call('ContextService', 'DiscardProposal', id),
};

// ---- Kanban --------------------------------------------------------------

export type Field = gen.Field;
export type Subtask = gen.Subtask;
export type Card = gen.Card;
export type Column = gen.Column;
export type Board = gen.Board;

export const KanbanService = {
  Boards: () => list(call('KanbanService', 'Boards')),
  Board: (name: string) => call('KanbanService', 'Board', name),
  CreateBoard: (name: string) => call('KanbanService', 'CreateBoard', name),
  AddColumn: (board: string, title: string) => call('KanbanService', 'AddColumn', board, title),
  AddCard: (board: string, column: string, text: string) => call('KanbanService', 'AddCard', board, column, text),
  MoveCard: (board: string, fromColumn: string, cardId: string, toColumn: string, index: number) =>
    call('KanbanService', 'MoveCard', board, fromColumn, cardId, toColumn, index),
  UpdateCard: (board: string, column: string, cardId: string, card: Card) =>
    call('KanbanService', 'UpdateCard', board, column, cardId, card),
  DeleteCard: (board: string, column: string, cardId: string) => call('KanbanService', 'DeleteCard', board, column, cardId),
  LinkLoop: (board: string, column: string, cardId: string, loopId: string) =>
    call('KanbanService', 'LinkLoop', board, column, cardId, loopId),
};

// ---- Uninstall -----------------------------------------------------------

export type UContainer = gen.Container;
export type UImage = gen.Image;
export type UNetwork = gen.Network;
export type UKeychainItem = gen.KeychainItem;
export type UFolder = gen.Folder;
export type UStay = gen.Stay;
export type UninstallPlan = gen.Plan;
export type StepStatus = 'running' | 'done' | 'failed' | 'skipped';
/** Go uninstall.Step (the uninstall:progress event's data); status is one of StepStatus. */
export type UninstallStep = gen.Step;
export type UninstallResult = gen.UninstallResult;
/** The uninstall:done event's data. */
export type UninstallDone = gen.UninstallDone;

export const UninstallService = {
  Plan: (keepData: boolean) => call('UninstallService', 'Plan', keepData),
  Run: (confirmName: string, keepData: boolean) => call('UninstallService', 'Run', confirmName, keepData),
  Running: () => call('UninstallService', 'Running'),
};

export const moreTopics = {
  contextChanged: 'context:changed',
  kanbanChanged: 'kanban:changed',
  uninstallProgress: 'uninstall:progress',
  uninstallDone: 'uninstall:done',
};
