package auth

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Argon2id parameters for new hashes. They follow the OWASP password storage
// recommendation (19 MiB, two passes, one lane); BenchmarkHashPassword
// reports what one hash costs on the machine at hand. Stored hashes carry
// their own parameters, so raising these later only affects new hashes and
// logins rehash old ones (see NeedsRehash).
const (
	Argon2Memory  = 19 * 1024 // KiB
	Argon2Time    = 2
	Argon2Threads = 1
	argon2SaltLen = 16
	argon2KeyLen  = 32
)

// HashParams are argon2id cost parameters.
type HashParams struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultHashParams returns the parameters new hashes use in production.
func DefaultHashParams() HashParams {
	return HashParams{Memory: Argon2Memory, Time: Argon2Time, Threads: Argon2Threads}
}

// Bounds on parameters read back from a stored hash, so a corrupted or
// planted record cannot make one verification take gigabytes or minutes.
const (
	maxStoredMemory  = 1 << 20 // KiB = 1 GiB
	maxStoredTime    = 64
	maxStoredThreads = 16
)

var errMalformedHash = errors.New("malformed password hash")

// HashPassword returns the PHC-style encoding
// "$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>" of password, with a fresh
// 16-byte salt read from rand. The password is NFKC-normalised first so the
// same characters typed on different systems match; it is never truncated.
// It returns an error only when rand fails.
func HashPassword(password string, p HashParams, rand io.Reader) (string, error) {
	salt := make([]byte, argon2SaltLen)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	key := argon2.IDKey([]byte(norm.NFKC.String(password)), salt, p.Time, p.Memory, p.Threads, argon2KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches encoded, comparing in
// constant time. It returns an error (and false) when encoded is not an
// argon2id hash it can read.
func VerifyPassword(password, encoded string) (bool, error) {
	p, salt, want, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(norm.NFKC.String(password)), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NeedsRehash reports whether encoded was made with parameters other than p,
// so a successful login should store a fresh hash.
func NeedsRehash(encoded string, p HashParams) bool {
	got, _, _, err := decodeHash(encoded)
	return err != nil || got != p
}

func decodeHash(encoded string) (HashParams, []byte, []byte, error) {
	var p HashParams
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, errMalformedHash
	}
	var threads uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads); err != nil || n != 3 {
		return p, nil, nil, errMalformedHash
	}
	if p.Memory == 0 || p.Memory > maxStoredMemory || p.Time == 0 || p.Time > maxStoredTime ||
		threads == 0 || threads > maxStoredThreads {
		return p, nil, nil, errMalformedHash
	}
	p.Threads = uint8(threads)
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, errMalformedHash
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errMalformedHash
	}
	return p, salt, key, nil
}
