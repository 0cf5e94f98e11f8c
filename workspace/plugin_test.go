package workspace_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/config"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/workspace"
)

// fakeChat is a channel kind that only this file knows: it declares keys that no other kind
// has, and the configuration and the workspace take them without any other file changing.
type fakeChat struct{ cfg channel.Config }

func (f *fakeChat) Kind() string      { return "fakechat" }
func (f *fakeChat) Caps() tandem.Caps { return tandem.Caps{Buttons: 2} }
func (f *fakeChat) Health(context.Context) channel.Health {
	return channel.Health{Status: channel.Available}
}
func (f *fakeChat) Send(context.Context, tandem.Outbound) (tandem.SendResult, error) {
	return tandem.SendResult{}, nil
}

type fakeDesk struct {
	tandem.Desk
	cfg desk.Config
}

func init() {
	channel.Register("fakechat", channel.Kind{
		New: func(c channel.Config, d channel.Deps) (channel.Channel, error) { return &fakeChat{cfg: c}, nil },
		Keys: []channel.Key{{Name: "page_token", Required: true, Secret: true}, {Name: "greeting"},
			{Name: "base_url"}}, // a key other kinds have too
		Check: func(c channel.Config) []channel.KeyProblem {
			if g := c.Option("greeting"); len(g) > 20 {
				return []channel.KeyProblem{{Key: "greeting", Message: fmt.Sprintf("%d characters; fakechat shows at most 20", len(g))}}
			}
			return nil
		},
	})
	desk.Register("fakedesk", desk.Kind{
		New:  func(c desk.Config, d desk.Deps) (tandem.Desk, error) { return &fakeDesk{cfg: c}, nil },
		Keys: []desk.Key{{Name: "desk_key", Required: true, Secret: true}, {Name: "queue"}},
	})
}

func TestPluginKindDeclaresItsKeys(t *testing.T) {
	t.Parallel()
	env := map[string]string{"FAKE_TOKEN": "tok-8f3a9c1d2e"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	src := `
channels:
  - {id: fc, kind: fakechat, page_token: "${FAKE_TOKEN}", greeting: "Hi!", base_url: "https://fake.example"}
desks:
  - {id: fd, kind: fakedesk, desk_key: "dk-551", queue: vip}
`
	cfg, err := config.Parse("tandem.yaml", []byte(src), lookup)
	if err != nil {
		t.Fatalf("a config naming a plug-in kind with its own keys: %v", err)
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("warnings: %q", cfg.Warnings)
	}
	for _, printed := range []string{cfg.String(), fmt.Sprintf("%#v", cfg.Channels[0]), cfg.Desks[0].String()} {
		if strings.Contains(printed, "tok-8f3a9c1d2e") || strings.Contains(printed, "dk-551") {
			t.Errorf("a secret key of a plug-in kind is printed: %s", printed)
		}
	}
	secrets := cfg.SecretValues()
	if secrets["channels.fc.page_token"] != "tok-8f3a9c1d2e" || secrets["desks.fd.desk_key"] != "dk-551" {
		t.Errorf("SecretValues() = %v; want the keys the kinds declare secret (masked in logs)", secrets)
	}

	built, unavailable, err := workspace.Channels(cfg, channel.Deps{})
	if err != nil || len(unavailable) > 0 {
		t.Fatalf("Channels: %v, unavailable %v", err, unavailable)
	}
	fc := built["fc"].(*fakeChat).cfg
	if fc.Option("page_token") != "tok-8f3a9c1d2e" || fc.Option("greeting") != "Hi!" || fc.BaseURL != "https://fake.example" {
		t.Errorf("the channel was built with %v (base_url %q); want its keys in Options", fc.Options, fc.BaseURL)
	}
	desks, err := workspace.Desks(cfg, desk.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if fd := desks["fd"].(*fakeDesk).cfg; fd.String("desk_key") != "dk-551" || fd.String("queue") != "vip" {
		t.Errorf("the desk was built with %v; want its keys in Options", fd.Options)
	}

	// What is wrong is named as for a built-in kind.
	for _, tc := range []struct{ src, want string }{
		{`channels: [{id: fc, kind: fakechat}]`, `tandem.yaml:1: channels[0].page_token: required by kind fakechat`},
		{`channels: [{id: fc, kind: fakechat, page_tokn: x}]`, `tandem.yaml:1: channels[0].page_tokn: unknown key; did you mean page_token?`},
		{`channels: [{id: fc, kind: fakechat, page_token: x, greeting: "Welcome to our shop, friend"}]`, `tandem.yaml:1: channels[0].greeting: 27 characters; fakechat shows at most 20`},
		{`channels: [{id: wa, kind: whatsapp, phone_number_id: "1", access_token: a, app_secret: b, verify_token: c, page_token: x}]`,
			`tandem.yaml:1: channels[0].page_token: unknown key; known keys are`},
		{`desks: [{id: fd, kind: fakedesk, queue: [a, b], desk_key: k}]`, `tandem.yaml:1: desks[0].queue: unknown key`},
		{`desks: [{id: fd, kind: fakedesk}]`, `tandem.yaml:1: desks[0].desk_key: required by kind fakedesk`},
	} {
		_, err := config.Parse("tandem.yaml", []byte(tc.src), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.src, err, tc.want)
		}
	}
}
