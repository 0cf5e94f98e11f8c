package config

import (
	"reflect"
	"testing"
)

// The kind tables name only keys that exist on their structs.
func TestKindTables(t *testing.T) {
	t.Parallel()
	tables := []struct {
		typ   reflect.Type
		kinds []string
		specs map[string]kind
	}{
		{reflect.TypeFor[Provider](), providerKinds, providerSpecs},
		{reflect.TypeFor[Channel](), channelKinds, channelSpecs},
		{reflect.TypeFor[Desk](), deskKinds, deskSpecs},
	}
	for _, tb := range tables {
		fields := yamlFields(tb.typ)
		if len(tb.kinds) != len(tb.specs) {
			t.Errorf("%s: %d kinds listed, %d specified", tb.typ.Name(), len(tb.kinds), len(tb.specs))
		}
		for _, name := range tb.kinds {
			spec, ok := tb.specs[name]
			if !ok {
				t.Errorf("%s kind %q has no spec", tb.typ.Name(), name)
			}
			for _, key := range append(append([]string{}, spec.required...), spec.optional...) {
				if _, ok := fields[key]; !ok {
					t.Errorf("%s kind %q names key %q, which %s does not have", tb.typ.Name(), name, key, tb.typ.Name())
				}
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
