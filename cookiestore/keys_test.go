package cookiestore_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/cookiestore"
)

func TestParseKeys(t *testing.T) {
	raw, _ := hex.DecodeString(hexKey1)
	for _, s := range []string{
		hexKey1,
		strings.ToUpper(hexKey1),
		base64.StdEncoding.EncodeToString(raw),
		base64.RawStdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
	} {
		k, err := cookiestore.ParseKeys(s)
		if err != nil || len(k) != 1 || string(k[0].Secret) != string(raw) || k[0].OpenOnly {
			t.Fatalf("ParseKeys(%.10s...) = %v, %v", s, k, err)
		}
	}
	k, err := cookiestore.ParseKeys(" " + hexKey2 + ",\n open:" + hexKey1 + " ")
	if err != nil || len(k) != 2 || k[0].OpenOnly || !k[1].OpenOnly {
		t.Fatalf("a ring of two: %v, %v", k, err)
	}
	if _, err := cookiestore.New(cookiestore.Config{Keys: k}); err != nil {
		t.Fatalf("New: %v", err)
	}
	k, err = cookiestore.ParseKeys(cookiestore.GenerateKey())
	if err != nil || len(k) != 1 {
		t.Fatalf("a generated key: %v", err)
	}
}

func TestBadKeys(t *testing.T) {
	for s, want := range map[string]string{
		hexKey1[:32]:   "16 bytes, want 32",
		hexKey1 + "00": "33 bytes, want 32",
		base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 24)): "24 bytes, want 32",
		"not-a-key!":                 "neither hex nor base64",
		hexKey1 + "," + hexKey1[:10]: "key 2",
	} {
		_, err := cookiestore.ParseKeys(s)
		if !errors.Is(err, cookiestore.ErrBadKey) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseKeys(%.12q): %v, want ErrBadKey saying %q", s, err, want)
		}
		if err != nil && strings.Contains(err.Error(), hexKey1[:16]) {
			t.Errorf("the error shows the key: %v", err)
		}
	}
	for s, want := range map[string]error{
		"":                           cookiestore.ErrNoKey,
		"open:" + hexKey1:            cookiestore.ErrNoKey,
		hexKey1 + "," + hexKey2:      cookiestore.ErrNoKey,
		hexKey1 + ",open:" + hexKey1: cookiestore.ErrBadKey,
	} {
		k, err := cookiestore.ParseKeys(s)
		if err == nil {
			_, err = cookiestore.New(cookiestore.Config{Keys: k})
		}
		if !errors.Is(err, want) {
			t.Errorf("keys %.12q: %v, want %v", s, err, want)
		}
	}
	if _, err := cookiestore.New(cookiestore.Config{Keys: []cookiestore.Key{{Secret: make([]byte, 16)}}}); !errors.Is(err, cookiestore.ErrBadKey) {
		t.Errorf("a 16-byte Secret: %v", err)
	}
	if _, err := cookiestore.New(cookiestore.Config{Keys: keys(t, hexKey1), RevokeSessions: true}); !errors.Is(err, cookiestore.ErrConfig) {
		t.Errorf("RevokeSessions without Generations: %v", err)
	}
}
