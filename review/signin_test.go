package review

import (
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"testing"
)

// basicWith is a basic-auth header with any password.
func basicWith(name, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(name+":"+password))
}

// clientFrom is a client whose connections come from another loopback
// address (Linux answers on all of 127.0.0.0/8).
func (f *fixture) clientFrom(ip string) *client {
	c := f.client()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c.http.Transport = &http.Transport{DialContext: d.DialContext}
	f.t.Cleanup(c.http.CloseIdleConnections)
	return c
}

func (c *client) apiAs(name, password string) int {
	return c.do(http.MethodGet, "/api/v1/tickets", nil, map[string]string{"Authorization": basicWith(name, password)}).status
}

func (c *client) formSignIn(name, password string) int {
	tok := csrf(c.f.t, c.get("/login").body)
	return c.post("/login", url.Values{"csrf": {tok}, "name": {name}, "password": {password}}).status
}

func TestFormFailuresLockBasicAuthForThatUser(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	for i := range 5 {
		if st := c.formSignIn("alice", "guess"); st != http.StatusUnauthorized {
			t.Fatalf("form attempt %d: %d", i+1, st)
		}
	}
	if st := c.apiAs("alice", passwords["alice"]); st != http.StatusTooManyRequests {
		t.Fatalf("basic auth with the right password after 5 form failures: %d, want 429", st)
	}
	if st := c.apiAs("root", passwords["root"]); st != http.StatusOK {
		t.Errorf("another user from the same address: %d, want 200", st)
	}
}

func TestBasicAuthFailuresLockTheFormForThatUser(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	for i := range 5 {
		if st := c.apiAs("alice", "guess"); st != http.StatusUnauthorized {
			t.Fatalf("basic attempt %d: %d", i+1, st)
		}
	}
	if st := c.apiAs("alice", passwords["alice"]); st != http.StatusTooManyRequests {
		t.Errorf("basic auth with the right password after 5 basic failures: %d, want 429", st)
	}
	if st := c.formSignIn("alice", passwords["alice"]); st != http.StatusTooManyRequests {
		t.Errorf("form sign-in with the right password after 5 basic failures: %d, want 429", st)
	}
}

func TestALockedOutUserCanStillSignInFromAnotherAddress(t *testing.T) {
	f := newFixture(t)
	attacker := f.clientFrom("127.0.0.2")
	for range 5 {
		attacker.apiAs("alice", "guess")
	}
	if st := attacker.formSignIn("alice", passwords["alice"]); st != http.StatusTooManyRequests {
		t.Fatalf("the guessing address: %d, want 429", st)
	}
	alice := f.clientFrom("127.0.0.3")
	alice.signIn("alice")
	if st := f.clientFrom("127.0.0.4").apiAs("alice", passwords["alice"]); st != http.StatusOK {
		t.Errorf("basic auth from a third address: %d, want 200", st)
	}
}

func TestManyAddressesSpendTheUsersBudgetButNotAtAKnownAddress(t *testing.T) {
	f := newFixture(t)
	home := f.clientFrom("127.0.0.9")
	if st := home.apiAs("alice", passwords["alice"]); st != http.StatusOK {
		t.Fatalf("first sign-in: %d", st)
	}
	// 50 failures from 10 addresses, 5 each: each pair is locked, and the
	// user's budget over all addresses is spent.
	for i := range 10 {
		c := f.clientFrom(net.IPv4(127, 0, 1, byte(i+1)).String())
		for range 5 {
			c.apiAs("alice", "guess")
		}
	}
	if st := f.clientFrom("127.0.2.1").apiAs("alice", passwords["alice"]); st != http.StatusTooManyRequests {
		t.Errorf("a new address after 50 failures from many: %d, want 429", st)
	}
	if st := home.apiAs("alice", passwords["alice"]); st != http.StatusOK {
		t.Errorf("the address alice signed in from: %d, want 200", st)
	}
}
