package dispatch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/streetwatch/streetwatch/evidence"
)

// Links to this server's evidence (paths, as the local store makes them)
// are sent absolute on http.public_url, a path under it kept; links that
// are absolute already (presigned S3) are sent as they are.
func TestWebhookEvidenceLinksAreAbsoluteOnThePublicURL(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		for _, tc := range []struct {
			name, publicURL, link, want string
		}{
			{"local link on a host", "https://streetwatch.city.gov", "/evidence/K?expires=1&sig=s", "https://streetwatch.city.gov/evidence/K?expires=1&sig=s"},
			{"local link under a proxy path", "https://city.gov/streetwatch/", "/evidence/K?expires=1&sig=s", "https://city.gov/streetwatch/evidence/K?expires=1&sig=s"},
			{"presigned link", "https://streetwatch.city.gov", "https://minio.city.gov:9000/ev/K?X-Amz-Signature=abc", "https://minio.city.gov:9000/ev/K?X-Amz-Signature=abc"},
			{"no public URL", "", "/evidence/K?expires=1&sig=s", "/evidence/K?expires=1&sig=s"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				rcv := newReceiver(t, 0)
				s := testService(t, testConfig(rcv.srv.URL), t.TempDir(), nil)
				s.PublicURL = tc.publicURL
				s.EvidenceURL = func(_ context.Context, key string) (string, error) {
					return strings.Replace(tc.link, "K", key, 1), nil
				}
				tk := mustCreate(t, s, input(1, "garbage_pile", "cam-1", "kerb", 0.9)) // auto dispatch
				run(t, s)
				waitFor(t, "a delivery", func() bool { return len(rcv.deliveries()) > 0 })
				d := rcv.deliveries()[0]
				if len(d.payload.Evidence) != len(tk.Evidence.Files) {
					t.Fatalf("%d links, want %d", len(d.payload.Evidence), len(tk.Evidence.Files))
				}
				for _, e := range d.payload.Evidence {
					if want := strings.Replace(tc.want, "K", e.Key, 1); e.URL != want {
						t.Errorf("%s: link %q, want %q", e.Name, e.URL, want)
					}
				}
			})
		}
	})
}

// End to end with the real local store: the work-order system, given
// nothing but the webhook body, fetches every evidence link from the
// running server and the files verify against the ticket's manifest.
func TestWorkOrderSystemFetchesLocalEvidenceFromTheWebhookLinks(t *testing.T) {
	eachStore(t, func(t *testing.T) {
		store := &evidence.LocalStore{Dir: t.TempDir(), SignKey: evidence.NewSignKey(), BaseURL: "/evidence/"}
		mux := http.NewServeMux()
		mux.Handle("GET /evidence/", store.Handler())
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)

		in := input(1, "garbage_pile", "cam-1", "kerb", 0.9)
		in.EvidenceFiles, in.ManifestSHA256 = putBundle(t, store, in)

		type fetched struct {
			files map[string][]byte
			err   error
		}
		got := make(chan fetched, 1)
		wo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var p WebhookPayload
			f := fetched{files: map[string][]byte{}}
			if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
				f.err = err
			}
			for _, e := range p.Evidence {
				if !strings.HasPrefix(e.URL, srv.URL+"/evidence/") {
					f.err = fmt.Errorf("%s: link %q is not on the public URL", e.Name, e.URL)
					break
				}
				resp, err := http.Get(e.URL) // no session: the link is the capability
				if err != nil {
					f.err = err
					break
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					f.err = fmt.Errorf("%s: GET %s", e.Name, resp.Status)
					break
				}
				f.files[e.Name] = b
			}
			select {
			case got <- f:
			default:
			}
		}))
		t.Cleanup(wo.Close)

		s := testService(t, testConfig(wo.URL), t.TempDir(), nil)
		s.EvidenceURL = func(ctx context.Context, key string) (string, error) { return store.URL(ctx, key, time.Hour) }
		s.PublicURL = srv.URL
		tk := mustCreate(t, s, in)
		run(t, s)
		var f fetched
		select {
		case f = <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("no webhook delivery")
		}
		if f.err != nil {
			t.Fatal(f.err)
		}
		man := f.files[evidence.ManifestName]
		if h := sha256.Sum256(man); hex.EncodeToString(h[:]) != tk.Evidence.ManifestSHA256 {
			t.Fatal("the manifest behind the link is not the one the ticket names")
		}
		res, err := evidence.Verify(man, func(name string) (io.ReadCloser, error) {
			b, ok := f.files[name]
			if !ok {
				return nil, fmt.Errorf("no link for %s", name)
			}
			return io.NopCloser(bytes.NewReader(b)), nil
		}, nil, false)
		if err != nil || !res.OK() || res.Files != 2 {
			t.Fatalf("evidence from the links: %v %+v", err, res)
		}
	})
}

// putBundle stores a small bundle of in's violation (a clip, a snapshot
// and the manifest listing their hashes) and returns its file names and
// the manifest's hash.
func putBundle(t *testing.T, store *evidence.LocalStore, in TicketInput) ([]string, string) {
	t.Helper()
	m := &evidence.Manifest{Version: evidence.ManifestVersion, Violation: evidence.ViolationRecord{Record: in.Violation},
		Camera: evidence.CameraRecord{ID: in.Violation.Camera}}
	var names []string
	for name, data := range map[string][]byte{"clip.mp4": []byte("not really an mp4"), "snapshot.jpg": []byte("\xff\xd8 jpeg")} {
		h := sha256.Sum256(data)
		m.Files = append(m.Files, evidence.FileRecord{Name: name, ContentType: evidence.ContentType(name), Size: int64(len(data)), SHA256: hex.EncodeToString(h[:])})
		if err := store.Put(t.Context(), in.EvidencePrefix+name, bytes.NewReader(data), int64(len(data)), evidence.ContentType(name)); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	raw, err := m.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Put(t.Context(), in.EvidencePrefix+evidence.ManifestName, bytes.NewReader(raw), int64(len(raw)), "application/json"); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(raw)
	return append(names, evidence.ManifestName), hex.EncodeToString(h[:])
}
