package openaiwire

import (
	"reflect"
	"strings"
	"testing"
)

func TestReadEvents(t *testing.T) {
	t.Parallel()
	in := ": comment\n\nevent: a\ndata: 1\n\ndata: x\ndata: y\r\n\r\nid: 7\nretry: 10\ndata:no-space\n\nevent: lost\ndata: cut"
	var got []Event
	done, err := ReadEvents(strings.NewReader(in), func() {}, func(e Event) (bool, error) {
		got = append(got, e)
		return false, nil
	})
	want := []Event{{Name: "a", Data: "1"}, {Data: "x\ny"}, {Data: "no-space"}}
	if done || err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, %v, %v; want %q", got, done, err, want)
	}
}
