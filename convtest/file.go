// Package convtest runs conversation tests (docs/conversation-tests.md): scripts of customer
// turns against the real engine and runner, with a virtual clock, an in-memory store, and
// mocked HTTP, LLM and desk calls. `tandem test` and the Go golden tests use it.
package convtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tandemchat/tandem/flow"
)

// Test is one conversation test.
type Test struct {
	Name       string         `yaml:"name"`
	Flows      []string       `yaml:"flows"`
	Config     string         `yaml:"config"`
	Channel    string         `yaml:"channel"`
	Clock      string         `yaml:"clock"`
	Contact    map[string]any `yaml:"contact"`
	Mocks      Mocks          `yaml:"mocks"`
	Turns      []yaml.Node    `yaml:"turns"`
	AllowExtra bool           `yaml:"allow_extra"`
	// Variables are given to a flow started with a `start` turn.
	Variables map[string]any `yaml:"variables"`
	Skip      string         `yaml:"skip"`

	// File and Line locate the test; Dir resolves its relative paths.
	File string `yaml:"-"`
	Line int    `yaml:"-"`
	Dir  string `yaml:"-"`
}

// Mocks say how the outside answers.
type Mocks struct {
	LLM  []*LLMMock  `yaml:"llm"`
	HTTP []*HTTPMock `yaml:"http"`
	Desk DeskMock    `yaml:"desk"`
}

// LLMMock answers AI calls.
type LLMMock struct {
	Match struct {
		Step           string `yaml:"step"`
		PromptContains string `yaml:"prompt_contains"`
		Provider       string `yaml:"provider"`
	} `yaml:"match"`
	Reply      string  `yaml:"reply"`
	JSON       any     `yaml:"json"`
	Intent     string  `yaml:"intent"`
	Confidence float64 `yaml:"confidence"`
	Error      *struct {
		Status     int    `yaml:"status"`
		Message    string `yaml:"message"`
		RetryAfter string `yaml:"retry_after"`
	} `yaml:"error"`
	ToolCall *struct {
		Name      string `yaml:"name"`
		Arguments any    `yaml:"arguments"`
	} `yaml:"tool_call"`
	Times int `yaml:"times"`
	used  int
}

// HTTPMock answers HTTP calls.
type HTTPMock struct {
	Match struct {
		Method       string `yaml:"method"`
		URL          string `yaml:"url"`
		URLMatches   string `yaml:"url_matches"`
		BodyContains string `yaml:"body_contains"`
		JSON         any    `yaml:"json"`
	} `yaml:"match"`
	Status   int               `yaml:"status"`
	JSON     any               `yaml:"json"`
	JSONFile string            `yaml:"json_file"`
	Text     string            `yaml:"text"`
	Headers  map[string]string `yaml:"headers"`
	// Error simulates a failure instead of an answer: network or timeout.
	Error string `yaml:"error"`
	Times int    `yaml:"times"`
	used  int
	body  []byte
}

// DeskMock says how the mocked external desk behaves.
type DeskMock struct {
	Available  *bool `yaml:"available"`
	NeedsEmail *bool `yaml:"needs_email"`
}

type fileDoc struct {
	Test  `yaml:",inline"`
	Tests []yaml.Node `yaml:"tests"`
}

// ParseFile reads the tests of one *.test.yaml file. Top-level fields are defaults for the
// tests of a `tests:` list.
func ParseFile(path string) ([]*Test, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, src)
}

// Parse reads tests from a document.
func Parse(path string, src []byte) ([]*Test, error) {
	var doc fileDoc
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: the file is empty", path)
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		line, msg := flow.YAMLError(err, src)
		return nil, fmt.Errorf("%s:%d: the file is not valid YAML: %s", path, line, msg)
	}
	dir := filepath.Dir(path)
	if len(doc.Tests) == 0 {
		t := doc.Test
		t.File, t.Line, t.Dir = path, 1, dir
		if t.Name == "" {
			t.Name = strings.TrimSuffix(filepath.Base(path), ".test.yaml")
		}
		return []*Test{&t}, nil
	}
	var out []*Test
	for i := range doc.Tests {
		n := &doc.Tests[i]
		t := doc.Test // defaults
		t.Turns = nil
		t.Name = ""
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		if err := enc.Encode(n); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n.Line, err)
		}
		var one Test
		d := yaml.NewDecoder(&b)
		d.KnownFields(true)
		if err := d.Decode(&one); err != nil {
			return nil, fmt.Errorf("%s:%d: tests[%d]: %s", path, n.Line, i, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		// Turn nodes were re-encoded: take them from the original node to keep their lines.
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == "turns" {
				one.Turns = nil
				for _, tn := range n.Content[j+1].Content {
					one.Turns = append(one.Turns, *tn)
				}
			}
		}
		merge(&t, &one)
		t.Mocks = t.Mocks.clone()
		t.File, t.Line, t.Dir = path, n.Line, dir
		if t.Name == "" {
			t.Name = fmt.Sprintf("%s #%d", strings.TrimSuffix(filepath.Base(path), ".test.yaml"), i+1)
		}
		out = append(out, &t)
	}
	return out, nil
}

// clone copies the mocks, so that tests of one file sharing the file's mocks count their uses
// (times:) each on its own.
func (m Mocks) clone() Mocks {
	out := Mocks{Desk: m.Desk}
	for _, l := range m.LLM {
		c := *l
		c.used = 0
		out.LLM = append(out.LLM, &c)
	}
	for _, h := range m.HTTP {
		c := *h
		c.used = 0
		out.HTTP = append(out.HTTP, &c)
	}
	return out
}

// merge overlays the fields a test sets on the file's defaults.
func merge(t, one *Test) {
	t.Name = one.Name
	t.Turns = one.Turns
	if one.Flows != nil {
		t.Flows = one.Flows
	}
	if one.Config != "" {
		t.Config = one.Config
	}
	if one.Channel != "" {
		t.Channel = one.Channel
	}
	if one.Clock != "" {
		t.Clock = one.Clock
	}
	if one.Contact != nil {
		t.Contact = one.Contact
	}
	if one.Mocks.LLM != nil {
		t.Mocks.LLM = one.Mocks.LLM
	}
	if one.Mocks.HTTP != nil {
		t.Mocks.HTTP = one.Mocks.HTTP
	}
	if one.Mocks.Desk.Available != nil || one.Mocks.Desk.NeedsEmail != nil {
		t.Mocks.Desk = one.Mocks.Desk
	}
	if one.AllowExtra {
		t.AllowExtra = true
	}
	if one.Variables != nil {
		t.Variables = one.Variables
	}
	if one.Skip != "" {
		t.Skip = one.Skip
	}
}

// Find lists the test files under the paths: files as given, folders searched for *.test.yaml.
func Find(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%s: no such file or folder", p)
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".test.yaml") || strings.HasSuffix(path, ".test.yml")) {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
