package main

import (
	"fmt"
	"os"

	"github.com/tandemchat/tandem/config"
)

func getenv(k string) string { return os.Getenv(k) }

// loadConfig reads a tandem.yaml, expanding ${VAR} from the command's environment (Getenv): an
// empty variable counts as unset.
func (m *Main) loadConfig(path string) (*config.Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("configuration %s cannot be read: %w", path, err)
	}
	return config.Parse(path, src, func(k string) (string, bool) {
		v := m.Getenv(k)
		return v, v != ""
	})
}
