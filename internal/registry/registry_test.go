package registry

import (
	"slices"
	"testing"
)

func TestRegistry(t *testing.T) {
	r := New[func() string]("desk")
	r.Register("webhook", func() string { return "w" })
	r.Register("inbox", func() string { return "i" })
	if got := r.Kinds(); !slices.Equal(got, []string{"inbox", "webhook"}) {
		t.Errorf("Kinds() = %q, want them sorted", got)
	}
	fn, err := r.Get("support", "webhook")
	if err != nil || fn() != "w" {
		t.Fatalf("Get(webhook): %v", err)
	}
	if _, err := r.Get("hd", "zendesk"); err == nil || err.Error() != `desk "hd": kind "zendesk" is not available in this build` {
		t.Errorf("an unknown kind: %v", err)
	}
}
