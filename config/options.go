package config

import (
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Options returns every key the desk entry sets, by its name in tandem.yaml, as text: nested
// keys as "pat.token", durations as Go durations ("30s"), booleans as true/false; unset keys
// (zero values, nil pointers) are left out. Desk adapters read their keys from it.
func (d Desk) Options() map[string]string {
	out := map[string]string{}
	options(out, "", reflect.ValueOf(d))
	return out
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
		}
	}
}
