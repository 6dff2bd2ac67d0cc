package evidence

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/streetwatch/streetwatch/internal/miniotest"
)

func newS3Store(t *testing.T, srv *miniotest.Server, prefix string) *S3Store {
	t.Helper()
	s, err := NewS3Store(context.Background(), S3Config{
		Endpoint: srv.Endpoint, Bucket: "evidence", AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		CreateBucket: true, Prefix: prefix,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rawClient talks to the MinIO server directly, to see what the store
// really wrote.
func rawClient(t *testing.T, srv *miniotest.Server) *minio.Client {
	t.Helper()
	c, err := minio.New(srv.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestS3StoreContract(t *testing.T) {
	srv := miniotest.Start(t)
	s := newS3Store(t, srv, "city-a/")
	testStoreContract(t, s)

	// Content types are stored with the objects; keys carry the prefix.
	c := rawClient(t, srv)
	for _, o := range testObjects[:3] {
		info, err := c.StatObject(context.Background(), "evidence", "city-a/"+o.key, minio.StatObjectOptions{})
		if err != nil {
			t.Fatalf("StatObject %s: %v", o.key, err)
		}
		if info.ContentType != o.contentType || info.Size != int64(len(o.data)) {
			t.Errorf("%s: content type %q size %d, want %q %d", o.key, info.ContentType, info.Size, o.contentType, len(o.data))
		}
	}
	if strings.Contains(s.Name(), srv.SecretKey) || strings.Contains(s.Name(), srv.AccessKey) || !strings.Contains(s.Name(), srv.Endpoint+"/evidence") {
		t.Errorf("Name() = %q: want endpoint and bucket, no credentials", s.Name())
	}
}

func TestNewS3StoreChecksBucket(t *testing.T) {
	srv := miniotest.Start(t)
	ctx := context.Background()
	cfg := S3Config{Endpoint: "http://" + srv.Endpoint, Bucket: "missing", AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}
	_, err := NewS3Store(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), `bucket "missing" does not exist`) {
		t.Fatalf("missing bucket without CreateBucket: %v", err)
	}
	cfg.CreateBucket = true
	if _, err := NewS3Store(ctx, cfg); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	if _, err := NewS3Store(ctx, cfg); err != nil { // exists now: fine
		t.Fatalf("second start: %v", err)
	}
	cfg.CreateBucket = false
	if _, err := NewS3Store(ctx, cfg); err != nil {
		t.Fatalf("existing bucket: %v", err)
	}
}

func TestS3ErrorsNeverContainCredentials(t *testing.T) {
	srv := miniotest.Start(t)
	ctx := context.Background()
	good := newS3Store(t, srv, "")
	wrongSecret := "wrong-" + srv.SecretKey
	_, err := NewS3Store(ctx, S3Config{Endpoint: srv.Endpoint, Bucket: "evidence", AccessKey: srv.AccessKey, SecretKey: wrongSecret})
	if err == nil {
		t.Fatal("wrong secret accepted")
	}
	for _, secret := range []string{wrongSecret, srv.SecretKey, srv.AccessKey} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error %q contains a credential", err)
		}
	}
	t.Logf("wrong secret: %v", err)

	// With the server down every operation fails; none may leak either.
	srv.Stop()
	errs := []error{
		good.Put(ctx, "2026/03/10/c/v/clip.mp4", strings.NewReader("x"), 1, "video/mp4"),
		good.Delete(ctx, "2026/03/10/c/v/clip.mp4"),
	}
	_, e := good.Get(ctx, "2026/03/10/c/v/clip.mp4")
	errs = append(errs, e)
	_, e = good.List(ctx, "")
	errs = append(errs, e)
	for _, err := range errs {
		if err == nil {
			t.Fatal("operation against a stopped server succeeded")
		}
		if errors.Is(err, ErrNotFound) {
			t.Fatalf("outage reported as not found: %v", err)
		}
		if strings.Contains(err.Error(), srv.SecretKey) || strings.Contains(err.Error(), srv.AccessKey) {
			t.Fatalf("error %q contains a credential", err)
		}
	}
}

func TestS3StoreRedactsSecretsFromErrors(t *testing.T) {
	s := &S3Store{secrets: []string{"s3cr3t-value", "AKIDEXAMPLE"}}
	err := s.redact(errors.New("signature for AKIDEXAMPLE with s3cr3t-value failed"))
	if got := err.Error(); strings.Contains(got, "s3cr3t") || strings.Contains(got, "AKIDEXAMPLE") {
		t.Fatalf("redact left a secret: %q", got)
	}
	plain := minio.ErrorResponse{Code: "NoSuchBucket"}
	if !errors.As(s.redact(plain), new(minio.ErrorResponse)) {
		t.Fatal("redact dropped the typed error of a clean message")
	}
}
