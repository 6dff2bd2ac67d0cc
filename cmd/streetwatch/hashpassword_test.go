package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/streetwatch/streetwatch/config"
)

func TestHashPasswordPrintsAHashTheConfigAccepts(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := cmdHashPassword([]string{"--cost", "4"}, strings.NewReader("正确的马 battery\n"), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	hash := strings.TrimSpace(out.String())
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte("正确的马 battery")); err != nil {
		t.Fatalf("hash %q does not match the password (newline must be stripped): %v", hash, err)
	}
	doc := "cameras: [{id: cam, url: rtsp://127.0.0.1/cam}]\nreview: {users: [{name: a, password_hash: '" + hash + "', role: reviewer}]}\n"
	if _, err := config.Parse([]byte(doc)); err != nil {
		t.Fatalf("config rejects the hash: %v", err)
	}

	for _, tc := range []struct {
		args  []string
		stdin string
	}{{nil, "\n"}, {[]string{"secret"}, ""}, {[]string{"--cost", "99"}, "x\n"}} {
		err := cmdHashPassword(tc.args, strings.NewReader(tc.stdin), &out, &errOut)
		if err == nil {
			t.Errorf("args %q stdin %q: no error", tc.args, tc.stdin)
		}
		var ue usageError
		if len(tc.args) > 0 && !errors.As(err, &ue) {
			t.Errorf("args %q: %v is not a usage error", tc.args, err)
		}
	}
}
