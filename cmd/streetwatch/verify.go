package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/streetwatch/streetwatch/config"
	"github.com/streetwatch/streetwatch/evidence"
)

// errVerify is returned when evidence fails verification (exit status 1).
var errVerify = errors.New("evidence failed verification")

// cmdVerifyEvidence checks a bundle's files against its manifest (and the
// manifest's signature): a folder or manifest.json on disk, an http(s) URL
// of a manifest (files are fetched next to it), or with --config a key
// prefix in the configured store.
func cmdVerifyEvidence(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify-evidence", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pubFile := fs.String("public-key", "", "trusted Ed25519 public key (PEM, hex or base64): the signature must be by it")
	requireSig := fs.Bool("require-signature", false, "an unsigned manifest fails")
	cfgPath := fs.String("config", "", "read PREFIX from this config's evidence store (local or S3)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: streetwatch verify-evidence [flags] PATH|URL|PREFIX\n\n"+
			"  PATH    a bundle folder, or its manifest.json\n"+
			"  URL     http(s) URL of a manifest.json; its files are fetched from the same folder\n"+
			"  PREFIX  with --config: YYYY/MM/DD/<camera>/<violation-id>/ in the configured store\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError{errors.New("verify-evidence: one PATH, URL or PREFIX")}
	}
	target := fs.Arg(0)
	var trusted []ed25519.PublicKey
	if *pubFile != "" {
		raw, err := os.ReadFile(*pubFile)
		if err != nil {
			return err
		}
		k, err := evidence.ParsePublicKey(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", *pubFile, err)
		}
		trusted = append(trusted, k)
	}

	var open func(name string) (io.ReadCloser, error)
	switch {
	case *cfgPath != "":
		store, err := storeFromConfig(ctx, *cfgPath)
		if err != nil {
			return err
		}
		prefix := strings.TrimSuffix(strings.TrimSuffix(target, evidence.ManifestName), "/") + "/"
		open = func(name string) (io.ReadCloser, error) { return store.Get(ctx, prefix+name) }
	case strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://"):
		u, err := url.Parse(target)
		if err != nil {
			return usageError{err}
		}
		if !strings.HasSuffix(u.Path, "/"+evidence.ManifestName) {
			u.Path = strings.TrimSuffix(u.Path, "/") + "/" + evidence.ManifestName
		}
		client := &http.Client{Timeout: 5 * time.Minute}
		open = func(name string) (io.ReadCloser, error) {
			f := *u
			f.Path = path.Join(path.Dir(u.Path), name)
			resp, err := client.Get(f.String())
			if err != nil {
				return nil, err
			}
			if resp.StatusCode != http.StatusOK {
				resp.Body.Close()
				return nil, fmt.Errorf("GET %s: %s", name, resp.Status)
			}
			return resp.Body, nil
		}
	default:
		dir := target
		if st, err := os.Stat(target); err == nil && !st.IsDir() {
			dir = filepath.Dir(target)
		}
		open = func(name string) (io.ReadCloser, error) { return os.Open(filepath.Join(dir, name)) }
	}

	rc, err := open(evidence.ManifestName)
	if err != nil {
		return fmt.Errorf("verify-evidence: manifest: %w", err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("verify-evidence: manifest: %w", err)
	}
	res, err := evidence.Verify(data, open, trusted, *requireSig)
	if err != nil {
		fmt.Fprintf(stdout, "FAIL %s: %v\n", target, err)
		return errVerify
	}
	for _, p := range res.Problems {
		fmt.Fprintf(stdout, "FAIL %s\n", p)
	}
	if !res.OK() {
		return errVerify
	}
	sig := "unsigned"
	if res.Signed {
		sig = "signature valid (key " + res.KeyID + ")"
		if len(trusted) == 0 {
			sig += "; pass --public-key to prove who signed"
		}
	}
	fmt.Fprintf(stdout, "OK %s: %d files match the manifest, %s\n", target, res.Files, sig)
	return nil
}

// storeFromConfig opens the evidence store a config file names.
func storeFromConfig(ctx context.Context, path string) (evidence.Store, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	ev := cfg.Evidence
	if ev.S3.Endpoint == "" {
		return &evidence.LocalStore{Dir: ev.Dir}, nil
	}
	return evidence.NewS3Store(ctx, evidence.S3Config{Endpoint: ev.S3.Endpoint, Bucket: ev.S3.Bucket, Region: ev.S3.Region,
		AccessKey: ev.S3.AccessKey, SecretKey: ev.S3.SecretKey, UseSSL: ev.S3.UseSSL, Prefix: ev.S3.Prefix})
}
