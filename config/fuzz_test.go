package config_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/tandemchat/tandem/config"
)

// FuzzParse checks that Parse never panics, and that what it accepts validates, prints and
// marshals.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"", "{}", "- a", "providers: [{id: a, kind: openai, api_key: \"${X:-y}\"}]",
		"x-a: &a {kind: local}\nproviders: [{<<: *a, id: l}]",
		"handoff: {wait_timeout: 1e308}", "desks: [{id: c, kind: chatwoot, account_id: 99999999999999999999}]",
		"schedules: [{id: s, weekly: [{days: [mon], from: \"22:00\", to: \"02:00\"}]}]",
		"secrets: {A: \"${\"}", "a: &x [*x]",
	} {
		f.Add([]byte(s))
	}
	env := func(name string) (string, bool) {
		if name == "X" {
			return "set", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := config.Parse("fuzz.yaml", src, env)
		if err != nil {
			if c != nil {
				t.Fatal("config and error both returned")
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate refuses: %v", err)
		}
		if _, err := c.BuildSchedules(); err != nil {
			t.Fatalf("BuildSchedules: %v", err)
		}
		_ = fmt.Sprint(c)
		if _, err := json.Marshal(c); err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		_ = c.FlowEnv()
		_ = c.SecretValues()
	})
}
