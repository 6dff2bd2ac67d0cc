// Package signature is StreetWatch's one HMAC scheme for HTTP bodies: the
// outgoing webhook signs with it and machine clients (weighbridges) sign
// their posts with it. It knows nothing of HTTP or of who holds a secret,
// and never puts a secret or a computed signature in an error.
package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Header names that carry a signature.
const (
	HeaderTimestamp = "X-StreetWatch-Timestamp" // unix seconds
	HeaderSignature = "X-StreetWatch-Signature" // "sha256=" + hex
)

// Tolerance is how far a signed timestamp may be from the receiver's
// clock. A replay inside it is possible; receivers make it harmless by
// being idempotent.
const Tolerance = 5 * time.Minute

// Sign returns the signature of a body sent at timestamp (unix seconds,
// decimal): "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Errors of Verify; callers may tell a client which, never the secret.
var (
	ErrMissing  = errors.New("signature or timestamp header missing")
	ErrStale    = errors.New("timestamp too far from the server's clock")
	ErrMismatch = errors.New("signature does not match")
)

// Verify checks sig (the signature header) of body sent at timestamp (the
// timestamp header) against secret, in constant time, and that the
// timestamp is within Tolerance of now.
func Verify(secret []byte, timestamp, sig string, body []byte, now time.Time) error {
	if timestamp == "" || sig == "" {
		return ErrMissing
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrStale
	}
	if d := now.Sub(time.Unix(sec, 0)); d > Tolerance || d < -Tolerance {
		return ErrStale
	}
	want := Sign(secret, timestamp, body)
	if !hmac.Equal([]byte(strings.ToLower(strings.TrimSpace(sig))), []byte(want)) {
		return ErrMismatch
	}
	return nil
}
