package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/internal/registry"
)

// Mask replaces a secret wherever a config value is printed.
const Mask = "***"

// Fields tagged `secret:"true"` hold secrets: String, GoString and LogValue print Mask in their
// place, their json tag is "-", and SecretValues collects them.

// SecretMap is a map whose values are secrets (the secrets section, provider headers): printing
// it or marshalling it to JSON shows the keys only.
type SecretMap map[string]string

// String lists the keys with masked values.
func (m SecretMap) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(quote(k) + "=" + Mask)
	}
	b.WriteByte('}')
	return b.String()
}

// GoString is String, so that %#v does not print the values either.
func (m SecretMap) GoString() string { return m.String() }

// LogValue lists the keys with masked values.
func (m SecretMap) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		attrs = append(attrs, slog.String(k, Mask))
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON writes the keys with masked values.
func (m SecretMap) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("null"), nil
	}
	out := make(map[string]string, len(m))
	for k := range m {
		out[k] = Mask
	}
	return json.Marshal(out)
}

// String formats the provider as {id=openai kind=openai api_key=*** ...}, secrets masked.
func (p Provider) String() string { return render(reflect.ValueOf(p)) }

// GoString is String, so that %#v masks secrets too.
func (p Provider) GoString() string { return p.String() }

// LogValue is the provider as a group of its set fields, secrets masked.
func (p Provider) LogValue() slog.Value { return logValue(reflect.ValueOf(p)) }

// String formats the channel with its secrets masked.
func (c Channel) String() string { return render(reflect.ValueOf(c)) }

// GoString is String, so that %#v masks secrets too.
func (c Channel) GoString() string { return c.String() }

// LogValue is the channel as a group of its set fields, secrets masked.
func (c Channel) LogValue() slog.Value { return logValue(reflect.ValueOf(c)) }

// String formats the desk with its secrets masked.
func (d Desk) String() string { return render(reflect.ValueOf(d)) }

// GoString is String, so that %#v masks secrets too.
func (d Desk) GoString() string { return d.String() }

// LogValue is the desk as a group of its set fields, secrets masked.
func (d Desk) LogValue() slog.Value { return logValue(reflect.ValueOf(d)) }

// String formats the PAT with its token masked.
func (p LiveChatPAT) String() string { return render(reflect.ValueOf(p)) }

// GoString is String, so that %#v masks the token too.
func (p LiveChatPAT) GoString() string { return p.String() }

// String formats the agent with its password hash masked.
func (a Agent) String() string { return render(reflect.ValueOf(a)) }

// GoString is String, so that %#v masks the password hash too.
func (a Agent) GoString() string { return a.String() }

// LogValue is the agent as a group of its set fields, the password hash masked.
func (a Agent) LogValue() slog.Value { return logValue(reflect.ValueOf(a)) }

// String formats the whole configuration with every secret masked.
func (c Config) String() string {
	s := render(reflect.ValueOf(c))
	if c.Path != "" {
		return "config " + quote(c.Path) + " " + s
	}
	return "config " + s
}

// GoString is String, so that %#v masks secrets too.
func (c Config) GoString() string { return c.String() }

// LogValue is a summary: the file, the workspace and the ids of each section.
func (c Config) LogValue() slog.Value {
	ids := func(n int, id func(int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = id(i)
		}
		return out
	}
	return slog.GroupValue(
		slog.String("path", c.Path),
		slog.String("workspace", c.Workspace.Name),
		slog.String("timezone", c.Workspace.Timezone),
		slog.Any("providers", ids(len(c.Providers), func(i int) string { return c.Providers[i].ID })),
		slog.String("default_provider", c.DefaultProvider),
		slog.Any("channels", ids(len(c.Channels), func(i int) string { return c.Channels[i].ID })),
		slog.Any("desks", ids(len(c.Desks), func(i int) string { return c.Desks[i].ID })),
		slog.Any("schedules", ids(len(c.Schedules), func(i int) string { return c.Schedules[i].ID })),
		slog.Any("teams", ids(len(c.Teams), func(i int) string { return c.Teams[i].ID })),
		slog.Int("agents", len(c.Agents)),
		slog.Any("secrets", slices.Sorted(maps.Keys(c.Secrets))),
	)
}

// SecretValues returns every secret the configuration holds, keyed by where it is
// ("secrets.NAME", "providers.openai.api_key", "desks.desk.password",
// "providers.hook.headers.Authorization"), for masking in logs and traces. Empty values are
// left out. Provider headers count when their name suggests a credential (authorization, key,
// token, secret, password, cookie, signature).
func (c *Config) SecretValues() map[string]string {
	out := map[string]string{}
	for name, v := range c.Secrets {
		if v != "" {
			out["secrets."+name] = v
		}
	}
	for i, p := range c.Providers {
		collect(out, "providers."+idOr(p.ID, i), reflect.ValueOf(p))
	}
	for i, ch := range c.Channels {
		collect(out, "channels."+idOr(ch.ID, i), reflect.ValueOf(ch))
		kd, _ := channel.Lookup(ch.Kind)
		extraSecrets(out, "channels."+idOr(ch.ID, i), ch.Extra, kd.Keys)
	}
	for i, d := range c.Desks {
		collect(out, "desks."+idOr(d.ID, i), reflect.ValueOf(d))
		kd, _ := desk.Lookup(d.Kind)
		extraSecrets(out, "desks."+idOr(d.ID, i), d.Extra, kd.Keys)
	}
	return out
}

// extraSecrets adds the values of extra that the kind declares secret, or whose name suggests
// a credential.
func extraSecrets(out map[string]string, prefix string, extra SecretMap, keys []registry.Key) {
	for name, v := range extra {
		secret := credentialName(name)
		for _, k := range keys {
			secret = secret || (k.Name == name && k.Secret)
		}
		if v != "" && secret {
			out[prefix+"."+name] = v
		}
	}
}

func idOr(id string, i int) string {
	if id != "" {
		return id
	}
	return strconv.Itoa(i)
}

// collect adds the secret fields of the struct v under prefix.
func collect(out map[string]string, prefix string, v reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		fv := v.Field(i)
		key := prefix + "." + name
		switch {
		case fv.Kind() == reflect.Pointer && !fv.IsNil() && fv.Elem().Kind() == reflect.Struct:
			collect(out, key, fv.Elem())
		case f.Tag.Get("secret") != "true":
		case fv.Kind() == reflect.String && fv.String() != "":
			out[key] = fv.String()
		case fv.Type() == reflect.TypeFor[SecretMap]():
			for h, val := range fv.Interface().(SecretMap) {
				if val != "" && credentialName(h) {
					out[key+"."+h] = val
				}
			}
		}
	}
}

// credentialName reports whether a header or key name suggests that its value is a credential.
func credentialName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"auth", "key", "token", "secret", "password", "cookie", "signature"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// render formats v as {key=value ...} by yaml names, leaving out empty fields and printing Mask
// for secrets.
func render(v reflect.Value) string {
	var b strings.Builder
	writeValue(&b, v, false)
	return b.String()
}

func writeValue(b *strings.Builder, v reflect.Value, secret bool) {
	if secret && !v.IsZero() {
		if m, ok := v.Interface().(SecretMap); ok {
			b.WriteString(m.String())
			return
		}
		b.WriteString(Mask)
		return
	}
	if v.Type() == durationType {
		b.WriteString(v.Interface().(Duration).String())
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			b.WriteString("<nil>")
			return
		}
		writeValue(b, v.Elem(), false)
	case reflect.Struct:
		b.WriteByte('{')
		n := 0
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" || v.Field(i).IsZero() {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			if n > 0 {
				b.WriteByte(' ')
			}
			n++
			b.WriteString(name + "=")
			writeValue(b, v.Field(i), f.Tag.Get("secret") == "true")
		}
		b.WriteByte('}')
	case reflect.Slice:
		b.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				b.WriteByte(' ')
			}
			writeValue(b, v.Index(i), false)
		}
		b.WriteByte(']')
	case reflect.Map:
		b.WriteByte('{')
		keys := v.MapKeys()
		slices.SortFunc(keys, func(x, y reflect.Value) int { return strings.Compare(x.String(), y.String()) })
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(quote(k.String()) + "=")
			writeValue(b, v.MapIndex(k), false)
		}
		b.WriteByte('}')
	case reflect.String:
		b.WriteString(quote(v.String()))
	default:
		fmt.Fprint(b, v.Interface())
	}
}

// quote quotes s when it is empty or holds spaces, quotes or braces.
func quote(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"'={}[]") || !strconv.CanBackquote(s) {
		return strconv.Quote(s)
	}
	return s
}

// logValue is v (a struct) as a group of its set fields by yaml name, secrets masked.
func logValue(v reflect.Value) slog.Value {
	var attrs []slog.Attr
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		fv := v.Field(i)
		if !f.IsExported() || name == "-" || name == "" || fv.IsZero() {
			continue
		}
		switch {
		case f.Tag.Get("secret") == "true":
			if m, ok := fv.Interface().(SecretMap); ok {
				attrs = append(attrs, slog.Any(name, m.LogValue()))
			} else {
				attrs = append(attrs, slog.String(name, Mask))
			}
		case fv.Type() == durationType:
			attrs = append(attrs, slog.String(name, fv.Interface().(Duration).String()))
		case fv.Kind() == reflect.Pointer && fv.Elem().Kind() == reflect.Struct:
			attrs = append(attrs, slog.Any(name, logValue(fv.Elem())))
		case fv.Kind() == reflect.Pointer:
			attrs = append(attrs, slog.Any(name, fv.Elem().Interface()))
		default:
			attrs = append(attrs, slog.Any(name, fv.Interface()))
		}
	}
	return slog.GroupValue(attrs...)
}
