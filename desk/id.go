package desk

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// ID is an id as a desk's service sends it: a JSON string, or a number whose digits are kept
// as written (an id above 2^53 is not rounded as a float64 would round it). Services send the
// same id either way (Intercom's conversation ids are strings of digits, numbers in older
// payloads) and ids of other shapes in the same field (Intercom's contacts have hex ids), so an
// ID never fails to decode: null, or a value that is neither a string nor a number, is "".
type ID string

// UnmarshalJSON implements json.Unmarshaler.
func (i *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*i = ""
	if len(b) == 0 {
		return nil
	}
	switch c := b[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(b, &s) == nil {
			*i = ID(strings.TrimSpace(s))
		}
	case c == '-' || c >= '0' && c <= '9':
		var n json.Number
		if json.Unmarshal(b, &n) == nil {
			*i = ID(n.String())
		}
	}
	return nil
}

// String returns the id.
func (i ID) String() string { return string(i) }

// Int returns the id as a whole number, and whether it is one.
func (i ID) Int() (int, bool) {
	n, err := strconv.Atoi(string(i))
	return n, err == nil
}

// Number is a numeric id that a service may also send as a string of digits (Chatwoot's);
// anything else reads as 0.
type Number int

// UnmarshalJSON implements json.Unmarshaler.
func (n *Number) UnmarshalJSON(b []byte) error {
	var id ID
	id.UnmarshalJSON(b)
	v, _ := id.Int()
	*n = Number(v)
	return nil
}
