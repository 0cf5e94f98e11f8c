package config

import (
	"reflect"
	"sort"
	"strings"

	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/internal/registry"
)

// Key is one key a configuration file may set, as the decoder reads it.
type Key struct {
	// Path is the key's place in the file: "workspace.name", "providers[].prompt.id"; "[]"
	// marks a list of mappings.
	Path string
	// Field is the Go field it decodes into, such as "Provider.APIKey".
	Field string
}

// Keys lists every key of tandem.yaml that the decoder accepts, in path order: the leaves of
// Config (values, lists of values, maps) found by the same yaml tags the decoder reads, so a
// key added to a struct is listed here without anything else changing, and the keys that
// registered channel and desk kinds declare beyond those (Field names the kind: "channel kind
// messenger"). Top-level keys starting with x- (ignored, for anchors) are not listed.
func Keys() []Key {
	var out []Key
	walkKeys(reflect.TypeFor[Config](), "", "config.Config", &out)
	seen := map[string]bool{}
	for _, k := range out {
		// A key and the mappings above it ("desks[].pat" of "desks[].pat.token").
		for p := k.Path; p != ""; p, _ = cutLast(p) {
			seen[p] = true
		}
	}
	declared := func(section, what string, kinds []string, keys func(string) []registry.Key) {
		for _, kind := range kinds {
			for _, key := range keys(kind) {
				p := section + "[]." + key.Name
				if !seen[p] {
					seen[p] = true
					out = append(out, Key{Path: p, Field: what + " kind " + kind})
				}
			}
		}
	}
	declared("channels", "channel", channel.Kinds(), func(k string) []registry.Key { kd, _ := channel.Lookup(k); return kd.Keys })
	declared("desks", "desk", desk.Kinds(), func(k string) []registry.Key { kd, _ := desk.Lookup(k); return kd.Keys })
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// walkKeys appends the leaf keys of the struct type t, whose path is prefix.
func walkKeys(t reflect.Type, prefix, owner string, out *[]Key) {
	fields := yamlFields(t)
	for name, i := range fields {
		f := t.Field(i)
		path := join(prefix, name)
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		list := ""
		if ft.Kind() == reflect.Slice && ft != durationType {
			if e := derefType(ft.Elem()); e.Kind() == reflect.Struct && e != durationType {
				ft, list = e, "[]"
			}
		}
		if ft.Kind() == reflect.Struct && ft != durationType {
			walkKeys(ft, path+list, ft.String(), out)
			continue
		}
		*out = append(*out, Key{Path: path, Field: owner + "." + f.Name})
	}
}

// cutLast returns path without its last key ("desks[].pat" for "desks[].pat.token").
func cutLast(path string) (string, bool) {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return "", false
	}
	return path[:i], true
}

func derefType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// Top returns the top-level key of a key path: "providers" for "providers[].api_key".
func (k Key) Top() string {
	top, _, _ := strings.Cut(k.Path, ".")
	return strings.TrimSuffix(top, "[]")
}

// Rel returns the path below the top-level key ("api_key" for "providers[].api_key"), or the
// top-level key itself when it is a value ("flows").
func (k Key) Rel() string {
	_, rel, ok := strings.Cut(k.Path, ".")
	if !ok {
		return k.Path
	}
	return rel
}
