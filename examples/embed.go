// Package examples holds the example flows and their configuration; the demo embeds them.
// Each flow has conversation tests under tests/ (`tandem test examples/`).
package examples

import "embed"

// FS holds the example flows (*.yaml) and their configuration (tandem.yaml).
//
//go:embed *.yaml
var FS embed.FS
