package tandem_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/tandemchat/tandem/flow"
)

// userDocs lists the Markdown files a user reads: README.md, CONTRIBUTING.md and docs/.
func userDocs(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md", "CONTRIBUTING.md"}
	err := filepath.WalkDir("docs", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			out = append(out, f)
		}
	}
	return out
}

var (
	inlineLink = regexp.MustCompile(`\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	refLink    = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s+<?(\S+?)>?(?:\s|$)`)
	inlineCode = regexp.MustCompile("`+[^`]*`+")
)

// mdLine is one line of a Markdown file outside fenced code, with inline code removed.
type mdLine struct {
	n    int
	text string
}

func readMarkdown(t *testing.T, path string) (lines []mdLine, raw []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	fence := ""
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		raw = append(raw, l)
		trim := strings.TrimSpace(l)
		if fence != "" {
			if strings.HasPrefix(trim, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trim, "```") || strings.HasPrefix(trim, "~~~") {
			fence = trim[:3]
			continue
		}
		lines = append(lines, mdLine{n, inlineCode.ReplaceAllString(l, "")})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines, raw
}

// anchors returns the GitHub anchors of a Markdown file's headings.
func anchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	_, raw := readMarkdown(t, path)
	out := map[string]bool{}
	seen := map[string]int{}
	fence := false
	for _, l := range raw {
		trim := strings.TrimSpace(l)
		if strings.HasPrefix(trim, "```") || strings.HasPrefix(trim, "~~~") {
			fence = !fence
			continue
		}
		if fence || !strings.HasPrefix(trim, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(trim, "#"))
		slug := slugify(h)
		if n := seen[slug]; n > 0 {
			out[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}

// slugify makes a heading's anchor the way GitHub does: lower case, punctuation dropped,
// spaces to hyphens.
func slugify(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// TestDocsLinksStayInTheRepository fails on a link of README.md, CONTRIBUTING.md or docs/
// that leaves the repository (the team's design folder, a path above the repository) or that does not
// resolve (a missing file, a missing heading). Links to https:// pages are fine.
func TestDocsLinksStayInTheRepository(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range userDocs(t) {
		lines, raw := readMarkdown(t, file)
		for i, l := range raw {
			if strings.Contains(l, ".."+"/shared") || strings.Contains(l, "shared/spec/") || strings.Contains(l, "shared/contracts/") {
				t.Errorf("%s:%d: points at the team's design folder outside the repository; say it here, in docs/", file, i+1)
			}
		}
		for _, l := range lines {
			var targets []string
			for _, m := range inlineLink.FindAllStringSubmatch(l.text, -1) {
				targets = append(targets, m[1])
			}
			if m := refLink.FindStringSubmatch(l.text); m != nil {
				targets = append(targets, m[1])
			}
			for _, target := range targets {
				if msg := checkLink(t, root, file, target); msg != "" {
					t.Errorf("%s:%d: link %q %s", file, l.n, target, msg)
				}
			}
		}
	}
}

// checkLink returns what is wrong with a link target of file, or "".
func checkLink(t *testing.T, root, file, target string) string {
	t.Helper()
	lower := strings.ToLower(target)
	switch {
	case strings.HasPrefix(lower, "https://"), strings.HasPrefix(lower, "mailto:"):
		return ""
	case strings.HasPrefix(lower, "http://"):
		if strings.Contains(lower, "://localhost") || strings.Contains(lower, "://127.0.0.1") {
			return ""
		}
		return "uses http://; link to the https:// page"
	case strings.Contains(target, "://"):
		return "is not a web page nor a file of the repository"
	}
	path, anchor, _ := strings.Cut(target, "#")
	dest := file
	if path != "" {
		if filepath.IsAbs(path) {
			return "is an absolute path; use a path relative to this file"
		}
		dest = filepath.Join(filepath.Dir(file), filepath.FromSlash(path))
		abs, err := filepath.Abs(dest)
		if err != nil {
			return err.Error()
		}
		if rel, err := filepath.Rel(root, abs); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return "leaves the repository; the docs must stand alone"
		}
		if _, err := os.Stat(dest); err != nil {
			return "names a file that does not exist"
		}
	}
	if anchor != "" && strings.HasSuffix(dest, ".md") && !anchors(t, dest)[anchor] {
		return fmt.Sprintf("names no heading of %s", filepath.ToSlash(dest))
	}
	return ""
}

// TestNothingPointsOutsideTheRepository fails when a source, doc or data file of the
// repository points at the team's design folder beside it: the repository stands alone.
func TestNothingPointsOutsideTheRepository(t *testing.T) {
	t.Parallel()
	outside := ".." + "/shared"
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(p) {
		case ".go", ".md", ".json", ".yaml", ".yml", ".sql", ".ts", ".tsx", ".js", ".html", ".css", ".sh", "":
		default:
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, outside) {
				t.Errorf("%s:%d: points at %s, outside the repository; write what it says here instead", p, i+1, outside)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Every field a step type declares as an extension (flow.StepTypes) is documented in
// docs/flows.md on a line that calls it one.
func TestFlowExtensionsDocumented(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("docs/flows.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for _, st := range flow.StepTypes {
		for _, path := range st.Extensions {
			found := false
			for _, l := range lines {
				if strings.Contains(l, "`"+path+"`") && strings.Contains(strings.ToLower(l), "extension") {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("docs/flows.md: no line names `%s` of the %s step as an extension", path, st.Name)
			}
		}
	}
}
