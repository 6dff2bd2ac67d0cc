package evidence

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// parseKeyBytes decodes an Ed25519 key from PEM (PKCS #8 / PKIX), base64 or
// hex. A 32-byte raw value is a seed when private is set, else a public key.
func parseKeyBytes(data []byte, private bool) (any, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, errors.New("evidence: empty key")
	}
	if blk, _ := pem.Decode(data); blk != nil {
		switch blk.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("evidence: PEM private key: %w", err)
			}
			return k, nil
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("evidence: PEM public key: %w", err)
			}
			return k, nil
		}
		return nil, fmt.Errorf("evidence: PEM block %q, want PRIVATE KEY or PUBLIC KEY", blk.Type)
	}
	raw, err := hex.DecodeString(string(data))
	if err != nil {
		raw, err = base64.StdEncoding.DecodeString(string(data))
	}
	if err != nil {
		return nil, errors.New("evidence: key is neither PEM, hex nor base64")
	}
	switch {
	case len(raw) == ed25519.SeedSize && private:
		return ed25519.NewKeyFromSeed(raw), nil
	case len(raw) == ed25519.PublicKeySize:
		return ed25519.PublicKey(raw), nil
	case len(raw) == ed25519.PrivateKeySize:
		return ed25519.PrivateKey(raw), nil
	}
	return nil, fmt.Errorf("evidence: key of %d bytes, want 32 or 64", len(raw))
}
