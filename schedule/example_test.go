package schedule_test

import (
	"fmt"
	"time"

	"github.com/tandemchat/tandem/schedule"
)

func Example() {
	s, err := schedule.New(schedule.Config{
		ID:       "office",
		Timezone: "America/Sao_Paulo",
		Weekly:   []schedule.Weekly{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "09:00", To: "18:00"}},
		Dates:    []schedule.Date{{Date: "2026-12-24", From: "09:00", To: "12:00"}},
		Closed:   []string{"2026-12-24", "2026-12-25"},
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, iv := range s.Windows(2026, time.December, 24) {
		fmt.Println("24 Dec:", iv.From.Format("15:04"), "to", iv.To.Format("15:04"))
	}

	thursdayEvening := time.Date(2026, time.December, 24, 17, 0, 0, 0, s.Location())
	fmt.Println("open:", s.Open(thursdayEvening))
	next, _ := s.NextOpen(thursdayEvening)
	fmt.Println("opens:", next.Format("Mon 02 Jan 15:04"))
	due, _ := s.AddOpen(thursdayEvening, 90*time.Minute)
	fmt.Println("90 open minutes later:", due.Format("Mon 02 Jan 15:04"))
	// Output:
	// 24 Dec: 09:00 to 12:00
	// open: false
	// opens: Mon 28 Dec 09:00
	// 90 open minutes later: Mon 28 Dec 10:30
}

func ExampleNew() {
	_, err := schedule.New(schedule.Config{
		ID:     "office",
		Weekly: []schedule.Weekly{{Days: []string{"mon"}, From: "09:00", To: "18:00"}, {Days: []string{"fri"}, From: "25:00", To: "18:00"}},
	}, nil)
	fmt.Println(err)
	// Output: schedule "office": weekly[1].from: "25:00" is not a time (use HH:MM)
}
