package evidence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config says where an S3Store keeps evidence.
type S3Config struct {
	// Endpoint is host:port (or an http:// or https:// URL, which then
	// decides UseSSL), e.g. "minio.internal:9000" or "s3.amazonaws.com".
	Endpoint  string
	Bucket    string
	Region    string // empty: asked from the server
	AccessKey string
	SecretKey string
	UseSSL    bool
	// CreateBucket makes the bucket when it is missing; otherwise a missing
	// bucket is an error at start, not at the first upload.
	CreateBucket bool
	// Prefix is put before every key, e.g. "streetwatch/"; List strips it.
	Prefix string
}

// S3Store keeps evidence in an S3 bucket (MinIO, AWS S3 or any compatible
// service) through minio-go.
type S3Store struct {
	client  *minio.Client
	bucket  string
	prefix  string
	name    string
	secrets []string // redacted from every error this store returns
}

var _ Store = (*S3Store)(nil)

// s3MaxRetries bounds minio-go's own retries of one request: the Uploader's
// spool retries with backoff, so a store outage should fail fast here.
const s3MaxRetries = 3

// Presigned URLs are valid for at most 7 days (SigV4 limit).
const maxPresignExpiry = 7 * 24 * time.Hour

// NewS3Store connects to the store and checks the bucket, creating it when
// cfg.CreateBucket is set.
func NewS3Store(ctx context.Context, cfg S3Config) (*S3Store, error) {
	endpoint, secure := cfg.Endpoint, cfg.UseSSL
	if strings.Contains(endpoint, "://") {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
			return nil, fmt.Errorf("evidence: s3 endpoint %q: want host:port or http(s)://host:port", endpoint)
		}
		endpoint, secure = u.Host, u.Scheme == "https"
	}
	if endpoint == "" {
		return nil, errors.New("evidence: s3 endpoint is empty")
	}
	if cfg.Bucket == "" {
		return nil, errors.New("evidence: s3 bucket is empty")
	}
	prefix := cfg.Prefix
	if prefix != "" {
		prefix = strings.TrimSuffix(prefix, "/") + "/"
		if err := checkPrefix(prefix); err != nil {
			return nil, fmt.Errorf("evidence: s3 %w", err)
		}
	}
	s := &S3Store{
		bucket: cfg.Bucket,
		prefix: prefix,
		name:   "s3://" + endpoint + "/" + cfg.Bucket + "/" + prefix,
	}
	for _, sec := range []string{cfg.SecretKey, cfg.AccessKey} {
		if sec != "" {
			s.secrets = append(s.secrets, sec)
		}
	}
	client, err := minio.New(endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     secure,
		Region:     cfg.Region,
		MaxRetries: s3MaxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("evidence: %s: %w", s.name, s.redact(err))
	}
	s.client = client
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("evidence: %s: check bucket: %w", s.name, s.redact(err))
	}
	if !ok {
		if !cfg.CreateBucket {
			return nil, fmt.Errorf("evidence: %s: bucket %q does not exist (create it, or set create_bucket)", s.name, cfg.Bucket)
		}
		err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region})
		if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
			err = nil // made by another node at the same time
		}
		if err != nil {
			return nil, fmt.Errorf("evidence: %s: create bucket: %w", s.name, s.redact(err))
		}
	}
	return s, nil
}

// Name is the endpoint, bucket and prefix; never the credentials.
func (s *S3Store) Name() string { return s.name }

// Put uploads the object with its content type.
func (s *S3Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if contentType == "" {
		contentType = ContentType(key)
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.prefix+key, r, size, minio.PutObjectOptions{ContentType: contentType})
	if err != nil {
		return fmt.Errorf("evidence: s3 put %s: %w", key, s.redact(err))
	}
	return nil
}

// Get opens the object; a missing one is ErrNotFound.
func (s *S3Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err == nil {
		// GetObject is lazy: Stat sends the request, so that a missing
		// object is reported here and not at the first Read.
		_, err = obj.Stat()
		if err != nil {
			obj.Close()
		}
	}
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil, fmt.Errorf("evidence: s3 get %s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("evidence: s3 get %s: %w", key, s.redact(err))
	}
	return obj, nil
}

// URL returns a presigned GET link valid for expiry (at most 7 days).
func (s *S3Store) URL(ctx context.Context, key string, expiry time.Duration) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	if expiry < time.Second || expiry > maxPresignExpiry {
		return "", fmt.Errorf("evidence: s3 url %s: expiry %v must be between 1s and %v", key, expiry, maxPresignExpiry)
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, s.prefix+key, expiry, nil)
	if err != nil {
		return "", fmt.Errorf("evidence: s3 url %s: %w", key, s.redact(err))
	}
	return u.String(), nil
}

// Delete removes the object; a missing one is not an error.
func (s *S3Store) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != "NoSuchKey" {
		return fmt.Errorf("evidence: s3 delete %s: %w", key, s.redact(err))
	}
	return nil
}

// List returns every object under prefix (recursively), keys without the
// store's own Prefix, in key order.
func (s *S3Store) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's listing goroutine on an early return
	var out []ObjectInfo
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("evidence: s3 list %q: %w", prefix, s.redact(obj.Err))
		}
		out = append(out, ObjectInfo{Key: strings.TrimPrefix(obj.Key, s.prefix), Size: obj.Size, Modified: obj.LastModified})
	}
	return out, nil
}

// redact keeps credentials out of errors (and so out of logs): an error
// whose text contains one is replaced by its text with the secret masked.
// Errors without secrets are returned as they are, so errors.As still
// finds minio.ErrorResponse.
func (s *S3Store) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, sec := range s.secrets {
		clean = strings.ReplaceAll(clean, sec, "[REDACTED]")
	}
	if clean == msg {
		return err
	}
	return errors.New(clean)
}
