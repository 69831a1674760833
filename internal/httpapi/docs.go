package httpapi

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
)

// The API reference page at /api/docs renders the OpenAPI document with
// Scalar's standalone bundle (@scalar/api-reference, vendored from npm in
// docs/), served by the service itself: deployments may be offline, and
// the page's Content-Security-Policy allows nothing from elsewhere.
//
// The policy is the pages' strict one (no inline script or style, no
// eval). The bundle works under it: its stylesheet is linked instead of
// injected, and the toast styles it would inject are served as a file;
// what it still tries to inject (copies of those styles, a scrollbar
// probe, an eval feature test) is refused by the browser and costs
// nothing visible.

//go:embed docs
var docsFiles embed.FS

// docsCSP is the documentation page's Content-Security-Policy: the web
// pages' policy (DESIGN §9), with the API document fetched from here.
const docsCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// docsAsset is one file of the page, named after its content's hash so a
// browser may keep it for good.
type docsAsset struct {
	name    string // "scalar-standalone.<hash>.js"
	ctype   string
	body    []byte
	gzipped func() []byte
}

type docsPage struct {
	html   []byte
	assets map[string]*docsAsset
}

// loadDocs builds the page and its assets from the embedded files; they
// are fixed at build time, so an error is a broken build.
func loadDocs() *docsPage {
	p := &docsPage{assets: map[string]*docsAsset{}}
	names := map[string]string{}
	for _, f := range []string{"scalar-standalone.js", "scalar-style.css", "scalar-toasts.css", "docs.js"} {
		body, err := docsFiles.ReadFile("docs/" + f)
		if err != nil {
			panic("httpapi: embedded docs: " + err.Error())
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(f)
		a := &docsAsset{name: strings.TrimSuffix(f, ext) + "." + hex.EncodeToString(sum[:6]) + ext, body: body}
		a.ctype = "text/css; charset=utf-8"
		if ext == ".js" {
			a.ctype = "text/javascript; charset=utf-8"
		}
		a.gzipped = sync.OnceValue(func() []byte { return gzipBytes(body) })
		p.assets[a.name] = a
		names[f] = a.name
	}
	tmpl := template.Must(template.ParseFS(docsFiles, "docs/index.html"))
	var b bytes.Buffer
	if err := tmpl.Execute(&b, map[string]string{
		"Script": names["scalar-standalone.js"], "Style": names["scalar-style.css"],
		"Toasts": names["scalar-toasts.css"], "Init": names["docs.js"],
	}); err != nil {
		panic("httpapi: docs page: " + err.Error())
	}
	p.html = b.Bytes()
	return p
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

var docs = sync.OnceValue(loadDocs)

func (s *Server) docsRoutes() {
	s.Handle(http.MethodGet, "/api/docs", Public, s.apiDocs)
	s.Handle(http.MethodGet, "/api/docs/:asset", Public, s.apiDocsAsset)
}

// apiDocs serves the page.
func (s *Server) apiDocs(c *gin.Context) {
	c.Header("Content-Security-Policy", docsCSP)
	c.Data(http.StatusOK, "text/html; charset=utf-8", docs().html)
}

// apiDocsAsset serves a script or stylesheet of the page, compressed when
// the browser accepts gzip.
func (s *Server) apiDocsAsset(c *gin.Context) {
	a, ok := docs().assets[c.Param("asset")]
	if !ok {
		s.problem(c, http.StatusNotFound, "Not Found", "no such file", nil)
		return
	}
	h := c.Writer.Header()
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Add("Vary", "Accept-Encoding")
	body := a.body
	if acceptsGzip(c.GetHeader("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		body = a.gzipped()
	}
	c.Data(http.StatusOK, a.ctype, body)
}

// acceptsGzip reports whether an Accept-Encoding header admits gzip.
func acceptsGzip(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q, found := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		if !found {
			return true
		}
		w, err := strconv.ParseFloat(q, 64)
		return err == nil && w > 0
	}
	return false
}
