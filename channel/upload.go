package channel

import (
	"mime"
	"mime/multipart"
	"path"
	"strings"
	"unicode/utf8"
)

// MultipartOverhead is what an upload's body may hold besides the file: the multipart
// boundaries, the parts' headers and small fields.
const MultipartOverhead = 64 << 10

// FilePart returns the name and media type of an uploaded file part: the name's last path
// element (a browser on Windows may send C:\...) clipped to 200 bytes, and the part's
// Content-Type, else the name's extension's, else application/octet-stream.
func FilePart(p *multipart.Part) (name, mediaType string) {
	name = path.Base(strings.ReplaceAll(p.FileName(), `\`, "/"))
	if name == "." || name == "/" {
		name = ""
	}
	if len(name) > 200 {
		n := 200
		for n > 0 && !utf8.RuneStart(name[n]) {
			n--
		}
		name = name[:n]
	}
	if t, _, err := mime.ParseMediaType(p.Header.Get("Content-Type")); err == nil && t != "application/octet-stream" {
		return name, t
	}
	if t, _, err := mime.ParseMediaType(mime.TypeByExtension(path.Ext(name))); err == nil && name != "" {
		return name, t
	}
	return name, "application/octet-stream"
}
