package services

import (
	"context"

	"github.com/loopat/desktop/backend/contextrepo"
	"github.com/loopat/desktop/backend/events"
	"github.com/loopat/desktop/backend/kanban"
)

// KanbanService is the Focus board: markdown boards in the notes repository, each change
// one commit. Changes publish "kanban:changed" {board}. Creating a loop from a card is
// LoopService.Create + Send (title, description) followed by LinkLoop.
type KanbanService struct {
	st  *contextrepo.Store
	ks  *kanban.Store
	pub events.Publisher
}

// NewKanbanService serves the boards of st's notes repository; pub may be nil.
func NewKanbanService(st *contextrepo.Store, pub events.Publisher) *KanbanService {
	edit := func(msg string, fn func(string) error) (string, error) { return st.Edit(contextrepo.Notes, msg, fn) }
	return &KanbanService{st: st, ks: kanban.New(st.Dir(contextrepo.Notes), edit), pub: pub}
}

func (s *KanbanService) changed(board string, err error) {
	if err == nil && s.pub != nil {
		s.pub.Publish(events.TopicKanbanChanged, map[string]string{"board": board})
	}
}

// Boards lists board names, "default" first.
func (s *KanbanService) Boards() ([]string, error) {
	if err := s.st.Ensure(context.Background(), contextrepo.Notes); err != nil {
		return nil, err
	}
	return s.ks.Boards()
}

// Board returns a board with its columns and cards.
// The notes repo is prepared first so a direct link to a board works on a fresh workspace.
func (s *KanbanService) Board(name string) (kanban.Board, error) {
	if err := s.st.Ensure(context.Background(), contextrepo.Notes); err != nil {
		return kanban.Board{}, err
	}
	return s.ks.Board(name)
}

// CreateBoard makes a board with To do / Doing / Done.
func (s *KanbanService) CreateBoard(name string) (kanban.Board, error) {
	b, err := s.ks.CreateBoard(name)
	s.changed(name, err)
	return b, err
}

// AddColumn appends a column.
func (s *KanbanService) AddColumn(board, title string) (kanban.Column, error) {
	c, err := s.ks.AddColumn(board, title)
	s.changed(board, err)
	return c, err
}

// AddCard appends a card to a column (column = its file name without .md).
func (s *KanbanService) AddCard(board, column, text string) (kanban.Card, error) {
	c, err := s.ks.AddCard(board, column, text)
	s.changed(board, err)
	return c, err
}

// MoveCard moves a card to index in toColumn (-1 = end).
func (s *KanbanService) MoveCard(board, fromColumn, cardID, toColumn string, index int) error {
	err := s.ks.MoveCard(board, fromColumn, cardID, toColumn, index)
	s.changed(board, err)
	return err
}

// UpdateCard replaces a card's text, done flag, metadata, subtasks and description.
func (s *KanbanService) UpdateCard(board, column, cardID string, card kanban.Card) (kanban.Card, error) {
	c, err := s.ks.UpdateCard(board, column, cardID, card)
	s.changed(board, err)
	return c, err
}

// DeleteCard removes a card.
func (s *KanbanService) DeleteCard(board, column, cardID string) error {
	err := s.ks.DeleteCard(board, column, cardID)
	s.changed(board, err)
	return err
}

// LinkLoop records a loop on a card ("> loop: <id>").
func (s *KanbanService) LinkLoop(board, column, cardID, loopID string) (kanban.Card, error) {
	c, err := s.ks.LinkLoop(board, column, cardID, loopID)
	s.changed(board, err)
	return c, err
}
