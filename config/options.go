package config

import (
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/desk"
)

// Options returns every key the desk entry sets, by its name in tandem.yaml, as text: nested
// keys as "pat.token", durations as Go durations ("30s"), booleans as true/false, and the keys
// only its kind declares (Extra); unset keys (zero values, nil pointers) are left out. Desk
// adapters read their keys from it.
func (d Desk) Options() map[string]string {
	out := map[string]string{}
	options(out, "", reflect.ValueOf(d))
	for k, v := range d.Extra {
		out[k] = v
	}
	return out
}

// Config is the desk's configuration as its kind is built with.
func (d Desk) Config() desk.Config {
	return desk.Config{ID: d.ID, Kind: d.Kind, URL: d.URL, Username: d.Username, Password: d.Password,
		Secret: d.Secret, HealthURL: d.HealthURL, Timeout: d.Timeout.D(), Options: d.Options()}
}

// Config is the channel's configuration as its kind is built with: its fields, and every key
// it sets in Options, as Desk.Options lists them (lists joined with commas).
func (c Channel) Config() channel.Config {
	opts := map[string]string{}
	options(opts, "", reflect.ValueOf(c))
	for k, v := range c.Extra {
		opts[k] = v
	}
	return channel.Config{ID: c.ID, Kind: c.Kind, OutboundURL: c.OutboundURL, Secret: c.Secret,
		AllowedOrigins: c.AllowedOrigins, IdentitySecret: c.IdentitySecret, IdentitySecretPrevious: c.IdentitySecretPrevious,
		IdentityRequired: c.IdentityRequired, SessionTTL: c.SessionTTL.D(), MaxUploadBytes: c.MaxUploadBytes, RateLimit: c.RateLimit,
		MaxText: c.MaxText, Title: c.Title, Color: c.Color, Position: c.Position, LauncherText: c.LauncherText,
		PhoneNumberID: c.PhoneNumberID, AccessToken: c.AccessToken, AppSecret: c.AppSecret, VerifyToken: c.VerifyToken,
		APIVersion: c.APIVersion, BaseURL: c.BaseURL, BotToken: c.BotToken, SecretToken: c.SecretToken, PublicURL: c.PublicURL,
		Options: opts}
}

func options(out map[string]string, prefix string, v reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		key := prefix + name
		fv := v.Field(i)
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				continue
			}
			fv = fv.Elem()
			if fv.Type() == durationType {
				out[key] = time.Duration(fv.Int()).String()
				continue
			}
		} else if fv.IsZero() {
			continue
		}
		switch {
		case fv.Type() == durationType:
			out[key] = time.Duration(fv.Int()).String()
		case fv.Kind() == reflect.Struct:
			options(out, key+".", fv)
		case fv.Kind() == reflect.String:
			out[key] = fv.String()
		case fv.Kind() == reflect.Bool:
			out[key] = strconv.FormatBool(fv.Bool())
		case fv.CanInt():
			out[key] = strconv.FormatInt(fv.Int(), 10)
		case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
			out[key] = strings.Join(fv.Interface().([]string), ",")
		}
	}
}
