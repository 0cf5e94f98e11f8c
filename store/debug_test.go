package store

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	println("batches", DebugBatches.Load(), "jobs", DebugJobs.Load())
	os.Exit(code)
}
