package signature

import (
	"strconv"
	"testing"
	"time"
)

func TestVerifyAcceptsOnlyTheRightSecretBodyAndAFreshTimestamp(t *testing.T) {
	secret := []byte("weighbridge-secret-0123456789")
	now := time.Unix(1_800_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{"record_id":"A1"}`)
	good := Sign(secret, ts, body)
	old := strconv.FormatInt(now.Add(-Tolerance-time.Second).Unix(), 10)
	ahead := strconv.FormatInt(now.Add(Tolerance+time.Second).Unix(), 10)
	for _, c := range []struct {
		name    string
		secret  []byte
		ts, sig string
		body    []byte
		want    error
	}{
		{"valid", secret, ts, good, body, nil},
		{"valid, upper-case hex", secret, ts, "sha256=" + upper(good[7:]), body, nil},
		{"other secret", []byte("another-secret-0123456789"), ts, good, body, ErrMismatch},
		{"other body", secret, ts, good, []byte(`{"record_id":"A2"}`), ErrMismatch},
		{"signature of another time", secret, strconv.FormatInt(now.Unix()-1, 10), good, body, ErrMismatch},
		{"stale", secret, old, Sign(secret, old, body), body, ErrStale},
		{"from the future", secret, ahead, Sign(secret, ahead, body), body, ErrStale},
		{"timestamp not a number", secret, "yesterday", good, body, ErrStale},
		{"no signature", secret, ts, "", body, ErrMissing},
		{"no timestamp", secret, "", good, body, ErrMissing},
	} {
		if err := Verify(c.secret, c.ts, c.sig, c.body, now); err != c.want {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
