package services

import (
	"errors"

	"github.com/loopat/desktop/backend/loops"
	"github.com/loopat/desktop/backend/rpc"
	"github.com/loopat/desktop/backend/workdir"
)

// WorkdirService browses, diffs and commits a loop's workdir. Paths are relative to the
// workdir and confined to it.
type WorkdirService struct {
	m      *loops.Manager
	author workdir.Author
}

// NewWorkdirService exposes the workdirs of m's loops; an empty author means
// "loopat <loop@loopat.local>".
func NewWorkdirService(m *loops.Manager, author workdir.Author) *WorkdirService {
	return &WorkdirService{m: m, author: author}
}

func (s *WorkdirService) root(loopID string) (string, error) {
	if _, err := s.m.Get(loopID); err != nil {
		return "", err
	}
	return s.m.Store().WorkDir(loopID), nil
}

// Tree lists one folder ("" = the workdir itself).
func (s *WorkdirService) Tree(loopID, path string) ([]workdir.Entry, error) {
	root, err := s.root(loopID)
	if err != nil {
		return nil, err
	}
	return workdir.Tree(root, path)
}

// Read returns a file for the viewer (capped at 1 MiB; binary files without content).
func (s *WorkdirService) Read(loopID, path string) (workdir.File, error) {
	root, err := s.root(loopID)
	if err != nil {
		return workdir.File{}, err
	}
	return workdir.Read(root, path)
}

// GitStatus reports the loop branch and its changed files.
func (s *WorkdirService) GitStatus(loopID string) (workdir.Status, error) {
	root, err := s.root(loopID)
	if err != nil {
		return workdir.Status{}, err
	}
	return workdir.GitStatus(root)
}

// InitRepo makes a loop without a repository a git repository ("Start a repository" in
// the Git tab); a .git the loop planted is refused, an existing repository is a conflict.
func (s *WorkdirService) InitRepo(loopID string) (workdir.Status, error) {
	root, err := s.root(loopID)
	if err != nil {
		return workdir.Status{}, err
	}
	st, err := workdir.Init(root)
	if errors.Is(err, workdir.ErrAlreadyRepo) {
		return st, rpc.Conflict("This loop already has a repository.", "Refresh the Git tab.", err)
	}
	return st, err
}

// GitDiff is the unified diff against HEAD of one path ("" = all changes).
func (s *WorkdirService) GitDiff(loopID, path string) (string, error) {
	root, err := s.root(loopID)
	if err != nil {
		return "", err
	}
	return workdir.GitDiff(root, path)
}

// CommitResult names the new commit.
type CommitResult struct {
	Hash string `json:"hash"`
}

// Commit stages all changes and commits them.
func (s *WorkdirService) Commit(loopID, message string) (CommitResult, error) {
	root, err := s.root(loopID)
	if err != nil {
		return CommitResult{}, err
	}
	h, err := workdir.Commit(root, message, s.author)
	return CommitResult{Hash: h}, err
}
