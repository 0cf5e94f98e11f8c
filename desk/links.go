package desk

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/safehttp"
)

// Log returns the logger, or one that discards.
func (d Deps) Log() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// Now returns the clock's time, or the wall clock's.
func (d Deps) Now() func() time.Time {
	if d.Clock == nil {
		return time.Now
	}
	return d.Clock.Now
}

// Caller returns what a desk makes its service's API calls with: the configured timeout per
// attempt (def without one), retries honouring Retry-After, Deps' clock and sleep, errors that
// name the desk and never show the credentials listed in redact. Without Deps.HTTP, the client
// may reach private addresses: desks are the operator's own services, named in tandem.yaml.
func (d Deps) Caller(c Config, def time.Duration, redact ...string) safehttp.Caller {
	client := d.HTTP
	if client == nil {
		client = safehttp.NewClient(safehttp.Options{AllowPrivate: true, Timeout: time.Minute})
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = def
	}
	return safehttp.Caller{Client: client, Service: fmt.Sprintf("%s desk %q", c.Kind, c.ID), Timeout: timeout, Now: d.Now(), Sleep: d.Sleep, Redact: redact}
}

// Permanent marks an error of a desk call that trying later will not fix (a 4xx other than
// 429); a timeout, a network error, a 429 or a 5xx after its retries stays retryable.
func Permanent(err error) error {
	if err == nil || safehttp.Temporary(err) {
		return err
	}
	return tandem.Permanent(err)
}

// Link returns the link of a handoff the desk started; one it never started (its start failed)
// is a Permanent error naming what the desk has instead (service: "Intercom conversation").
func Link(ctx context.Context, st Store, desk, session, service string) (*tandem.DeskLink, error) {
	l, err := st.DeskLinkGet(ctx, desk, session)
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		return nil, tandem.Permanent(fmt.Errorf("desk %q: handoff %s has no %s (its start did not succeed)", desk, session, service))
	}
	return l, err
}

// LinkData is Link with the desk's bookkeeping of the handoff (the link's Data) decoded into a
// T; bookkeeping that does not decode (none yet) leaves T's zero value.
func LinkData[T any](ctx context.Context, st Store, desk, session, service string) (*tandem.DeskLink, T, error) {
	var data T
	l, err := Link(ctx, st, desk, session, service)
	if err != nil {
		return nil, data, err
	}
	json.Unmarshal(l.Data, &data)
	return l, data, nil
}

// CloseLink records that a handoff is over for its desk: a poll no longer reads it. A failure
// is logged.
func CloseLink(ctx context.Context, st Store, l *tandem.DeskLink, now time.Time, log *slog.Logger) {
	if !l.Open {
		return
	}
	l.Open, l.UpdatedAt = false, now
	if err := st.DeskLinkPut(ctx, *l); err != nil {
		log.Warn("desk: a closed handoff could not be recorded", "desk", l.Desk, "err", err)
	}
}

// Ended closes a handoff that a call found over on the desk's side (its conversation deleted,
// its chat inactive) as the desk's close, even if the desk's webhook never comes.
func Ended(ctx context.Context, sink Sink, st Store, l *tandem.DeskLink, now time.Time, log *slog.Logger) {
	if sink != nil {
		if _, err := sink.DeskDeliver(ctx, Delivery{Desk: l.Desk, Session: l.Session, Close: true, Events: AgentClose("", now)}); err != nil {
			log.Warn("desk: the end of a handoff on the desk's side could not be stored", "desk", l.Desk, "err", err)
			return
		}
	}
	CloseLink(ctx, st, l, now, log)
}

// NotFound reports a call answered 404.
func NotFound(err error) bool { return safehttp.Status(err) == http.StatusNotFound }

// Begin checks what a desk's Start needs (a conversation, a contact, the engine's session) and
// reports whether the handoff was started before (a re-run of the same start after a crash):
// then Start returns the session without calling the desk's service again.
func Begin(ctx context.Context, st Store, desk string, s tandem.DeskStart) (started bool, err error) {
	if s.Conversation == nil || s.Contact == nil || s.Session == "" {
		return false, tandem.Permanent(fmt.Errorf("desk %q: a handoff needs a conversation, a contact and a session", desk))
	}
	l, err := st.DeskLinkGet(ctx, desk, s.Session)
	switch {
	case err == nil:
		return l.Ref != "", nil
	case tandem.ErrorCode(err) == tandem.ENOTFOUND:
		return false, nil
	}
	return false, err
}
