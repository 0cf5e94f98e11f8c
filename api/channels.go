package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/workspace"
)

// setChannels indexes the configured channels by kind and id, building them from the
// workspace when the configuration gives none.
func (s *Server) setChannels() {
	chans := s.cfg.Channels
	if chans == nil {
		d := channel.Deps{Clock: s.cfg.Clock, Logger: s.log, MaxMedia: s.cfg.Workspace.Media.MaxBytes}
		if s.cfg.DB != nil {
			d.Media = s.cfg.DB
		}
		if s.cfg.Runner != nil {
			d.Inbox = s.cfg.Runner
		}
		var err error
		if chans, _, err = workspace.Channels(s.cfg.Workspace, d); err != nil {
			s.log.Error("channels cannot be built; their routes answer 404", "err", err)
		}
	}
	s.channels = map[string]map[string]channel.Channel{}
	for id, ch := range chans {
		k := ch.Kind()
		if s.channels[k] == nil {
			s.channels[k] = map[string]channel.Channel{}
		}
		s.channels[k][id] = ch
	}
}

// channelRoutes returns the routes of every channel kind of this build, mounted once each: a
// route whose pattern names {channel_id} serves the configured channel of that id and kind.
// GET /api/v1/channels lists the configured channels with their health.
func (s *Server) channelRoutes() []route {
	s.bodyLimits = map[string]int64{}
	out := []route{
		{"GET", "/api/v1/channels", s.channelList, manage},
		{"GET", MediaPath + "{id}", s.mediaGet, inboxed},
	}
	for _, kind := range channel.Kinds() {
		for _, cr := range channel.Routes(kind) {
			rt := route{method: cr.Method, pattern: cr.Pattern, access: channelAccess(cr.Auth), h: s.channelHandler(kind, cr)}
			if cr.MaxBody != 0 {
				s.bodyLimits[rt.method+" "+rt.pattern] = cr.MaxBody
			}
			out = append(out, rt)
		}
	}
	return out
}

// channelAccess is who may call a channel kind's route: its own caller check (a signature, a
// secret, a session), or the API's credentials (API tokens and admins).
func channelAccess(a channel.Auth) access {
	switch a {
	case channel.AuthAPI:
		return manage
	case channel.AuthSession:
		return widgetSession
	case channel.AuthPublic:
		return public
	}
	return hook
}

func (s *Server) channelHandler(kind string, cr channel.Route) handler {
	named := strings.Contains(cr.Pattern, "{channel_id}")
	return func(w http.ResponseWriter, r *http.Request) error {
		var ch channel.Channel
		if named || cr.ChannelQuery != "" {
			id := r.PathValue("channel_id")
			if !named {
				id = r.URL.Query().Get(cr.ChannelQuery)
			}
			var ok bool
			if ch, ok = s.channels[kind][id]; !ok && cr.Auth == channel.AuthSession {
				// No session can belong to a channel that does not exist.
				w.Header().Set("WWW-Authenticate", `Bearer realm="tandem-widget"`)
				return tandem.Errorf(tandem.EUNAUTHORIZED, "The session is unknown: channel %q is not a channel of kind %s in this workspace.", id, kind)
			} else if !ok {
				name := channel.Name(kind)
				return tandem.Errorf(tandem.ENOTFOUND, "Channel %q is not a%s %s channel of this workspace.", id, article(name), name)
			}
		}
		return cr.Handle(ch, w, r)
	}
}

// channelJSON is a configured channel as GET /api/v1/channels shows it.
type channelJSON struct {
	ID     string         `json:"id"`
	Kind   string         `json:"kind"`
	Health channel.Health `json:"health"`
	Caps   capsJSON       `json:"caps"`
}

// capsJSON is what a channel renders, with its window as a duration ("24h").
type capsJSON struct {
	tandem.Caps
	Window string `json:"window,omitempty"`
}

func toCapsJSON(c tandem.Caps) capsJSON {
	out := capsJSON{Caps: c}
	switch {
	case c.Window <= 0:
	case c.Window%time.Hour == 0:
		out.Window = strconv.Itoa(int(c.Window/time.Hour)) + "h" // "24h", not "1d": windows are counted in hours
	default:
		out.Window = tandem.FormatDuration(c.Window)
	}
	return out
}

// healthTimeout bounds one channel's health check.
const healthTimeout = 5 * time.Second

// channelList is GET /api/v1/channels: every configured channel with its health (checked now,
// in parallel, each within healthTimeout) and what it can render. A channel whose kind this
// build lacks is listed as unavailable.
func (s *Server) channelList(w http.ResponseWriter, r *http.Request) error {
	out := make([]channelJSON, len(s.cfg.Workspace.Channels))
	var wg sync.WaitGroup
	for i, c := range s.cfg.Workspace.Channels {
		out[i] = channelJSON{ID: c.ID, Kind: c.Kind, Caps: toCapsJSON(channel.DefaultCaps),
			Health: channel.Health{Status: channel.Unavailable, Detail: "Kind " + c.Kind + " is not available in this version of Tandem."}}
		ch, ok := s.channels[c.Kind][c.ID]
		if !ok {
			continue
		}
		out[i].Caps = toCapsJSON(ch.Caps())
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
			defer cancel()
			out[i].Health = ch.Health(ctx)
		}()
	}
	wg.Wait()
	return writeJSON(w, http.StatusOK, map[string]any{"channels": out})
}

// article is "n" before a vowel sound: "an API channel", "a WhatsApp channel".
func article(word string) string {
	if word != "" && strings.ContainsRune("AEIOUaeiou", rune(word[0])) {
		return "n"
	}
	return ""
}
