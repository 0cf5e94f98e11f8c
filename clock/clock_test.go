package clock

import (
	"testing"
	"time"
)

func TestVirtual(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	v := NewVirtual(start)
	v.Advance(25 * time.Second)
	if got, want := v.Now(), start.Add(25*time.Second); !got.Equal(want) {
		t.Errorf("after Advance: %v, want %v", got, want)
	}
	v.Set(start) // never backwards
	if got, want := v.Now(), start.Add(25*time.Second); !got.Equal(want) {
		t.Errorf("Set backwards moved the clock to %v, want %v", got, want)
	}
	v.Set(start.Add(time.Hour))
	if got, want := v.Now(), start.Add(time.Hour); !got.Equal(want) {
		t.Errorf("after Set: %v, want %v", got, want)
	}
}
