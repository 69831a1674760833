package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// The files the pages use: the stylesheet, a small script and htmx
// (2.0.11, vendored from its npm package, for progressive enhancement only).
//
//go:embed static/*.css static/*.js
var staticFiles embed.FS

// asset is one static file, served under a name that carries a hash of its
// content, so it can be cached for a year and a change is a new name.
type asset struct {
	name, hashed, ctype string
	raw, gz             []byte
}

type assets struct {
	byName   map[string]*asset // app.css -> asset
	byHashed map[string]*asset // app.1a2b3c4d5e.css -> asset
}

func loadAssets() (*assets, error) {
	a := &assets{byName: map[string]*asset{}, byHashed: map[string]*asset{}}
	err := fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		name := path.Base(p)
		sum := sha256.Sum256(raw)
		ext := path.Ext(name)
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		_, _ = zw.Write(raw)
		_ = zw.Close()
		x := &asset{
			name:   name,
			hashed: strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:5]) + ext,
			ctype:  mime.TypeByExtension(ext),
			raw:    raw, gz: gz.Bytes(),
		}
		if x.ctype == "" {
			x.ctype = "application/octet-stream"
		}
		a.byName[name], a.byHashed[x.hashed] = x, x
		return nil
	})
	return a, err
}

// url returns the path a page links name by.
func (a *assets) url(name string) (string, error) {
	x, ok := a.byName[name]
	if !ok {
		return "", fmt.Errorf("no asset %q", name)
	}
	return "/assets/" + x.hashed, nil
}

// serve answers GET /assets/{name}: only hashed names exist, cached for a
// year; gzip when the client takes it.
func (a *assets) serve(w http.ResponseWriter, r *http.Request) bool {
	x, ok := a.byHashed[r.PathValue("name")]
	if !ok {
		return false
	}
	h := w.Header()
	h.Set("Content-Type", x.ctype)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Vary", "Accept-Encoding")
	body := x.raw
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = x.gz
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return true
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		q = strings.TrimRight(strings.ReplaceAll(q, " ", ""), "0")
		return q != "q=" && q != "q=0."
	}
	return false
}
