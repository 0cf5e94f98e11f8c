// Package examples holds the example flows and their configuration; the demo embeds them.
// Each flow has conversation tests under tests/ (`tandem test examples/`).
package examples

import "embed"

// FS holds the example flows (*.yaml), their configuration (tandem.yaml) and the FAQ knowledge
// base (kb/).
//
//go:embed *.yaml kb
var FS embed.FS
