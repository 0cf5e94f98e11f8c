package config

import (
	"reflect"
	"testing"
)

// The provider kind table names only keys that exist on Provider. (Channel and desk kinds
// declare their keys where they are registered; docs_test checks that each is documented.)
func TestKindTables(t *testing.T) {
	t.Parallel()
	fields := yamlFields(reflect.TypeFor[Provider]())
	if len(providerKinds) != len(providerSpecs) {
		t.Errorf("%d provider kinds listed, %d specified", len(providerKinds), len(providerSpecs))
	}
	for _, name := range providerKinds {
		spec, ok := providerSpecs[name]
		if !ok {
			t.Errorf("provider kind %q has no spec", name)
		}
		for _, key := range append(append([]string{}, spec.required...), spec.optional...) {
			if _, ok := fields[key]; !ok {
				t.Errorf("provider kind %q names key %q, which Provider does not have", name, key)
			}
		}
	}
}

func TestClosest(t *testing.T) {
	t.Parallel()
	names := []string{"api_key", "base_url", "model", "assistant_id", "url"}
	tests := map[string]string{
		"apikey":      "api_key",
		"api-key":     "api_key",
		"API_KEY":     "api_key",
		"baseurl":     "base_url",
		"modle":       "model",
		"assistantid": "assistant_id",
		"colour":      "",
		"x":           "",
	}
	for in, want := range tests {
		if got := closest(in, names); got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
}
