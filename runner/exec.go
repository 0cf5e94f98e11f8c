package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/engine"
	"github.com/tandemchat/tandem/internal/safehttp"
	"github.com/tandemchat/tandem/store"
)

// maxResponse caps the body of an http effect's response.
const maxResponse = 4 << 20

// execute carries out one claimed effect and records its outcome.
func (r *Runner) execute(ctx context.Context, it *store.OutboxItem) {
	start := time.Now()
	e := &it.Effect
	var res *tandem.EffectResult
	var err error
	if crashed := r.safely("carrying out the "+e.Kind+" effect "+e.ID+" of conversation "+it.ConversationID, func() error {
		res, err = r.perform(ctx, it, start)
		return nil
	}); crashed != nil {
		// A bug: retrying would crash again. The effect fails for good; a step that awaits it
		// takes its failure branch.
		res, err = nil, tandem.Permanent(fmt.Errorf("an internal error (a bug in Tandem) stopped the %s call; the server log has the details", e.Kind))
	}
	r.complete(ctx, it, res, err, start)
}

// perform carries out one effect.
func (r *Runner) perform(ctx context.Context, it *store.OutboxItem, start time.Time) (res *tandem.EffectResult, err error) {
	e := &it.Effect
	if it.Unreadable != nil {
		return nil, tandem.Permanent(it.Unreadable)
	}
	switch e.Kind {
	case tandem.EffectSend:
		res, err = r.execSend(ctx, it)
	case tandem.EffectHTTP:
		// The call may have been made already, before its turn's write (early.go).
		res = &tandem.EffectResult{EffectID: e.ID, Kind: e.Kind, HTTP: r.maskResult(r.httpAttempts(ctx, e.HTTP, r.earlyCalls.take(e.ID)))}
	case tandem.EffectAI:
		ai := r.doAI(ctx, it.ConversationID, e.AI)
		res = &tandem.EffectResult{EffectID: e.ID, Kind: e.Kind, AI: ai}
		if e.AI.Op != engine.AISearch {
			r.obs.AICall(firstNonEmpty(ai.Provider, e.AI.Provider), aiErrorKind(ai), time.Since(start), ai.Usage)
		}
	case tandem.EffectDesk:
		res, err = r.execDesk(ctx, it)
	case tandem.EffectMedia:
		res, err = r.execMedia(ctx, it)
	default:
		err = tandem.Permanent(fmt.Errorf("unknown effect kind %q", e.Kind))
	}
	return res, err
}

// maskResult hides the workspace's secrets in a call's answer (a server that echoes them back,
// in an error or a header): the answer is stored as the conversation's event until its turn, and
// the flow would see them masked anyway.
func (r *Runner) maskResult(res *tandem.HTTPResult) *tandem.HTTPResult {
	if res == nil || len(r.env.Secrets) == 0 {
		return res
	}
	mask := engine.MaskSecrets(r.env.Secrets)
	res.Body, res.Error = mask(res.Body), mask(res.Error)
	for k, v := range res.Header {
		res.Header[k] = mask(v)
	}
	return res
}

// complete records an effect's outcome: done (with its result), retried later, or failed.
func (r *Runner) complete(ctx context.Context, it *store.OutboxItem, res *tandem.EffectResult, err error, start time.Time) {
	e := &it.Effect
	now := r.cfg.Clock.Now()
	var queued bool
	var next *store.OutboxItem
	switch {
	case err == nil && r.running() && r.db.OutboxDoneLater(it, res):
		// A send that succeeded: its completion is written with the conversation's next
		// write, or with others by flushSoon.
		r.obs.Effect(e.Kind, true, time.Since(start))
		r.flushSoon()
		return
	case err == nil:
		var c store.Claim
		if r.running() {
			c = r.claim(now) // and claim the lane's next effect, carried out next
		}
		var t *directTurn
		if e.Await && res != nil {
			// The result's turn is committed with the effect's completion.
			t = r.direct(ctx, &tandem.Event{ConversationID: it.ConversationID, Kind: tandem.EventResult, At: now, Result: res})
			defer r.unhold(t)
		}
		queued, next, err = r.db.OutboxComplete(ctx, it, res, now, c, t.store())
		r.obs.Effect(e.Kind, true, time.Since(start))
		if err == nil {
			r.done(it.ConversationID, t)
		}
	case tandem.IsPermanent(err) || now.Sub(it.CreatedAt) > r.cfg.SendMaxAge:
		r.log.Warn("effect failed for good", "conversation", it.ConversationID, "effect", e.ID, "kind", e.Kind, "err", err)
		if res == nil {
			res = &tandem.EffectResult{EffectID: e.ID, Kind: e.Kind, Error: err.Error()}
		}
		if e.Kind == tandem.EffectSend {
			res.Send = &tandem.SendResult{MessageID: e.ID, Failed: true, Error: err.Error()}
		}
		queued, err = r.db.OutboxFail(ctx, it, res, err.Error(), tandem.MessageErrorOf(err), now)
		r.obs.Effect(e.Kind, false, time.Since(start))
	default:
		next := now.Add(backoff(time.Second, it.Attempts+1, 0, 5*time.Minute))
		if d, ok := tandem.RetryDelay(err); ok && now.Add(d).After(next) {
			next = now.Add(d) // the platform said when (429 with Retry-After)
		}
		r.log.Info("effect failed; it will be retried", "conversation", it.ConversationID, "effect", e.ID, "kind", e.Kind, "attempt", it.Attempts+1, "at", next, "err", err)
		err = r.db.OutboxRetry(ctx, it, next, err.Error())
		r.obs.Effect(e.Kind, false, time.Since(start))
	}
	if err != nil {
		r.log.Error("effect outcome not recorded; it will be carried out again", "conversation", it.ConversationID, "effect", e.ID, "err", err)
		r.handBack(it, err)
		return
	}
	if queued {
		r.Kick(it.ConversationID)
	}
	if next != nil {
		r.dispatch([]store.OutboxItem{*next})
	}
}

// handBack gives up this runner's claim of an effect whose outcome could not be recorded (the
// database failed for a moment), so that it is carried out again after a backoff: the heartbeat
// renews every claim this runner holds, and would otherwise keep the effect, and every later one
// of its conversation's lane, waiting until the process ends. While the database still fails, it
// tries again every heartbeat until it answers or the runner stops.
func (r *Runner) handBack(it *store.OutboxItem, cause error) {
	if r.ctx.Err() != nil {
		return // the runner stops: Stop releases its claims, for another process to take at once
	}
	retry := func() bool {
		now := r.cfg.Clock.Now()
		ctx, cancel := context.WithTimeout(context.Background(), r.cfg.ClaimLease)
		defer cancel()
		err := r.db.OutboxRetry(ctx, it, now.Add(backoff(time.Second, it.Attempts+1, 0, 5*time.Minute)), "its outcome could not be recorded: "+cause.Error())
		return err == nil
	}
	if retry() {
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(r.cfg.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-r.stopC:
				return // Stop releases every claim this runner still holds
			case <-t.C:
				if retry() {
					return
				}
			}
		}
	}()
}

// execSend delivers a message through the conversation's channel.
func (r *Runner) execSend(ctx context.Context, it *store.OutboxItem) (*tandem.EffectResult, error) {
	conv, contact := it.Snapshot() // as the turn that sends it committed them
	if conv == nil || contact == nil {
		var err error
		if conv, contact, err = r.db.ConversationContact(ctx, it.ConversationID); err != nil {
			return nil, err
		}
	}
	if r.cfg.Channel == nil {
		return nil, tandem.Permanent(fmt.Errorf("channel %q is not configured", conv.ChannelID))
	}
	ch, ok := r.cfg.Channel(conv.ChannelID)
	if !ok {
		return nil, tandem.Permanent(fmt.Errorf("channel %q is not configured", conv.ChannelID))
	}
	now := r.cfg.Clock.Now()
	if !contact.StoppedAt.IsZero() {
		return nil, tandem.Permanent(fmt.Errorf("the customer blocked this business on channel %s (%s); nothing is sent to them until they write again",
			conv.ChannelID, contact.StoppedAt.Format(time.RFC3339)))
	}
	out := tandem.Outbound{Conversation: conv, Contact: contact, Message: it.Effect.Send, IdempotencyKey: it.Effect.ID}
	if window := ch.Caps().Window; window > 0 {
		last, err := r.db.LastInbound(ctx, contact.ID)
		if err != nil {
			return nil, err
		}
		out.LastInboundAt = last
		if last.IsZero() || now.Sub(last) >= window {
			if out.Message.Template == nil {
				since := "they never wrote"
				if !last.IsZero() {
					since = "their last message was at " + last.Format(time.RFC3339)
				}
				return nil, tandem.Permanent(fmt.Errorf("the customer's %s window on channel %s is closed (%s): only a template can reach them; give the message step a template",
					windowText(window), conv.ChannelID, since))
			}
			out.UseTemplate = true
			if out.Message.Continues {
				// The template replaced the whole message with its first part.
				return &tandem.EffectResult{EffectID: it.Effect.ID, Kind: tandem.EffectSend, Send: &tandem.SendResult{MessageID: it.Effect.ID}}, nil
			}
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sent, err := ch.Send(cctx, out)
	if tandem.IsContactStopped(err) {
		if serr := r.db.ContactStopID(ctx, contact.ID, true, now); serr != nil {
			r.log.Warn("the contact could not be marked as blocking the business", "contact", contact.ID, "err", serr)
		}
	}
	if err != nil {
		return nil, err
	}
	sent.MessageID = it.Effect.ID
	return &tandem.EffectResult{EffectID: it.Effect.ID, Kind: tandem.EffectSend, Send: &sent}, nil
}

// windowText words a channel's window: "24-hour".
func windowText(d time.Duration) string {
	if d%time.Hour == 0 {
		return strconv.Itoa(int(d/time.Hour)) + "-hour"
	}
	return tandem.FormatDuration(d)
}

// execDesk calls a human desk.
func (r *Runner) execDesk(ctx context.Context, it *store.OutboxItem) (*tandem.EffectResult, error) {
	d := it.Effect.Desk
	res := &tandem.EffectResult{EffectID: it.Effect.ID, Kind: tandem.EffectDesk, Desk: &tandem.DeskResult{Session: d.Session}}
	var desk tandem.Desk
	ok := false
	if r.cfg.Desk != nil {
		desk, ok = r.cfg.Desk(d.Desk)
	}
	if !ok {
		res.Desk.Error = fmt.Sprintf("desk %q is not configured", d.Desk)
		return res, nil
	}
	limit := 30 * time.Second
	if d.Op == "start" {
		limit = 2 * time.Minute // a desk may retry its establish call inside Start
	}
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var err error
	switch d.Op {
	case "health":
		err = desk.Health(cctx)
	case "start":
		conv, cerr := r.db.ConversationGet(ctx, it.ConversationID)
		if cerr != nil {
			return nil, cerr
		}
		if d.Rounds > 0 && d.Transcript == nil {
			question := ""
			if d.Message != nil {
				question = d.Message.ID
			}
			if d.Transcript, cerr = r.transcript(ctx, it.ConversationID, question, d.Rounds); cerr != nil {
				return nil, cerr
			}
		}
		var session string
		session, err = desk.Start(cctx, tandem.DeskStart{Session: d.Session, Conversation: &conv.Conversation, Contact: d.Contact, Team: d.Team, Transcript: d.Transcript,
			Flow: d.Flow, Reason: d.Reason, Summary: d.Summary})
		res.Desk.Session = session
	case "send":
		err = desk.Send(cctx, d.Session, d.Message)
	case "close":
		err = desk.Close(cctx, d.Session, d.Reason)
	default:
		return nil, tandem.Permanent(fmt.Errorf("unknown desk operation %q", d.Op))
	}
	if err != nil {
		if it.Effect.Await || tandem.IsPermanent(err) {
			res.Desk.Error = err.Error()
			return res, nil
		}
		return nil, err
	}
	return res, nil
}

// doHTTP makes an http effect's call with its retry policy. Every outcome is a result: a non-2xx
// status or a network error is for the flow to branch on.
func (r *Runner) doHTTP(ctx context.Context, req *tandem.HTTPRequest) *tandem.HTTPResult {
	return r.httpAttempts(ctx, req, nil)
}

// httpAttempts makes req's attempts; the first is early's, when the call was made early (it
// may still be in flight).
func (r *Runner) httpAttempts(ctx context.Context, req *tandem.HTTPRequest, early *earlyCall) *tandem.HTTPResult {
	start := r.cfg.Clock.Now()
	if early != nil {
		start = early.start
	}
	attempts := max(1, req.Retry.Attempts)
	for i := 1; ; i++ {
		var res *tandem.HTTPResult
		var retryAfter time.Duration
		if i == 1 && early != nil {
			<-early.done // bounded by the call's timeout, and by the runner's end
			res, retryAfter = early.res, early.retryAfter
		} else {
			res, retryAfter = r.httpOnce(ctx, req)
		}
		res.Attempts = i
		if res.OK() || i >= attempts || !retryable(req.Retry.On, res) || ctx.Err() != nil {
			res.DurationMS = r.cfg.Clock.Now().Sub(start).Milliseconds()
			return res
		}
		if err := r.cfg.Sleep(ctx, backoff(req.Retry.Backoff, i, retryAfter, time.Minute)); err != nil {
			res.DurationMS = r.cfg.Clock.Now().Sub(start).Milliseconds()
			return res
		}
	}
}

func (r *Runner) httpOnce(ctx context.Context, req *tandem.HTTPRequest) (*tandem.HTTPResult, time.Duration) {
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if req.Body != "" {
		body = strings.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(cctx, req.Method, req.URL, body)
	if err != nil {
		return &tandem.HTTPResult{Error: fmt.Sprintf("the request cannot be built: %v", err), ErrorKind: "network"}, 0
	}
	for k, v := range req.Header {
		hr.Header.Set(k, v)
	}
	if hr.Header.Get("User-Agent") == "" {
		hr.Header.Set("User-Agent", "Tandem")
	}
	resp, err := r.cfg.HTTP.Do(hr)
	if err != nil {
		return &tandem.HTTPResult{Error: httpError(err, timeout), ErrorKind: errorKind(err)}, 0
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	res := &tandem.HTTPResult{Status: resp.StatusCode, Header: map[string]string{}}
	for k, v := range resp.Header {
		if len(v) > 0 {
			res.Header[k] = v[0]
		}
	}
	switch {
	case err != nil:
		res.Error, res.ErrorKind = httpError(err, timeout), errorKind(err)
	case len(b) > maxResponse:
		res.Error, res.ErrorKind = fmt.Sprintf("the response is larger than %d MB", maxResponse>>20), "status"
	}
	res.Body = string(b[:min(len(b), maxResponse)])
	return res, safehttp.RetryAfter(resp.Header, r.cfg.Clock.Now())
}

func errorKind(err error) string {
	var ne net.Error
	switch {
	case safehttp.IsBlocked(err):
		return "blocked"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "network"
}

func httpError(err error, timeout time.Duration) string {
	switch errorKind(err) {
	case "timeout":
		return fmt.Sprintf("no answer within %s (timeout)", tandem.FormatDuration(timeout))
	case "blocked":
		return blockedText(err)
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		err = ue.Unwrap()
	}
	return "network error: " + err.Error()
}

// blockedText says that the guard refused an address, and names the configuration keys that
// allow it.
func blockedText(err error) string {
	addr := "an address"
	allow := `"10.0.0.5"`
	var be *safehttp.BlockedError
	if errors.As(err, &be) {
		addr, allow = be.Addr.String()+", a "+be.What+" address", strconv.Quote(be.Addr.String())
	}
	return fmt.Sprintf("the URL resolves to %s that http steps may not reach; if the service is yours, allow it in tandem.yaml with http.allow: [%s] (or http.allow_private: true)", addr, allow)
}

// retryable reports whether a failed call matches one of the retry conditions.
func retryable(on []string, res *tandem.HTTPResult) bool {
	for _, c := range on {
		switch c {
		case "network":
			if res.ErrorKind == "network" || res.ErrorKind == "timeout" {
				return true
			}
		case "timeout":
			if res.ErrorKind == "timeout" {
				return true
			}
		case "5xx":
			if res.Status >= 500 && res.Status <= 599 {
				return true
			}
		case "4xx":
			if res.Status >= 400 && res.Status <= 499 {
				return true
			}
		default:
			if n, err := strconv.Atoi(c); err == nil && n == res.Status {
				return true
			}
		}
	}
	return false
}

// backoff returns the delay before attempt n+1: base doubled per attempt with ±20 % jitter,
// at most limit, or the server's Retry-After when it asked for longer.
func backoff(base time.Duration, n int, retryAfter, limit time.Duration) time.Duration {
	if base <= 0 {
		base = time.Second
	}
	d := float64(base) * math.Pow(2, float64(n-1))
	d *= 0.8 + 0.4*rand.Float64()
	if d > float64(limit) {
		d = float64(limit)
	}
	if retryAfter > time.Duration(d) {
		return min(retryAfter, 5*time.Minute)
	}
	return time.Duration(d)
}

// doAI calls an AI provider with the step's retry policy and its fallback, after filling in the
// conversation's history; a knowledge search goes to the knowledge bases.
func (r *Runner) doAI(ctx context.Context, conversationID string, req *tandem.AIRequest) *tandem.AIResult {
	start := r.cfg.Clock.Now()
	if req.Op == engine.AISearch {
		return r.search(ctx, req)
	}
	if req.Op == tandem.AISummarize {
		return r.summarize(ctx, conversationID, req)
	}
	if req.History == 0 && req.Op == tandem.AIAssist && r.cfg.Provider != nil {
		if p, ok := r.cfg.Provider(req.Provider); ok {
			if hw, ok := p.(tandem.HistoryWanter); ok {
				req.History = hw.HistoryTurns()
			}
		}
	}
	if req.History > 0 {
		hist, err := r.db.MessagesBefore(ctx, conversationID, req.HistoryBefore, 2*req.History)
		if err != nil {
			return &tandem.AIResult{Provider: req.Provider, Error: "the conversation's history cannot be read: " + err.Error()}
		}
		msgs := make([]tandem.ChatMessage, 0, len(hist)+len(req.Messages))
		for _, m := range hist {
			if cm, ok := chatMessage(&m); ok {
				msgs = append(msgs, cm)
			}
		}
		req.Messages = append(msgs, req.Messages...)
	}
	var calls []tandem.AICall
	res := r.aiAttempts(ctx, req, max(1, req.Retry.Attempts), &calls)
	if res.Error != "" && req.Fallback != nil && req.Fallback.Provider != "" {
		fb := *req
		fb.Provider, fb.Model = req.Fallback.Provider, req.Fallback.Model
		fb.Memory = ""
		if fres := r.aiAttempts(ctx, &fb, 1, &calls); fres.Error == "" {
			fres.Attempts += res.Attempts
			res = fres
		}
	}
	res.DurationMS = r.cfg.Clock.Now().Sub(start).Milliseconds()
	res.Calls = calls
	return res
}

// summarize writes a handoff's summary: the transcript the desk gets (req.History rounds and
// the question req.HistoryBefore) as one message after the instructions. A failure is logged
// and returned in the result: the handoff goes on without a summary.
func (r *Runner) summarize(ctx context.Context, conversationID string, req *tandem.AIRequest) *tandem.AIResult {
	start := r.cfg.Clock.Now()
	var res *tandem.AIResult
	var calls []tandem.AICall
	ms, err := r.transcript(ctx, conversationID, req.HistoryBefore, max(1, req.History))
	text := desk.Transcript(ms, desk.Labels)
	switch {
	case err != nil:
		res = &tandem.AIResult{Provider: req.Provider, Error: "the conversation's transcript cannot be read: " + err.Error()}
	case text == "":
		res = &tandem.AIResult{Provider: req.Provider, Error: "the conversation has no messages to summarize"}
	default:
		call := *req
		call.History, call.HistoryBefore, call.Memory = 0, "", ""
		call.Input = text
		call.Messages = []tandem.ChatMessage{{Role: "user", Content: text}}
		res = r.aiAttempts(ctx, &call, 1, &calls)
	}
	res.DurationMS = r.cfg.Clock.Now().Sub(start).Milliseconds()
	res.Calls = calls
	res.Memory = "" // a summary is no turn of the conversation
	if res.Error != "" {
		r.log.Warn("the handoff's summary could not be made; the desk gets the conversation without one", "conversation", conversationID,
			"step", req.Step, "provider", req.Provider, "err", res.Error)
	}
	return res
}

// aiAttempts calls a provider up to attempts times, appending each call made to calls.
func (r *Runner) aiAttempts(ctx context.Context, req *tandem.AIRequest, attempts int, calls *[]tandem.AICall) *tandem.AIResult {
	var p tandem.Provider
	ok := false
	if r.cfg.Provider != nil {
		p, ok = r.cfg.Provider(req.Provider)
	}
	if !ok {
		*calls = append(*calls, tandem.AICall{Provider: req.Provider, Model: req.Model, StartedAt: r.cfg.Clock.Now(), Error: true})
		return &tandem.AIResult{Provider: req.Provider, Error: fmt.Sprintf("AI provider %q is not configured", req.Provider), Attempts: 1}
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = 120 * time.Second
	}
	for i := 1; ; i++ {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		began := r.cfg.Clock.Now()
		res, err := p.Call(cctx, req)
		cancel()
		call := tandem.AICall{Provider: req.Provider, Model: req.Model, StartedAt: began, DurationMS: r.cfg.Clock.Now().Sub(began).Milliseconds()}
		if err == nil {
			res.Attempts = i
			if res.Provider == "" {
				res.Provider = req.Provider
			}
			call.Model, call.Usage = firstNonEmpty(res.Model, req.Model), res.Usage
			call.Error, call.Status = res.Error != "", res.Status
			*calls = append(*calls, call)
			return res
		}
		call.Error = true
		var ae *tandem.AIError
		status, wait, temporary := 0, time.Duration(0), errors.Is(err, context.DeadlineExceeded)
		if errors.As(err, &ae) {
			// The adapter knows whether its failure is worth another try (a 429 without
			// quota left is not).
			status, wait = ae.Status, ae.RetryAfter
			temporary = temporary || ae.Temporary
		}
		call.Status = status
		*calls = append(*calls, call)
		msg := err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			msg = fmt.Sprintf("AI provider %q did not answer within %s (timeout)", req.Provider, tandem.FormatDuration(timeout))
		}
		if i >= attempts || !temporary || ctx.Err() != nil {
			return &tandem.AIResult{Provider: req.Provider, Error: msg, Status: status, Attempts: i}
		}
		if r.cfg.Sleep(ctx, backoff(req.Retry.Backoff, i, wait, time.Minute)) != nil {
			return &tandem.AIResult{Provider: req.Provider, Error: msg, Status: status, Attempts: i}
		}
	}
}

// chatMessage turns a conversation message into a model message.
func chatMessage(m *tandem.Message) (tandem.ChatMessage, bool) {
	role := "assistant"
	if m.Direction == tandem.DirectionIn {
		role = "user"
	}
	text := m.Text
	if m.Media != nil {
		text = strings.TrimSpace(fmt.Sprintf("%s [%s: %s]", text, m.Type, m.Media.URL))
	}
	if m.Location != nil {
		text = strings.TrimSpace(fmt.Sprintf("%s [location: %g,%g]", text, m.Location.Lat, m.Location.Lng))
	}
	if text == "" {
		return tandem.ChatMessage{}, false
	}
	return tandem.ChatMessage{Role: role, Content: text}, true
}

// search looks a query up in a knowledge base for an agent's search tool.
func (r *Runner) search(ctx context.Context, req *tandem.AIRequest) *tandem.AIResult {
	res := &tandem.AIResult{Provider: req.Provider, Model: engine.AISearch, Attempts: 1}
	if r.cfg.Knowledge == nil {
		res.Error = fmt.Sprintf("knowledge base %q is not configured", req.Knowledge)
		return res
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ps, err := r.cfg.Knowledge.Search(cctx, req.Knowledge, req.Input, 3)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	var b strings.Builder
	for i, p := range ps {
		fmt.Fprintf(&b, "[%d] (source: %s)\n%s\n\n", i+1, p.Source, p.Text)
		res.Citations = append(res.Citations, tandem.Citation{Source: p.Source, Text: p.Text, Score: p.Score})
	}
	if len(ps) == 0 {
		b.WriteString("Nothing in the knowledge base matches.")
	}
	res.Text = strings.TrimSpace(b.String())
	return res
}

// transcript is what a desk gets when a conversation is handed over: the last rounds of the
// conversation and the customer's latest question (a round is a customer message and the
// answers to it). question is that message's id ("" for the latest customer message).
func (r *Runner) transcript(ctx context.Context, conversationID, question string, rounds int) ([]tandem.Message, error) {
	msgs, err := r.db.MessagesBefore(ctx, conversationID, question, 4*rounds+20)
	if err != nil {
		return nil, err
	}
	if question != "" {
		if m, err := r.db.MessageGet(ctx, conversationID, question); err == nil {
			msgs = append(msgs, *m)
		}
	}
	last := -1
	for i := range msgs {
		if msgs[i].Direction == tandem.DirectionIn {
			last = i
		}
	}
	msgs = msgs[:last+1]
	// Count rounds back from the end: each customer message after a bot message starts one.
	start, n := len(msgs), 0
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Direction == tandem.DirectionIn && (i == 0 || msgs[i-1].Direction != tandem.DirectionIn) {
			n++
			if n > rounds+1 {
				break
			}
		}
		start = i
	}
	return msgs[start:], nil
}

// aiErrorKind classifies an AI call's outcome for metrics.
func aiErrorKind(res *tandem.AIResult) string {
	switch {
	case res.Error == "":
		return "ok"
	case res.Status == 429:
		return "rate_limited"
	case res.Status == 401 || res.Status == 403:
		return "auth"
	case res.Status >= 500:
		return "server_error"
	case strings.Contains(res.Error, "timeout"):
		return "timeout"
	}
	return "error"
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// execMedia downloads again a file a customer sent whose download failed when its message
// arrived, and stores it in the message. It gives up after channel.MediaTries downloads in all
// or once the platform no longer keeps the file (MediaFetch.Until), and then the message's
// Media.Error says why.
func (r *Runner) execMedia(ctx context.Context, it *store.OutboxItem) (*tandem.EffectResult, error) {
	f := it.Effect.Media
	if f == nil {
		return nil, tandem.Permanent(errors.New("the media download names no file"))
	}
	md := f.Media
	md.Error, md.Fetch = "", nil
	tries := it.Attempts + 2 // the download when the message arrived, then the outbox's
	var err error
	if ch, ok := r.cfg.Channel(f.ChannelID); !ok {
		err = tandem.Permanent(fmt.Errorf("channel %s is no longer configured", f.ChannelID))
	} else if fetcher, ok := ch.(channel.MediaFetcher); !ok {
		err = tandem.Permanent(fmt.Errorf("channel %s cannot download files", f.ChannelID))
	} else {
		err = fetcher.FetchMedia(ctx, f, &md)
	}
	now := r.cfg.Clock.Now()
	switch {
	case err == nil:
	case tandem.IsPermanent(err):
		md.ID, md.URL, md.Size = "", "", 0
		md.Error = err.Error()
	case tries >= channel.MediaTries || !now.Before(f.Until):
		md.ID, md.URL, md.Size = "", "", 0
		md.Error = fmt.Sprintf("given up after %d downloads: %s", tries, err.Error())
		err = tandem.Permanent(err)
	default:
		// The message still says that Tandem tries again: after 2, 4, 8, 16 minutes, so that
		// a platform's outage of half an hour is outlasted.
		return nil, tandem.RetryAfter(err, 2*time.Minute<<it.Attempts)
	}
	if serr := r.db.MessageMedia(ctx, it.ConversationID, f.MessageID, &md); serr != nil {
		if tandem.ErrorCode(serr) == tandem.ENOTFOUND {
			return nil, tandem.Permanent(fmt.Errorf("the message of the file is gone: %w", serr))
		}
		return nil, serr
	}
	if r.cfg.Notify != nil {
		r.cfg.Notify(it.ConversationID)
	}
	if err != nil {
		return nil, err
	}
	return &tandem.EffectResult{EffectID: it.Effect.ID, Kind: it.Effect.Kind}, nil
}
