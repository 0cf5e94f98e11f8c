package inbox

import (
	"context"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
)

// Limits of a canned response.
const (
	maxCannedTitle = 100
	maxCannedText  = 4096
)

// shortcutRE is what a shortcut may be: what an agent types after "/" in the reply box.
var shortcutRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Canned is a canned response as an admin writes it.
type Canned struct {
	Shortcut string
	Title    string
	Text     string
}

func (c *Canned) check() error {
	c.Shortcut = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(c.Shortcut), "/")))
	c.Title = strings.TrimSpace(c.Title)
	if !shortcutRE.MatchString(c.Shortcut) {
		return tandem.Errorf(tandem.EINVALID, "shortcut: 1 to 32 letters, digits, - or _, starting with a letter or digit (what agents type after /).")
	}
	if utf8.RuneCountInString(c.Title) > maxCannedTitle || strings.ContainsRune(c.Title, 0) || !utf8.ValidString(c.Title) {
		return tandem.Errorf(tandem.EINVALID, "title: at most %d characters of text.", maxCannedTitle)
	}
	if strings.TrimSpace(c.Text) == "" {
		return tandem.Errorf(tandem.EINVALID, "text: required.")
	}
	if utf8.RuneCountInString(c.Text) > maxCannedText || strings.ContainsRune(c.Text, 0) || !utf8.ValidString(c.Text) {
		return tandem.Errorf(tandem.EINVALID, "text: at most %d characters of text.", maxCannedText)
	}
	return nil
}

// CannedList returns the workspace's canned responses, by shortcut.
func (s *Service) CannedList(ctx context.Context) ([]store.Canned, error) {
	return s.db.CannedList(ctx)
}

// CannedCreate adds a canned response; its shortcut must be free.
func (s *Service) CannedCreate(ctx context.Context, by Actor, c Canned) (*store.Canned, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	id := s.cfg.NewID()
	if err := s.db.CannedCreate(ctx, store.Canned{ID: id, Shortcut: c.Shortcut, Title: c.Title, Text: c.Text, CreatedBy: by.name()}, s.clock.Now()); err != nil {
		return nil, err
	}
	return s.db.CannedGet(ctx, id)
}

// CannedUpdate replaces a canned response's shortcut, title and text.
func (s *Service) CannedUpdate(ctx context.Context, id string, c Canned) (*store.Canned, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if err := s.db.CannedUpdate(ctx, store.Canned{ID: id, Shortcut: c.Shortcut, Title: c.Title, Text: c.Text}, s.clock.Now()); err != nil {
		return nil, err
	}
	return s.db.CannedGet(ctx, id)
}

// CannedDelete removes a canned response.
func (s *Service) CannedDelete(ctx context.Context, id string) error {
	return s.db.CannedDelete(ctx, id)
}
