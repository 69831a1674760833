package nomination

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/igf/nomina/internal/oneline"
	"github.com/igf/nomina/internal/workflow"
)

// Upload describes one uploaded file. Body is read once, as a stream; the
// client's filename is kept as a label only, never used as a path.
type Upload struct {
	Kind     string
	Filename string
	Body     io.Reader
}

// errTooLarge stops an upload at its limit.
var errTooLarge = errors.New("upload over the limit")

type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, errTooLarge
	}
	return n, err
}

// AddAttachment stores a file for a file field of an editable nomination.
// Errors: ENOTFOUND, EFORBIDDEN (not the owner), ECONFLICT (not editable),
// EINVALID (kind is not a file field), ETOOLARGE, EUNSUPPORTED (content is
// not what the field accepts, judged by the bytes, not the name), ETOOMANY
// over the account's write limit.
func (s *Service) AddAttachment(ctx context.Context, actor Actor, id string, up Upload) (Attachment, error) {
	n, err := s.load(ctx, id)
	if err != nil {
		return Attachment{}, err
	}
	if _, err := s.access(ctx, actor, n); err != nil {
		return Attachment{}, err
	}
	if n.OwnerID != actor.UserID {
		return Attachment{}, Fail(EFORBIDDEN, "OwnerAddsFiles", "only the nomination's owner adds files")
	}
	def, err := s.definition(n)
	if err != nil {
		return Attachment{}, err
	}
	if st, ok := def.State(n.State); !ok || !st.Editable {
		return Attachment{}, Fail(ECONFLICT, "NoFilesInState", "files cannot be added in state \"{{.State}}\"", "State", n.State)
	}
	f, ok := def.Field(up.Kind)
	if !ok || f.Type != workflow.TypeFile {
		return Attachment{}, Invalid(Problem("kind", "NotAFileField", "not a file field of this form"))
	}
	if err := s.take(ctx, s.writeLimit(actor)); err != nil {
		return Attachment{}, err
	}
	limit := f.MaxBytes
	if limit <= 0 || limit > s.MaxUploadBytes {
		limit = s.MaxUploadBytes
	}
	br := bufio.NewReaderSize(up.Body, 512)
	head, _ := br.Peek(512)
	ctype := sniff(head)
	if !accepts(f.Accept, ctype, head) {
		return Attachment{}, Fail(EUNSUPPORTED, "FileTypeRefused", "the file's content is not of an accepted type ({{.Types}})", "Types", strings.Join(f.Accept, ", ")).
			With(Problem("file", "FileLooksLike", "content looks like {{.Type}}", "Type", ctype))
	}
	fileID, err := s.newID("f")
	if err != nil {
		return Attachment{}, err
	}
	h := sha256.New()
	lr := &limitedReader{r: io.TeeReader(br, h), left: limit}
	name := cleanFilename(up.Filename)
	size, err := s.Files.PutFile(ctx, fileID, name, ctype, lr)
	if err != nil {
		_ = s.Files.DeleteFile(context.WithoutCancel(ctx), fileID)
		if errors.Is(err, errTooLarge) || lr.left < 0 {
			return Attachment{}, Fail(ETOOLARGE, "FileOverLimit", "the file is larger than the limit").With(Problem("file", "AtMostBytes", "at most {{.Bytes}} bytes", "Bytes", strconv.FormatInt(limit, 10)))
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return Attachment{}, Fail(ETOOLARGE, "UploadTooLarge", "the upload is larger than the limit")
		}
		return Attachment{}, err
	}
	att := Attachment{ID: fileID, Kind: up.Kind, Filename: name, Size: size, SHA256: hex.EncodeToString(h.Sum(nil)), ContentType: ctype}
	var replaced []string
	_, ev, err := s.commit(ctx, id, func(n *Nomination) (Event, error) {
		if st, ok := def.State(n.State); !ok || !st.Editable {
			return Event{}, Fail(ECONFLICT, "NoFilesInState", "files cannot be added in state \"{{.State}}\"", "State", n.State)
		}
		replaced = replaced[:0]
		for _, a := range n.Attachments {
			if a.Kind == up.Kind {
				replaced = append(replaced, a.ID)
			}
		}
		return Event{Actor: actor.UserID, Type: EvAttachmentAdded, Data: mustJSON(att)}, nil
	})
	if err != nil {
		_ = s.Files.DeleteFile(context.WithoutCancel(ctx), fileID)
		return Attachment{}, err
	}
	// The file it replaces is no longer reachable: free its space.
	for _, old := range replaced {
		if err := s.Files.DeleteFile(context.WithoutCancel(ctx), old); err != nil {
			s.Logger.Warn("delete replaced attachment", "nomination", id, "file", old, "err", err)
		}
	}
	att.At = ev.At
	return att, nil
}

// OpenAttachment returns a file of a nomination the actor may read. The
// returned Attachment's Filename is the name to download it under, made by
// DownloadName: the uploader's own name is a label, never handed back as a
// file name. Errors: ENOTFOUND.
func (s *Service) OpenAttachment(ctx context.Context, actor Actor, id, fileID string) (io.ReadCloser, Attachment, error) {
	v, err := s.Get(ctx, actor, id)
	if err != nil {
		return nil, Attachment{}, err
	}
	i := slices.IndexFunc(v.Nomination.Attachments, func(a Attachment) bool { return a.ID == fileID })
	if i < 0 {
		return nil, Attachment{}, Fail(ENOTFOUND, "NoSuchAttachment", "no such attachment")
	}
	rc, _, err := s.Files.OpenFile(ctx, fileID)
	if err != nil {
		return nil, Attachment{}, err
	}
	att := v.Nomination.Attachments[i]
	att.Filename = DownloadName(id, att)
	return rc, att, nil
}

// extensions are the file name extensions of the content types uploads are
// recognised as.
var extensions = map[string]string{
	"application/pdf": "pdf",
	"image/png":       "png",
	"image/jpeg":      "jpg",
	"image/gif":       "gif",
	"image/webp":      "webp",
	"text/plain":      "txt",
	"application/zip": "zip",
}

// DownloadName is the name a stored file is downloaded under: the
// nomination, the form field and the extension of the type its content was
// accepted as, such as "n3x...-cv.pdf". A file uploaded as "cv.html" whose
// bytes are a PDF downloads as a .pdf, so no browser or desktop treats it
// as anything else.
func DownloadName(nominationID string, a Attachment) string {
	ext, ok := extensions[a.ContentType]
	if !ok {
		ext = "bin"
	}
	safe := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
				return r
			}
			return -1
		}, s)
	}
	return safe(nominationID) + "-" + safe(a.Kind) + "." + ext
}

// sniff names the content type from the first bytes.
func sniff(head []byte) string {
	if strings.HasPrefix(string(head), "%PDF-") {
		return "application/pdf"
	}
	ct := http.DetectContentType(head)
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return ct
}

func accepts(accept []string, ctype string, head []byte) bool {
	if len(accept) == 0 {
		return true
	}
	for _, a := range accept {
		if a == ctype {
			return true
		}
	}
	return false
}

// cleanFilename keeps the name a file came with as a label: the base name
// without control, line-breaking or text-direction characters (see
// oneline.Strip), quotes or slashes, bounded.
func cleanFilename(name string) string {
	name = filepath.Base(strings.ReplaceAll(oneline.Strip(name), "\\", "/"))
	var b strings.Builder
	for _, r := range name {
		if r == '"' || r == '/' {
			continue
		}
		b.WriteRune(r)
	}
	out := b.String()
	for len(out) > 200 {
		_, size := utf8.DecodeLastRuneInString(out)
		out = out[:len(out)-size]
	}
	if out == "" || out == "." || out == ".." {
		out = "file"
	}
	return out
}
