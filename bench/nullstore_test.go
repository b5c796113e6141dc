package bench

import (
	"context"
	"time"

	"github.com/sessionkit/sessionkit"
)

// nullStore holds the one session the benchmark seeds and writes nothing:
// a request through the Manager over it costs the Manager's work alone.
type nullStore struct {
	meta   sessionkit.Meta
	values *nullValues
}

// nullValues are the session's values and their size, counted once.
type nullValues struct {
	m    map[string][]byte
	size int
}

func (v *nullValues) Value(k string) ([]byte, bool) {
	b, ok := v.m[k]
	return b, ok
}

func (v *nullValues) All(yield func(string, []byte) bool) {
	for k, b := range v.m {
		if !yield(k, b) {
			return
		}
	}
}

func (v *nullValues) Size() int { return v.size }

func (s *nullStore) LoadLazy(context.Context, sessionkit.Token) (sessionkit.Meta, sessionkit.Values, bool, error) {
	return s.meta, s.values, true, nil
}

func (s *nullStore) LazyStore() sessionkit.Store { return s }

func (s *nullStore) Load(context.Context, sessionkit.Token) (sessionkit.Record, bool, error) {
	return sessionkit.Record{Meta: s.meta, Values: s.values.m}, true, nil
}

func (s *nullStore) Create(_ context.Context, t sessionkit.Token, rec sessionkit.Record) (sessionkit.Token, error) {
	s.meta, s.values = rec.Meta, &nullValues{m: rec.Values}
	for k, b := range rec.Values {
		s.values.size += len(k) + len(b)
	}
	return t, nil
}

func (s *nullStore) Commit(_ context.Context, t sessionkit.Token, _ sessionkit.Delta) (sessionkit.Token, error) {
	return t, nil
}

func (s *nullStore) Touch(_ context.Context, t sessionkit.Token, _ time.Time) (sessionkit.Token, error) {
	return t, nil
}

func (s *nullStore) Renew(_ context.Context, _, next sessionkit.Token) (sessionkit.Token, error) {
	return next, nil
}

func (s *nullStore) Update(_ context.Context, t sessionkit.Token, _ string, _ time.Time, _ sessionkit.UpdateFunc) (sessionkit.Token, error) {
	return t, nil
}

func (s *nullStore) Delete(context.Context, sessionkit.Token) error { return nil }
